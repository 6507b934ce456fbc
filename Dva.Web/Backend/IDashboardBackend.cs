using Dva.Shared.Tables;

namespace Dva.Web.Backend;

/// <summary>
/// Everything the dashboard reads and changes, implemented by the manager over its own services, so a page
/// gets the same validation, audit entries and ETag checks as the REST API. Changes need the operator role:
/// the implementation checks the signed-in user itself, whatever a page shows.
/// </summary>
public interface IDashboardBackend
{
    /// <summary>The key holder behind an API key, or null when the key is unknown or revoked.</summary>
    Task<DashboardUser?> AuthenticateAsync(string apiKey, CancellationToken ct);

    /// <summary>The signed-in user of this circuit or request; null when nobody is signed in.</summary>
    Task<DashboardUser?> CurrentUserAsync();

    Task<IReadOnlyList<DvaSummary>> ListDvasAsync(CancellationToken ct);

    Task<DvaDetail?> GetDvaAsync(long dvaId, CancellationToken ct);

    /// <summary>Creates a DVA and its interfaces; on any error nothing is left behind.</summary>
    Task<ChangeResult> CreateDvaAsync(DvaCreateRequest request, CancellationToken ct);

    Task<ChangeResult> ScaleAsync(long dvaId, int dataPlanes, long version, CancellationToken ct);

    Task<ChangeResult> ChangeUnitAsync(long nodeKey, UnitAction action, long version, CancellationToken ct);

    Task<FirewallRuleList?> GetFirewallRulesAsync(long dvaId, CancellationToken ct);

    Task<ChangeResult> AddFirewallRuleAsync(long dvaId, FirewallRuleForm rule, CancellationToken ct);

    Task<ChangeResult> ReplaceFirewallRuleAsync(long dvaId, long ruleId, FirewallRuleForm rule, long version, CancellationToken ct);

    Task<ChangeResult> SetFirewallRuleEnabledAsync(long dvaId, long ruleId, bool enabled, long version, CancellationToken ct);

    Task<ChangeResult> DeleteFirewallRuleAsync(long dvaId, long ruleId, long version, CancellationToken ct);

    /// <summary>Moves a rule one place up (-1) or down (+1) by replacing the ordered list under its ETag.</summary>
    Task<ChangeResult> MoveFirewallRuleAsync(long dvaId, long ruleId, int direction, long listVersion, CancellationToken ct);

    Task<LoadBalancerView?> GetLoadBalancerAsync(long dvaId, CancellationToken ct);

    Task<ChangeResult> SetMemberStateAsync(long dvaId, long poolId, long memberId, string adminState, long version, CancellationToken ct);

    /// <summary>Adds a shared interface (<paramref name="interfaceId"/> null) or replaces one under its ETag.</summary>
    Task<ChangeResult> SaveInterfaceAsync(long dvaId, long? interfaceId, InterfaceForm form, long version, CancellationToken ct);

    Task<ChangeResult> DeleteInterfaceAsync(long dvaId, long interfaceId, long version, CancellationToken ct);

    /// <summary>The DVA's static routes; null when the DVA does not exist.</summary>
    Task<IReadOnlyList<StaticRouteRow>?> GetRoutesAsync(long dvaId, CancellationToken ct);

    /// <summary>Adds a static route (<paramref name="routeId"/> null) or replaces one under its ETag.</summary>
    Task<ChangeResult> SaveRouteAsync(long dvaId, long? routeId, RouteForm form, long version, CancellationToken ct);

    Task<ChangeResult> DeleteRouteAsync(long dvaId, long routeId, long version, CancellationToken ct);

    Task<ChangeResult> AddVipAsync(long dvaId, VipForm form, CancellationToken ct);

    Task<ChangeResult> DeleteVipAsync(long dvaId, long vipId, CancellationToken ct);

    Task<ChangeResult> AddPoolAsync(long dvaId, PoolForm form, CancellationToken ct);

    Task<ChangeResult> DeletePoolAsync(long dvaId, long poolId, CancellationToken ct);

    Task<ChangeResult> AddMemberAsync(long dvaId, long poolId, MemberForm form, CancellationToken ct);

    /// <summary>Changes one member's weight by replacing the pool's member list under the pool's ETag.</summary>
    Task<ChangeResult> SetMemberWeightAsync(long dvaId, long poolId, long memberId, int weight, long version, CancellationToken ct);

    Task<ChangeResult> RemoveMemberAsync(long dvaId, long poolId, long memberId, CancellationToken ct);

    /// <summary>Every API key (never a secret); null unless the signed-in user is an admin.</summary>
    Task<IReadOnlyList<ApiKeyRow>?> ListApiKeysAsync(CancellationToken ct);

    /// <summary>Creates a key (admin only); the secret comes back this once.</summary>
    Task<CreatedKey> CreateApiKeyAsync(ApiKeyForm form, CancellationToken ct);

    /// <summary>Revokes a key (admin only): it stops working at once, in the API and in any dashboard session.</summary>
    Task<ChangeResult> RevokeApiKeyAsync(long keyId, CancellationToken ct);

    Task<AuditPage> GetAuditAsync(long? dvaId, int page, int pageSize, CancellationToken ct);

    /// <summary>Table versions of a DVA: the stored history joined with what the rollouts reported live.</summary>
    Task<IReadOnlyList<EraView>> GetErasAsync(long dvaId, CancellationToken ct);

    // Live data: memory only, never the database, cheap enough to read on every render.

    /// <summary>Calls <paramref name="onChange"/> (on another thread) whenever live data changes.</summary>
    IDisposable SubscribeLive(Action onChange);

    UnitLive? GetUnitLive(long nodeKey);

    IReadOnlyList<ChartPoint> GetUnitChart(long nodeKey);

    IReadOnlyList<FlowRow> GetFlows(long dvaId);

    TableVersion? GetCurrentTable(long dvaId);

    IReadOnlyDictionary<long, RuleHits> GetRuleHits(long dvaId);

    /// <summary>Live counters of the DVA's load balancer members, summed over VIPs and data planes, keyed by <see cref="MemberLive.Key"/>.</summary>
    IReadOnlyDictionary<string, MemberLive> GetMemberLive(long dvaId);
}
