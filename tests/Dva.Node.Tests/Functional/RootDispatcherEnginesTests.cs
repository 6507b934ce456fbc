using Dva.Node.Agent;

namespace Dva.Node.Tests.Functional;

/// <summary>
/// A dispatcher on two engines (<c>"engines": 2</c>) facing real Linux hosts (<see cref="RootDispatcherLab"/>): each
/// engine opened its own <c>afpacket:</c> socket on both veth ends (the server side's a PACKET_MMAP ring), joined to the
/// interface's PACKET_FANOUT group, and its own socket of the tunnel group. Root only.
/// </summary>
[Trait("Requires", "root")]
public sealed class RootDispatcherEnginesTests() : RootDispatcherLab(engines: 2, prefix: "dv2", serverSourceOptions: "?ring=1")
{
    private const int Connections = 24;

    [Fact]
    public async Task TcpConnections_ThroughTwoDispatcherEngines_EveryEchoBackAndBothEnginesCarryTraffic()
    {
        // Each connection from its own port: 24 flows that PACKET_FANOUT spreads by hash.
        var answers = await EchoConnectionsAsync(Connections);
        Assert.Equal(Enumerable.Range(0, Connections).Select(i => $"echo hello {i}"), answers);

        // Both engines dispatched client and server frames (fanout) and both sent the data plane's EGRESS out (the
        // data plane sends each flow from its hash's port, and the tunnel group splits them by port).
        var roles = Hosts[1].Dispatchers;
        Assert.Equal(2, roles.Count);
        Assert.All(roles, r => Assert.True(r.Counters.Tunnel[(int)TunnelCounter.DispatchSent] > 0, "an engine dispatched nothing"));
        Assert.All(roles, r => Assert.True(r.Counters.Tunnel[(int)TunnelCounter.EgressReceived] > 0, "an engine received no EGRESS"));
        Assert.Equal(0, roles.Sum(r => r.Counters.Drops[(int)DropReason.NeighbourUnresolved]));

        // Each frame reached one engine, not both: the engines together dispatched no more than the two veth ends
        // received (ARP is passed down the chain, not dispatched). Without the fanout group each would see every frame.
        var arrived = new[] { ClientSideDevice, ServerSideDevice }.Sum(d => long.Parse(Dva.Exec($"cat /sys/class/net/{d}/statistics/rx_packets").Trim(), System.Globalization.CultureInfo.InvariantCulture));
        var dispatched = roles.Sum(r => r.Counters.Tunnel[(int)TunnelCounter.DispatchSent]);
        Assert.True(dispatched <= arrived, $"{dispatched} frames dispatched, {arrived} received by the DVA's veth ends");
        Assert.True(dispatched >= Connections * 4, $"{dispatched} frames dispatched for {Connections} connections");
    }

    [Fact]
    public void Ping_ThroughTwoDispatcherEngines_Answered()
    {
        var output = Client.Exec("ping -c 3 -i 0.2 -W 3 198.51.100.10");

        Assert.Contains("3 received", output, StringComparison.Ordinal);
        Assert.Contains("ttl=63", output, StringComparison.Ordinal);
    }
}
