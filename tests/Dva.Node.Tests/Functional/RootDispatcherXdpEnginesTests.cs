using Dva.Node.Agent;
using Dva.Node.Io;

namespace Dva.Node.Tests.Functional;

/// <summary>
/// A dispatcher on two engines whose shared interfaces are <c>afxdp:</c> sources on veths of two queues: engine i reads
/// queue i of each interface, one XDP program per interface (<see cref="RootDispatcherLab"/>). Root only.
/// </summary>
[Trait("Requires", "root")]
public sealed class RootDispatcherXdpEnginesTests() : RootDispatcherLab(engines: 2, prefix: "dv4", sourceKind: "afxdp", queues: 2)
{
    private const int Connections = 24;

    [Fact]
    public async Task TcpConnections_ThroughTwoXdpEngines_EveryEchoBackAndBothQueuesCarryTraffic()
    {
        // Each connection from its own port: the hosts' kernels pick a veth queue per connection.
        var answers = await EchoConnectionsAsync(Connections);
        Assert.Equal(Enumerable.Range(0, Connections).Select(i => $"echo hello {i}"), answers);

        var sources = Hosts[1].Ports.OfType<AfXdpFrameSource>().ToList();
        Assert.Equal(4, sources.Count);
        Assert.Equal([0, 1], sources.Select(s => s.Queue).Distinct().Order());
        var perQueue = sources.GroupBy(s => s.Queue).ToDictionary(g => g.Key, g => g.Sum(s => s.Counters.ReceivedPackets));
        Assert.All(perQueue, q => Assert.True(q.Value > 0, $"queue {q.Key} received nothing: {string.Join(", ", perQueue)}"));
        var roles = Hosts[1].Dispatchers;
        Assert.Equal(2, roles.Count);
        Assert.All(roles, r => Assert.True(r.Counters.Tunnel[(int)TunnelCounter.DispatchSent] > 0, "an engine dispatched nothing"));
    }
}
