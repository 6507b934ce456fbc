using System.Net;
using System.Net.Sockets;
using Dva.Node.Agent;
using Dva.Node.DataPlane;

namespace Dva.Node.Tests.Functional;

/// <summary>
/// The kernel shortcut through a real dispatcher and data plane (<see cref="RootDispatcherLab"/> with <c>shortcuts</c>):
/// established flows are forwarded by the kernel between the dispatcher's two interfaces, one frame per lease still
/// crosses the data plane, and the flow's end sends it back. On one engine with recvmmsg sources, and on two engines
/// whose sources are PACKET_MMAP rings in a PACKET_FANOUT group on the server side (every socket carries the verdict
/// program). Root only.
/// </summary>
[Trait("Requires", "root")]
public abstract class RootShortcutTests(int engines, string prefix, string serverSourceOptions)
    : RootDispatcherLab(engines, prefix, serverSourceOptions, shortcuts: true)
{
    private NodeHost DataPlaneHost => Hosts[0];

    private NodeHost DispatcherHost => Hosts[1];

    /// <summary>8 MiB from the server to the client: it arrives whole, and the kernel forwarded most of its frames.</summary>
    [Fact]
    public async Task TcpTransfer_ArrivesWhole_AndTheKernelForwardsMostFrames()
    {
        var payload = new byte[8 << 20];
        new Random(5).NextBytes(payload);

        var received = await ServerToClientAsync(payload, port: 7101);

        Assert.True(payload.AsSpan().SequenceEqual(received), $"received {received.Length} of {payload.Length} bytes, or different ones");
        var counters = await SweptAsync(c => c.Tunnel(TunnelCounter.ShortcutFramesForwarded) > 0);
        var kernel = counters.Tunnel(TunnelCounter.ShortcutFramesForwarded);
        var dispatcher = counters.FramesOut;
        Assert.True(kernel > 4 * dispatcher, $"the kernel forwarded {kernel} frames, the dispatcher sent {dispatcher}");
        Assert.True(counters.Tunnel(TunnelCounter.ShortcutInstalled) >= 2, "one shortcut per direction");
        Assert.True(counters.Tunnel(TunnelCounter.ShortcutBytesForwarded) > payload.Length / 2);
        Assert.Equal(0, counters.Drop(DropReason.ShortcutLost));

        // What the kernel sent out of an interface does not come back to the dispatcher's sockets: a fanout group
        // (two engines) needs PACKET_FANOUT_FLAG_IGNORE_OUTGOING for that, its members' PACKET_IGNORE_OUTGOING does
        // not reach the group's hook.
        Assert.Equal(0, counters.Drop(DropReason.NotForSharedMac));
        Assert.Equal(0, counters.Tunnel(TunnelCounter.ShortcutUnverdicted));
        Assert.True(DataPlaneHost.Counters.Snapshot().Tunnel(TunnelCounter.ShortcutOffered) >= 2);

    }

    /// <summary>IPv6: 4 MiB from the server's 2001:db8:2::10 to the client, whole, the kernel forwarding it (hop limit, no checksum to fix).</summary>
    [Fact]
    public async Task Ipv6TcpTransfer_ArrivesWhole_ThroughTheShortcut()
    {
        Client.Exec($"sysctl -qw net.ipv6.conf.{ClientHostDevice}.disable_ipv6=0");
        Server.Exec($"sysctl -qw net.ipv6.conf.{ServerHostDevice}.disable_ipv6=0");
        try
        {
            Client.Exec($"ip -6 addr add 2001:db8:1::10/64 dev {ClientHostDevice} nodad");
            Client.Exec("ip -6 route add 2001:db8:2::/64 via 2001:db8:1::1");
            Server.Exec($"ip -6 addr add 2001:db8:2::10/64 dev {ServerHostDevice} nodad");
            Server.Exec("ip -6 route add 2001:db8:1::/64 via 2001:db8:2::1");
            var payload = new byte[4 << 20];
            new Random(6).NextBytes(payload);

            var received = await ServerToClientAsync(payload, port: 7103, serverAddress: "2001:db8:2::10");

            Assert.True(payload.AsSpan().SequenceEqual(received), $"received {received.Length} of {payload.Length} bytes, or different ones");
            var entries = DispatcherHost.Shortcuts!.Snapshot().Where(e => e.Key.Source.AddressFamily == AddressFamily.InterNetworkV6).ToList();
            Assert.True(entries.Count >= 2, $"{entries.Count} IPv6 shortcut entries");
            Assert.True(entries.Sum(e => (long)e.Entry.Packets) > 100, $"the kernel forwarded {entries.Sum(e => (long)e.Entry.Packets)} IPv6 frames");
        }
        finally
        {
            Client.Exec($"sysctl -qw net.ipv6.conf.{ClientHostDevice}.disable_ipv6=1");
            Server.Exec($"sysctl -qw net.ipv6.conf.{ServerHostDevice}.disable_ipv6=1");
        }
    }

    /// <summary>
    /// A connection that talks for three seconds: the data plane keeps seeing it (one frame a lease, which renews the
    /// shortcut), and once it closes the shortcut entries go.
    /// </summary>
    [Fact]
    public async Task LongConnection_KeepsItsDataPlaneState_AndItsEndRemovesTheShortcuts()
    {
        using var listener = Server.Enter(() =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(IPAddress.Parse("198.51.100.10"), 7102));
            socket.Listen(4);
            return socket;
        });
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var echo = Task.Run(async () =>
        {
            using var accepted = await listener.AcceptAsync(stop.Token);
            var buffer = new byte[4096];
            int n;
            while ((n = await accepted.ReceiveAsync(buffer, stop.Token)) > 0)
            {
                await accepted.SendAsync(buffer.AsMemory(0, n), stop.Token);
            }
        });

        using (var client = Client.Enter(() => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)))
        {
            await client.ConnectAsync(new IPEndPoint(IPAddress.Parse("198.51.100.10"), 7102), stop.Token);
            var message = new byte[1000];
            var answer = new byte[1000];
            for (var i = 0; i < 60; i++)
            {
                message.AsSpan().Fill((byte)i);
                await client.SendAsync(message, stop.Token);
                var read = 0;
                while (read < answer.Length)
                {
                    read += await client.ReceiveAsync(answer.AsMemory(read), stop.Token);
                }

                Assert.Equal(message, answer);
                await Task.Delay(50, stop.Token);
            }

            var live = DispatcherHost.Shortcuts!.Snapshot();
            Assert.Equal(2, live.Count(e => !e.Entry.Withdrawn && e.Key.Protocol == 6));

            // GET /shortcuts shows both directions while they are live, with their counters; a node without shortcuts says 404.
            var listed = Assert.IsType<Microsoft.AspNetCore.Http.HttpResults.Ok<List<Dva.Node.Shortcut.ShortcutView>>>(ControlApi.GetShortcuts(DispatcherHost).Result).Value!;
            var conversation = listed.Where(v => v.Flow.Contains(":7102", StringComparison.Ordinal) && v.State != "withdrawn").ToList();
            Assert.Equal(2, conversation.Count);
            Assert.Contains(conversation, v => v.Flow.StartsWith("tcp 192.0.2.10:", StringComparison.Ordinal) && v.Flow.Contains("> 198.51.100.10:7102", StringComparison.Ordinal) && v.Packets > 0);
            Assert.All(conversation, v => Assert.Null(v.RewrittenTo));
            var none = Assert.IsType<Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult>(ControlApi.GetShortcuts(DataPlaneHost).Result);
            Assert.Equal(404, none.StatusCode);
            var counters = DispatcherHost.Counters.Snapshot();
            Assert.True(counters.Tunnel(TunnelCounter.ShortcutRenewed) >= 2, $"renewed {counters.Tunnel(TunnelCounter.ShortcutRenewed)} times in 3 s");
            var flow = Assert.Single(await FlowsAsync(), f => f.Destination.EndsWith(":7102", StringComparison.Ordinal));
            Assert.Equal("established", flow.State);
            Assert.True(flow.PacketsOriginal < 60, $"the data plane saw {flow.PacketsOriginal} of the client's 60+ packets");
            Assert.True(DateTimeOffset.UtcNow - flow.LastSeen < TimeSpan.FromSeconds(1.5), $"last seen {flow.LastSeen:O}");
            client.Shutdown(SocketShutdown.Both);
        }

        await echo;
        var swept = await SweptAsync(c => c.Tunnel(TunnelCounter.ShortcutEntries) == 0, TimeSpan.FromSeconds(6));
        Assert.Equal(0, swept.Tunnel(TunnelCounter.ShortcutEntries));
        Assert.True(swept.Tunnel(TunnelCounter.ShortcutRemoved) >= 2);
    }

    private async Task<List<FlowInfo>> FlowsAsync() => [.. ((IEnumerable<FlowInfo>)await DataPlaneHost.Role.Flows())];

    /// <summary>The dispatcher's counters once <paramref name="until"/> holds (the sweep writes the shortcut totals once a second).</summary>
    private async Task<CounterSnapshot> SweptAsync(Func<CounterSnapshot, bool> until, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(4));
        var counters = DispatcherHost.Counters.Snapshot();
        while (!until(counters) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
            counters = DispatcherHost.Counters.Snapshot();
        }

        return counters;
    }
}

/// <summary>
/// The kernel shortcut's tests run one at a time and apart from the other tests: they move gigabits through veths for a
/// moment, which on two cores would slow the latency-bound root tests beside them.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class KernelShortcutTests
{
    public const string Name = "kernel shortcut";
}

/// <summary>One engine, recvmmsg sources.</summary>
[Trait("Requires", "root")]
[Collection(KernelShortcutTests.Name)]
public sealed class RootShortcutOneEngineTests() : RootShortcutTests(engines: 1, prefix: "dv7", serverSourceOptions: "");

/// <summary>Two engines (PACKET_FANOUT), the server side read from a PACKET_MMAP ring.</summary>
[Trait("Requires", "root")]
[Collection(KernelShortcutTests.Name)]
public sealed class RootShortcutTwoEnginesTests() : RootShortcutTests(engines: 2, prefix: "dv8", serverSourceOptions: "?ring=1");
