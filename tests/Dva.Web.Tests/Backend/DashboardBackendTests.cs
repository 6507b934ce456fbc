using Dva.Manager.Services;
using Dva.Web.Backend;

namespace Dva.Web.Tests.Backend;

public sealed class DashboardBackendTests(ManagerHost host) : IClassFixture<ManagerHost>
{
    private DashboardFactory Factory => host.Factory;

    [Fact]
    public async Task AddFirewallRule_AsViewer_IsRefusedAndChangesNothing()
    {
        var dva = await Factory.CreateDvaAsync("viewer-refused");
        var viewer = Factory.BackendAs(DashboardRoles.Viewer);

        var result = await viewer.AddFirewallRuleAsync(dva.Id, new FirewallRuleForm { Action = "drop" }, CancellationToken.None);

        Assert.False(result.Succeeded);
        Assert.Contains("operator", result.Message, StringComparison.Ordinal);
        Assert.Empty((await viewer.GetFirewallRulesAsync(dva.Id, CancellationToken.None))!.Rules);
    }

    [Fact]
    public async Task AddFirewallRule_AsOperator_IsAuditedUnderTheDashboardUsersName()
    {
        var dva = await Factory.CreateDvaAsync("audited-rule");
        var backend = Factory.BackendAs(DashboardRoles.Operator, "key:alice");

        var result = await backend.AddFirewallRuleAsync(dva.Id, new FirewallRuleForm { Action = "drop", Protocol = "tcp", DestinationPorts = "23" }, CancellationToken.None);

        Assert.True(result.Succeeded, result.Message);
        var audit = await backend.GetAuditAsync(dva.Id, 1, 10, CancellationToken.None);
        var entry = audit.Items.First(e => e.TargetType == "firewallRule");
        Assert.Equal("key:alice", entry.Actor);
        Assert.Equal("create", entry.Operation);
    }

    [Fact]
    public async Task AddFirewallRule_InvalidFields_ReturnsTheServicesFieldErrors()
    {
        var dva = await Factory.CreateDvaAsync("rule-errors");
        var backend = Factory.BackendAs(DashboardRoles.Operator);

        var result = await backend.AddFirewallRuleAsync(dva.Id,
            new FirewallRuleForm { Source = "203.0.113.1/16", Protocol = "icmp", DestinationPorts = "80", IngressVlan = 4095 }, CancellationToken.None);

        Assert.False(result.Succeeded);
        Assert.Contains("host bits", result.ErrorFor("source"), StringComparison.Ordinal);
        Assert.Contains("tcp, udp or sctp", result.ErrorFor("destinationPorts"), StringComparison.Ordinal);
        Assert.Contains("VLAN id", result.ErrorFor("ingressVlan"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task MoveFirewallRule_Down_SwapsTheOrderUnderTheListETag()
    {
        var dva = await Factory.CreateDvaAsync("move-rules");
        var backend = Factory.BackendAs(DashboardRoles.Operator);
        foreach (var description in new[] { "first", "second", "third" })
        {
            Assert.True((await backend.AddFirewallRuleAsync(dva.Id, new FirewallRuleForm { Description = description }, CancellationToken.None)).Succeeded);
        }

        var list = (await backend.GetFirewallRulesAsync(dva.Id, CancellationToken.None))!;
        var moved = await backend.MoveFirewallRuleAsync(dva.Id, list.Rules[0].Id, 1, list.Version, CancellationToken.None);
        var stale = await backend.MoveFirewallRuleAsync(dva.Id, list.Rules[1].Id, 1, list.Version, CancellationToken.None);

        Assert.True(moved.Succeeded, moved.Message);
        Assert.False(stale.Succeeded);
        Assert.Contains("changed by someone else", stale.Message, StringComparison.Ordinal);
        var after = (await backend.GetFirewallRulesAsync(dva.Id, CancellationToken.None))!;
        Assert.Equal(["second", "first", "third"], after.Rules.Select(r => r.Spec.Description));
        Assert.Equal([10, 20, 30], after.Rules.Select(r => r.Priority));
    }

    [Fact]
    public async Task SetFirewallRuleEnabled_StaleVersion_IsRefused()
    {
        var dva = await Factory.CreateDvaAsync("toggle-rule");
        var backend = Factory.BackendAs(DashboardRoles.Operator);
        await backend.AddFirewallRuleAsync(dva.Id, new FirewallRuleForm(), CancellationToken.None);
        var rule = (await backend.GetFirewallRulesAsync(dva.Id, CancellationToken.None))!.Rules[0];

        var disabled = await backend.SetFirewallRuleEnabledAsync(dva.Id, rule.Id, false, rule.Version, CancellationToken.None);
        var stale = await backend.SetFirewallRuleEnabledAsync(dva.Id, rule.Id, true, rule.Version, CancellationToken.None);

        Assert.True(disabled.Succeeded);
        Assert.False(stale.Succeeded);
        Assert.False((await backend.GetFirewallRulesAsync(dva.Id, CancellationToken.None))!.Rules[0].Spec.Enabled);
    }

    [Fact]
    public async Task ChangeUnit_DrainThenEnable_MovesTheNodesState()
    {
        var dva = await Factory.CreateDvaAsync("drain-unit");
        var node = await Factory.AddNodeAsync(dva.Id, $"dp-{Guid.NewGuid():N}"[..12], Manager.Model.NodeRole.DataPlane, "127.0.0.1:7001");
        var backend = Factory.BackendAs(DashboardRoles.Operator);

        Assert.True((await backend.ChangeUnitAsync(node.Id, UnitAction.Drain, node.Version, CancellationToken.None)).Succeeded);
        var drained = (await backend.GetDvaAsync(dva.Id, CancellationToken.None))!.Units.Single();
        Assert.Equal("draining", drained.State);
        Assert.True((await backend.ChangeUnitAsync(node.Id, UnitAction.Enable, drained.Version, CancellationToken.None)).Succeeded);
        Assert.Equal("active", (await backend.GetDvaAsync(dva.Id, CancellationToken.None))!.Units.Single().State);
    }

    [Fact]
    public async Task Scale_OutsideThePolicy_ReturnsTheFieldError()
    {
        var dva = await Factory.CreateDvaAsync("scale-policy");
        var backend = Factory.BackendAs(DashboardRoles.Operator);

        var result = await backend.ScaleAsync(dva.Id, 99, dva.Version, CancellationToken.None);

        Assert.Contains("1..8", result.ErrorFor("dataPlanes"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Authenticate_KnownAndUnknownKeys_GivesTheKeysRoleOrNothing()
    {
        var viewerKey = await Factory.CreateKeyAsync(Manager.Model.ApiRole.Viewer);
        var backend = Factory.BackendAs(DashboardRoles.Viewer);

        var admin = await backend.AuthenticateAsync(DashboardFactory.AdminKey, CancellationToken.None);
        var viewer = await backend.AuthenticateAsync(viewerKey, CancellationToken.None);
        var nobody = await backend.AuthenticateAsync(viewerKey + "x", CancellationToken.None);

        Assert.Equal(DashboardRoles.Admin, admin!.Role);
        Assert.Equal(DashboardRoles.Viewer, viewer!.Role);
        Assert.False(viewer.CanChange);
        Assert.Null(nobody);
    }

    [Fact]
    public async Task GetEras_StoredAndLiveVersions_AreJoinedNewestFirst()
    {
        var dva = await Factory.CreateDvaAsync("eras-joined");
        var node = await Factory.AddNodeAsync(dva.Id, $"dp-{Guid.NewGuid():N}"[..12], Manager.Model.NodeRole.DataPlane, "127.0.0.1:7002");
        var table = DashboardFactory.FirstTable(Guid.NewGuid(), 256, [node], "first table");
        await Factory.WithServiceAsync<TableHistoryService, ServiceResult<TableVersionView>>(
            t => t.RecordAsync(dva.Id, 1, "first table", [1, 2, 3], CancellationToken.None));
        Factory.Live.SetTable(dva.Id, table, TimeSpan.FromMilliseconds(120), 256);
        var second = table.Next([DashboardFactory.Peer(node)], DateTimeOffset.UtcNow, "weights", out int moved);
        Factory.Live.SetTable(dva.Id, second, TimeSpan.FromMilliseconds(90), moved);

        var eras = await Factory.BackendAs(DashboardRoles.Viewer).GetErasAsync(dva.Id, CancellationToken.None);

        Assert.Equal([2UL, 1UL], eras.Select(e => e.Version));
        Assert.False(eras[0].Stored);
        Assert.True(eras[1].Stored);
        Assert.Equal(256, eras[1].MovedBuckets);
        Assert.Equal(TimeSpan.FromMilliseconds(120), eras[1].RolloutDuration);
    }
}
