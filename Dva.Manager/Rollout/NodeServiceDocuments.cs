using System.Text.Json;
using Dva.Manager.Infrastructure;
using Dva.Manager.Model;
using Microsoft.EntityFrameworkCore;

namespace Dva.Manager.Rollout;

/// <summary>
/// The <c>firewall</c> and <c>loadBalancer</c> sections a data plane's assignment carries (the node reads them as
/// Dva.Node/Config/ServiceConfig.cs: field names must stay in step). Without them a DVA configured over REST would
/// run data planes that accept everything and balance nothing.
/// </summary>
internal sealed record NodeServices(FirewallDocument? Firewall, LoadBalancerDocument? LoadBalancer)
{
    public static readonly NodeServices None = new(null, null);

    /// <summary>The DVA's rules, VIPs, pools and members as the data planes should enforce them.</summary>
    public static async Task<NodeServices> LoadAsync(ManagerDbContext db, Appliance dva, CancellationToken ct)
    {
        FirewallDocument? firewall = null;
        if (dva.ServiceKind is ServiceKind.Firewall or ServiceKind.FirewallAndLoadBalancer)
        {
            var rules = await db.FirewallRules.Where(r => r.DvaId == dva.Id).ToListAsync(ct);
            firewall = new FirewallDocument(
                Name(dva.FirewallDefaultPolicy), Name(dva.MidStreamPolicy),
                [.. rules.OrderBy(r => r.Priority).ThenBy(r => r.Id).Select(Rule)]);
        }

        LoadBalancerDocument? loadBalancer = null;
        if (dva.ServiceKind is ServiceKind.LoadBalancer or ServiceKind.FirewallAndLoadBalancer)
        {
            var vips = await db.Vips.Where(v => v.DvaId == dva.Id).ToListAsync(ct);
            var pools = await db.Pools.Where(p => p.DvaId == dva.Id).ToDictionaryAsync(p => p.Id, ct);
            var poolIds = pools.Keys.ToList();
            var members = (await db.Members.Where(m => poolIds.Contains(m.PoolId)).ToListAsync(ct)).ToLookup(m => m.PoolId);
            loadBalancer = new LoadBalancerDocument(
                [.. vips.Where(v => pools.ContainsKey(v.PoolId)).OrderBy(v => v.Id).Select(v => new VipDocument(
                    v.Address, v.Port, Name(v.Protocol), Name(pools[v.PoolId].Method), pools[v.PoolId].Name,
                    [.. members[v.PoolId].OrderBy(m => m.Id).Select(m => new MemberDocument(m.Address, m.Port, m.Weight, MemberState(m)))]))]);
        }

        return new NodeServices(firewall, loadBalancer);
    }

    internal static RuleDocument Rule(FirewallRule r) => new(
        checked((int)r.Id), r.Priority, Name(r.Action), r.Protocol == RuleProtocol.Any ? null : r.Protocol.ToString().ToLowerInvariant(),
        Blank(r.Source), Blank(r.Destination), Blank(r.SourcePorts), Blank(r.DestinationPorts), r.IngressIfid, r.IcmpType, r.Enabled,
        Blank(r.Description), r.Vlan.IngressVlan);

    /// <summary>A member whose health check failed takes no new flow, like one the operator disabled.</summary>
    private static string MemberState(Member m) => m.Health == MemberHealth.Down ? "disabled" : Name(m.AdminState);

    private static string? Blank(string value) => value.Length == 0 ? null : value;

    private static string Name<TEnum>(TEnum value)
        where TEnum : struct, Enum => JsonNamingPolicy.CamelCase.ConvertName(value.ToString());
}

internal sealed record FirewallDocument(string DefaultAction, string MidStream, IReadOnlyList<RuleDocument> Rules);

internal sealed record RuleDocument(
    int Id, int Priority, string Action, string? Protocol, string? Source, string? Destination, string? SourcePorts, string? DestinationPorts,
    int? Ifid, int? IcmpType, bool Enabled, string? Description, int? Vlan = null);

/// <summary>No SNAT list: each data plane uses the egress interface's first shared address.</summary>
internal sealed record LoadBalancerDocument(IReadOnlyList<VipDocument> Vips);

internal sealed record VipDocument(string Address, int Port, string Protocol, string Method, string Pool, IReadOnlyList<MemberDocument> Members);

internal sealed record MemberDocument(string Address, int Port, int Weight, string State);
