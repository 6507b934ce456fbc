using Dva.Manager.Model;
using Dva.Manager.Rollout;

namespace Dva.Manager.Tests.Rollout;

/// <summary>How one pass's confirmations turn into a child's status, without a manager.</summary>
public sealed class ChildProvisioningUpdateTests
{
    private static readonly UnitConfirmations AllThree = new(3, [], []);

    [Fact]
    public void Update_EveryUnitConfirmed_ActiveOnlineAndTheVersionStays()
    {
        var rule = new FirewallRule { Version = 4, Generation = 2, ObservedGeneration = 1 };

        ChildProvisioning.Update(rule, null, AllThree);

        var status = rule.GetStatus();
        Assert.Equal(ProvisioningStatus.Active, status.ProvisioningStatus);
        Assert.Equal(OperatingStatus.Online, status.OperatingStatus);
        Assert.Equal(2, rule.ObservedGeneration);
        Assert.Equal(4, rule.Version);
    }

    [Fact]
    public void Update_AnUpdateNotConfirmedEverywhere_PendingUpdateDegradedNamingTheUnits()
    {
        var rule = new FirewallRule { Generation = 2, ObservedGeneration = 1 };

        ChildProvisioning.Update(rule, null, new UnitConfirmations(3, [5, 7], []));

        var status = rule.GetStatus();
        Assert.Equal(ProvisioningStatus.PendingUpdate, status.ProvisioningStatus);
        Assert.Equal(OperatingStatus.Degraded, status.OperatingStatus);
        Assert.Contains(status.Conditions, c => c.Reason == "AwaitingUnits" && c.Message.Contains("node 5, 7", StringComparison.Ordinal));
        Assert.Equal(1, rule.ObservedGeneration);
    }

    [Fact]
    public void Update_AUnitOverdue_ErrorUntilItConfirms()
    {
        var rule = new FirewallRule { Generation = 1, ObservedGeneration = 0 };

        ChildProvisioning.Update(rule, null, new UnitConfirmations(3, [5], [5]));
        var overdue = rule.GetStatus();
        ChildProvisioning.Update(rule, null, AllThree);

        Assert.Equal(ProvisioningStatus.Error, overdue.ProvisioningStatus);
        Assert.Contains(overdue.Conditions, c => c.Reason == ChildProvisioning.NotConfirmed);
        Assert.Equal(ProvisioningStatus.Active, rule.GetStatus().ProvisioningStatus);
    }

    [Fact]
    public void Update_AnActiveChildAndANewUnitOverdue_StaysActiveButDegraded()
    {
        var rule = new FirewallRule { Generation = 1, ObservedGeneration = 1 };

        ChildProvisioning.Update(rule, null, new UnitConfirmations(3, [9], [9]));

        Assert.Equal(ProvisioningStatus.Active, rule.GetStatus().ProvisioningStatus);
        Assert.Equal(OperatingStatus.Degraded, rule.OperatingStatus);
    }

    [Fact]
    public void Update_CannotApply_ErrorOfflineWhateverTheUnitsSay()
    {
        var vip = new Vip { Generation = 1 };

        ChildProvisioning.Update(vip, Blocked.Error("the DVA's service kind runs no load balancer"), AllThree);

        Assert.Equal(ProvisioningStatus.Error, vip.GetStatus().ProvisioningStatus);
        Assert.Equal(OperatingStatus.Offline, vip.OperatingStatus);
        Assert.Equal(0, vip.ObservedGeneration);
    }

    [Fact]
    public void Update_NoUnitYet_PendingCreate()
    {
        var route = new StaticRoute { Generation = 1 };

        ChildProvisioning.Update(route, null, new UnitConfirmations(0, [], []));

        Assert.Equal(ProvisioningStatus.PendingCreate, route.GetStatus().ProvisioningStatus);
        Assert.Contains(route.GetStatus().Conditions, c => c.Reason == "NoUnits");
    }

    [Fact]
    public void Update_MemberOperatingStatus_IsLeftToTheHealthCheck()
    {
        var member = new Member { Generation = 1, OperatingStatus = OperatingStatus.Offline };

        ChildProvisioning.Update(member, null, AllThree, writeOperating: false);

        Assert.Equal(ProvisioningStatus.Active, member.GetStatus().ProvisioningStatus);
        Assert.Equal(OperatingStatus.Offline, member.OperatingStatus);
    }
}
