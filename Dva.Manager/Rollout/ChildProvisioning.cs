using Dva.Manager.Infrastructure;
using Dva.Manager.Model;
using Microsoft.EntityFrameworkCore;

namespace Dva.Manager.Rollout;

/// <summary>
/// What the units of a DVA confirmed in one reconcile pass. A unit has confirmed once it acked a table sent after
/// the assignment it runs (the agent handles hub messages in order, so the ack comes after the assignment was
/// applied). <paramref name="Overdue"/> units have not confirmed within the ack timeout. <paramref name="RoleErrors"/>:
/// units whose heartbeat says they do not run the role of their assignment, as "node N: why" (they are unconfirmed too).
/// </summary>
internal sealed record UnitConfirmations(int Units, IReadOnlyList<int> Unconfirmed, IReadOnlyList<int> Overdue, IReadOnlyList<string>? RoleErrors = null)
{
    public bool Everywhere => Units > 0 && Unconfirmed.Count == 0;
}

/// <summary>
/// The provisioning status of a DVA's child objects (interfaces, routes, firewall rules, VIPs, pools, members),
/// written by the fleet reconciler with the DVA's own status: a child's generation is observed once every unit of
/// the DVA confirmed the assignment built in the same pass from that generation (the condition the DVA's
/// observedGeneration waits for: the change reached the data path). Only status columns change: the Version (the
/// ETag) stays, so an operator's If-Match does not go stale because the reconciler wrote status.
/// </summary>
internal static class ChildProvisioning
{
    /// <summary>The condition this class writes on every child.</summary>
    public const string Applied = ManagedEntity.AppliedCondition;

    /// <summary>Reason of an <see cref="Applied"/> = False that <see cref="ManagedEntity.GetStatus"/> reports as ERROR.</summary>
    public const string CannotApply = ManagedEntity.CannotApplyReason;

    /// <summary>Reason of an <see cref="Applied"/> = False that <see cref="ManagedEntity.GetStatus"/> reports as ERROR.</summary>
    public const string NotConfirmed = ManagedEntity.NotConfirmedReason;

    /// <summary>
    /// The DVA's children, loaded through the pass's context before it builds the assignments: the assignments are
    /// built from these same tracked instances (EF hands them back to later queries), so the generation observed is
    /// the one the units received. A child created later in the pass is not in this set and waits for the next pass;
    /// a REST write in between changes Version and makes this pass's save fail, and the next pass starts again.
    /// </summary>
    public static async Task<DvaChildren> LoadAsync(ManagerDbContext db, long dvaKey, CancellationToken ct) => new(
        await db.Interfaces.Where(e => e.DvaId == dvaKey).ToListAsync(ct),
        await db.Routes.Where(e => e.DvaId == dvaKey).ToListAsync(ct),
        await db.FirewallRules.Where(e => e.DvaId == dvaKey).ToListAsync(ct),
        await db.Vips.Where(e => e.DvaId == dvaKey).ToListAsync(ct),
        await db.Pools.Where(e => e.DvaId == dvaKey).ToListAsync(ct),
        await db.Members.Where(e => e.DvaId == dvaKey).ToListAsync(ct));

    /// <summary>Brings the status of every child of <paramref name="dva"/> in line with <paramref name="units"/>.</summary>
    public static void Update(Appliance dva, DvaChildren children, UnitConfirmations units)
    {
        ArgumentNullException.ThrowIfNull(dva);
        ArgumentNullException.ThrowIfNull(children);
        var attached = children.Interfaces.Where(i => i.AttachmentNodeName.Length > 0).Select(i => i.Ifid).ToHashSet();
        var used = children.Vips.Select(v => v.PoolId).ToHashSet();
        var firewall = dva.ServiceKind is ServiceKind.Firewall or ServiceKind.FirewallAndLoadBalancer;
        var loadBalancer = dva.ServiceKind is ServiceKind.LoadBalancer or ServiceKind.FirewallAndLoadBalancer;
        const string noLoadBalancer = "the DVA's service kind runs no load balancer; change the DVA's serviceKind to apply it";

        foreach (var i in children.Interfaces)
        {
            Update(i, i.AttachmentNodeName.Length == 0 ? Blocked.Pending("NotAttached", "no dispatcher is named in the attachment") : null, units);
        }

        foreach (var r in children.Routes)
        {
            Update(r, attached.Contains(r.Ifid) ? null : Blocked.Pending("NotAttached", $"interface {r.Ifid} is not attached to a dispatcher"), units);
        }

        foreach (var rule in children.Rules)
        {
            Update(rule, firewall ? null : Blocked.Error("the DVA's service kind runs no firewall; change the DVA's serviceKind to apply it"), units);
        }

        foreach (var vip in children.Vips)
        {
            Update(vip, loadBalancer ? null : Blocked.Error(noLoadBalancer), units);
        }

        foreach (var pool in children.Pools)
        {
            Update(pool, !loadBalancer ? Blocked.Error(noLoadBalancer) : used.Contains(pool.Id) ? null : Blocked.Pending("NoVip", "no VIP uses this pool"), units);
        }

        foreach (var member in children.Members)
        {
            // A member's operating status is its health check's (MemberService.SetHealthAsync), not the rollout's.
            Update(member, !loadBalancer ? Blocked.Error(noLoadBalancer) : used.Contains(member.PoolId) ? null : Blocked.Pending("NoVip", "no VIP uses its pool"),
                units, writeOperating: false);
        }
    }

    /// <summary>One child: observed, waiting for units, or an error, with the one <see cref="Applied"/> condition that says why.</summary>
    public static void Update(ManagedEntity child, Blocked? blocked, UnitConfirmations units, bool writeOperating = true)
    {
        ArgumentNullException.ThrowIfNull(child);
        ArgumentNullException.ThrowIfNull(units);
        StatusCondition condition;
        OperatingStatus operating;
        if (blocked is not null)
        {
            condition = new(Applied, "False", blocked.Reason, blocked.Message);
            operating = OperatingStatus.Offline;
        }
        else if (units.Units == 0)
        {
            condition = new(Applied, "False", "NoUnits", "no unit runs the DVA yet");
            operating = OperatingStatus.Offline;
        }
        else if (units.Everywhere)
        {
            child.ObservedGeneration = child.Generation;
            condition = new(Applied, "True", "OnEveryUnit", $"generation {child.Generation} runs on every unit of the DVA ({units.Units})");
            operating = OperatingStatus.Online;
        }
        else if (units.RoleErrors is { Count: > 0 } failed && child.ObservedGeneration < child.Generation)
        {
            // The unit got the configuration and says it cannot run it: waiting longer would not change that.
            condition = new(Applied, "False", NotConfirmed, $"not running on every unit: {string.Join("; ", failed)}");
            operating = child.ObservedGeneration == 0 ? OperatingStatus.Offline : OperatingStatus.Degraded;
        }
        else if (units.Overdue.Count > 0 && child.ObservedGeneration < child.Generation)
        {
            condition = new(Applied, "False", NotConfirmed,
                $"node {string.Join(", ", units.Overdue)} has not confirmed the configuration with generation {child.Generation} within the ack timeout");
            operating = child.ObservedGeneration == 0 ? OperatingStatus.Offline : OperatingStatus.Degraded;
        }
        else
        {
            condition = new(Applied, "False", "AwaitingUnits", $"node {string.Join(", ", units.Unconfirmed)} has not confirmed the configuration yet");
            operating = child.ObservedGeneration == 0 ? OperatingStatus.Offline : OperatingStatus.Degraded;
        }

        if (child.Conditions is not [var only] || only != condition)
        {
            child.Conditions = [condition];
        }

        if (writeOperating && child.OperatingStatus != operating)
        {
            child.OperatingStatus = operating;
        }
    }
}

/// <summary>A DVA's child objects as one reconcile pass loaded them.</summary>
internal sealed record DvaChildren(
    IReadOnlyList<SharedInterface> Interfaces,
    IReadOnlyList<StaticRoute> Routes,
    IReadOnlyList<FirewallRule> Rules,
    IReadOnlyList<Vip> Vips,
    IReadOnlyList<Pool> Pools,
    IReadOnlyList<Member> Members);

/// <summary>Why a child cannot reach the units now: an error the operator must fix, or a wait for something else.</summary>
internal sealed record Blocked(string Reason, string Message)
{
    public static Blocked Error(string message) => new(ChildProvisioning.CannotApply, message);

    public static Blocked Pending(string reason, string message) => new(reason, message);
}
