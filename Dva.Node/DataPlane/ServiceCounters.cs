using System.Net;
using System.Net.Sockets;
using Dva.Node.Services.Firewall;
using Dva.Node.Services.LoadBalancer;
using Dva.Shared.Contracts;

namespace Dva.Node.DataPlane;

/// <summary>
/// The services' counters as the control API and the heartbeat carry them. Every counter is an interlocked value
/// owned by the compiled configuration, so this reads from any thread without posting to the engine.
/// </summary>
internal static class ServiceCounters
{
    /// <summary>Every rule in evaluation order, then the default policy; empty when no firewall is configured.</summary>
    public static IReadOnlyList<RuleHitCount> Rules(RuleSet? rules) => rules is null
        ? []
        : [.. rules.Counters.Snapshot().Select(c => new RuleHitCount(c.RuleId, c.IsDefault, c.Evaluations, c.Flows, c.Packets, c.Bytes))];

    /// <summary>Every VIP in configuration order with its members.</summary>
    public static IReadOnlyList<VipCounters> Vips(LoadBalancerConfig config) =>
        [.. config.Entries.Select(v => new VipCounters(
            $"{Endpoint(v.Vip.Address, v.Vip.Port)}/{DataPlaneRole.ProtocolName(v.Vip.Protocol)}",
            v.ActiveFlows.Count, v.ActiveFlows.Total, v.ActiveFlows.Bytes,
            [.. v.Members.Select(m => new MemberCounters(Endpoint(m.Member.Address, m.Port), m.ActiveFlows.Count, m.ActiveFlows.Total, m.ActiveFlows.Bytes))]))];

    private static string Endpoint(IPAddress address, ushort port) =>
        address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]:{port}" : $"{address}:{port}";
}
