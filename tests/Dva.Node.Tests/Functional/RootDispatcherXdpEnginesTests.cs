using System.Net;
using System.Net.Sockets;
using System.Text;
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
        using var listener = Server.Enter(() =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(IPAddress.Parse("198.51.100.10"), 7000));
            socket.Listen(64);
            return socket;
        });
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var server = Task.Run(async () =>
        {
            for (var i = 0; i < Connections; i++)
            {
                using var accepted = await listener.AcceptAsync(stop.Token);
                var buffer = new byte[64];
                var n = await accepted.ReceiveAsync(buffer, stop.Token);
                await accepted.SendAsync(Encoding.ASCII.GetBytes("echo " + Encoding.ASCII.GetString(buffer, 0, n)), stop.Token);
                accepted.Shutdown(SocketShutdown.Send);
            }
        });

        // One connection after another, each from its own port: the hosts' kernels pick a veth queue per connection.
        var answers = new List<string>();
        for (var i = 0; i < Connections; i++)
        {
            using var client = Client.Enter(() => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
            await client.ConnectAsync(new IPEndPoint(IPAddress.Parse("198.51.100.10"), 7000), stop.Token);
            await client.SendAsync(Encoding.ASCII.GetBytes($"hello {i}"), stop.Token);
            var received = new StringBuilder();
            var buffer = new byte[64];
            int n;
            while ((n = await client.ReceiveAsync(buffer, stop.Token)) > 0)
            {
                received.Append(Encoding.ASCII.GetString(buffer, 0, n));
            }

            answers.Add(received.ToString());
        }

        await server;
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
