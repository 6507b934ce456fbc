using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Dva.Node.Tests.DataPlane;
using Dva.Node.Traffic;

namespace Dva.Node.Tests.Functional;

/// <summary>
/// Real processes: a dispatcher and two data planes of two engines each (config <c>"engines": 2</c>), the traffic
/// generator's flows through them, then load-balanced UDP flows to a VIP answered by two members on the inside wire.
/// </summary>
[Collection(ProcessTests.Name)]
public class EnginesProcessTests
{
    private const int Flows = 600;
    private const int BalancedFlows = 64;
    private const string Client = "192.0.2.200";
    private const string Vip = "192.0.2.1";
    private const string Snat = "198.51.100.1";
    private static readonly string[] Members = ["198.51.100.200", "198.51.100.201"];
    private static readonly byte[] InsideSharedMac = [0x02, 0, 0, 0, 0, 0x02];

    private static readonly string DataPlaneExtra = $$"""
        "engines": 2,
        "loadBalancer": { "vips": [ { "address": "{{Vip}}", "port": 80, "protocol": "udp",
          "members": [ { "address": "{{Members[0]}}", "port": 8080 }, { "address": "{{Members[1]}}", "port": 8080 } ] } ] }
        """;

    [Fact]
    public async Task Traffic_TwoEnginesPerDataPlane_FlowsOnBothEnginesNoFlowBrokenAndTheLoadBalancerAnswers()
    {
        using var cluster = await DvaCluster.StartAsync(dataPlanes: 2, inTable: 2, dataPlaneExtra: DataPlaneExtra);
        await cluster.RollOutAsync(cluster.FirstTable);
        TrafficResult result;
        using (var generator = new TrafficGenerator(cluster.Traffic(Flows) with { Concurrency = 100, Rate = 300, Duration = TimeSpan.FromSeconds(40) }))
        {
            result = await Task.Factory.StartNew(() => generator.Run(), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)
                .WaitAsync(TimeSpan.FromSeconds(90));
        }

        Assert.True(result.Broken == 0, $"{result.Broken} broken flows: {string.Join("; ", result.Flows.Where(f => !f.Completed).Take(5).Select(f => $"{f.Protocol} {f.Client}->{f.Server} {f.Failure}"))}");
        Assert.Equal(Flows, result.Completed);
        foreach (var (id, node) in cluster.DataPlanes)
        {
            var flows = await node.GetJsonAsync("flows");
            var engines = flows.EnumerateArray().Select(f => f.GetProperty("engine").GetInt32()).ToList();
            Assert.True(engines.Contains(0) && engines.Contains(1), $"dp{id}: flows per engine {engines.Count(e => e == 0)} / {engines.Count(e => e == 1)}");

            // Every sender sent every flow from its hash's port: no datagram reached another engine than its flow's.
            var tunnel = (await node.GetJsonAsync("counters")).GetProperty("tunnel");
            Assert.True(tunnel.GetProperty("OffEngine").GetInt64() == 0, $"dp{id}: {tunnel}");
            Assert.True(tunnel.GetProperty("PuntReceived").GetInt64() + tunnel.GetProperty("DispatchReceived").GetInt64() > 0, $"dp{id}: {tunnel}");
        }

        var answered = await BalancedExchangeAsync(cluster);

        Assert.Equal(BalancedFlows, answered.Count);
        long connections = 0;
        foreach (var node in cluster.DataPlanes.Values)
        {
            var vip = Assert.Single((await node.GetJsonAsync("loadbalancer")).EnumerateArray());
            connections += vip.GetProperty("totalConnections").GetInt64();
        }

        Assert.Equal(BalancedFlows, connections);
    }

    /// <summary>
    /// The same DVA with its tunnel over IPv6 ([::1]): per-flow source ports now work there too (an IPv6 raw socket,
    /// a zero UDP checksum the nodes' tunnel sockets accept), so each flow's datagrams reach one engine of each data
    /// plane, whichever node sends them. Without flow ports over IPv6 the data planes' engines would be picked by the
    /// bound port alone and datagrams would reach other engines than their flows'.
    /// </summary>
    [Fact]
    public async Task Traffic_Ipv6Tunnel_TwoEnginesPerDataPlane_FlowsOnBothEnginesNoneOffEngine()
    {
        const int flows = 300;
        using var cluster = await DvaCluster.StartAsync(dataPlanes: 2, inTable: 2, dataPlaneExtra: "\"engines\": 2", ipv6Tunnel: true);
        Assert.Equal(AddressFamily.InterNetworkV6, cluster.DispatcherEndpoint.AddressFamily);
        await cluster.RollOutAsync(cluster.FirstTable);
        TrafficResult result;
        using (var generator = new TrafficGenerator(cluster.Traffic(flows) with { Concurrency = 50, Rate = 300, Duration = TimeSpan.FromSeconds(20) }))
        {
            result = await Task.Factory.StartNew(() => generator.Run(), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)
                .WaitAsync(TimeSpan.FromSeconds(60));
        }

        Assert.True(result.Broken == 0, $"{result.Broken} broken flows: {string.Join("; ", result.Flows.Where(f => !f.Completed).Take(5).Select(f => $"{f.Protocol} {f.Client}->{f.Server} {f.Failure}"))}");
        Assert.Equal(flows, result.Completed);
        foreach (var (id, node) in cluster.DataPlanes)
        {
            var engines = (await node.GetJsonAsync("flows")).EnumerateArray().Select(f => f.GetProperty("engine").GetInt32()).ToList();
            Assert.True(engines.Contains(0) && engines.Contains(1), $"dp{id}: flows per engine {engines.Count(e => e == 0)} / {engines.Count(e => e == 1)}");
            var tunnel = (await node.GetJsonAsync("counters")).GetProperty("tunnel");
            Assert.True(tunnel.GetProperty("OffEngine").GetInt64() == 0, $"dp{id}: {tunnel}");
            Assert.True(tunnel.GetProperty("DispatchReceived").GetInt64() > 0 && tunnel.GetProperty("EgressSent").GetInt64() > 0, $"dp{id}: {tunnel}");
        }
    }

    /// <summary>
    /// Plays a client on the outside wire and the two members on the inside wire: each client datagram to the VIP must
    /// reach a member from the SNAT address, and the member's answer must come back to the client from the VIP.
    /// Returns the client ports that got their answer.
    /// </summary>
    private static async Task<HashSet<int>> BalancedExchangeAsync(DvaCluster cluster)
    {
        using var client = Bind(cluster.ClientWire.Generator);
        using var server = Bind(cluster.ServerWire.Generator);
        byte[] clientMac = [0x02, 0xC1, 0, 0, 0, 0xC8];
        byte[][] memberMacs = [[0x02, 0x5E, 0, 0, 0, 0xC8], [0x02, 0x5E, 0, 0, 0, 0xC9]];

        // Gratuitous ARP, so the dispatcher (and the data planes, down the broadcast chain) know the hosts.
        await client.SendToAsync(TestFrames.ArpRequest(clientMac, Client, Client), cluster.ClientWire.Dispatcher);
        for (var m = 0; m < Members.Length; m++)
        {
            await server.SendToAsync(TestFrames.ArpRequest(memberMacs[m], Members[m], Members[m]), cluster.ServerWire.Dispatcher);
        }

        await WaitForNeighboursAsync(cluster.Dispatcher, [Client, .. Members]);

        for (var i = 0; i < BalancedFlows; i++)
        {
            var request = TestFrames.Udp(Client, (ushort)(40000 + i), Vip, 80);
            clientMac.CopyTo(request, 6);
            await client.SendToAsync(request, cluster.ClientWire.Dispatcher);
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var buffer = new byte[2048];
        var seen = new HashSet<(string, int)>();
        while (seen.Count < BalancedFlows)
        {
            var n = (await server.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), timeout.Token)).ReceivedBytes;
            var info = TestFrames.Parse(buffer.AsSpan(0, n));
            var member = info.Destination.ToString();
            if (!Members.Contains(member) || info.Source.ToString() != Snat || info.DstPort != 8080 || !seen.Add((member, info.SrcPort)))
            {
                continue;
            }

            var answer = TestFrames.Udp(member, 8080, Snat, info.SrcPort);
            InsideSharedMac.CopyTo(answer, 0);
            memberMacs[Array.IndexOf(Members, member)].CopyTo(answer, 6);
            await server.SendToAsync(answer, cluster.ServerWire.Dispatcher);
        }

        Assert.Equal(2, seen.Select(s => s.Item1).Distinct().Count());
        var answered = new HashSet<int>();
        while (answered.Count < BalancedFlows)
        {
            var n = (await client.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), timeout.Token)).ReceivedBytes;
            var info = TestFrames.Parse(buffer.AsSpan(0, n));
            if (info.Source.ToString() == Vip && info.SrcPort == 80 && info.Destination.ToString() == Client)
            {
                answered.Add(info.DstPort);
            }
        }

        return answered;
    }

    private static async Task WaitForNeighboursAsync(NodeProcess dispatcher, string[] addresses)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var known = (await dispatcher.GetJsonAsync("neighbours")).EnumerateArray().Select(n => n.GetProperty("address").GetString()).ToHashSet();
            if (addresses.All(known.Contains))
            {
                return;
            }

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"the dispatcher learned only {string.Join(", ", known)}");
            await Task.Delay(50);
        }
    }

    private static Socket Bind(IPEndPoint local)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(local);
        return socket;
    }
}
