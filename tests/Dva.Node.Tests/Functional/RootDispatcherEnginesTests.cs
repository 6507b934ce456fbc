using System.Net;
using System.Net.Sockets;
using System.Text;
using Dva.Node.Agent;
using Dva.Node.Config;
using Dva.Node.Tests.Io;

namespace Dva.Node.Tests.Functional;

/// <summary>
/// A dispatcher on two engines (<c>"engines": 2</c>) facing real Linux hosts, as in <see cref="RootDispatcherTests"/>:
/// namespace C holds a client (192.0.2.10/24), S a server (198.51.100.10/24), D the DVA. Each engine opened its own
/// <c>afpacket:</c> socket on both veth ends, joined to the interface's PACKET_FANOUT group, and its own socket of the
/// tunnel group. Root only.
/// </summary>
[Trait("Requires", "root")]
public sealed class RootDispatcherEnginesTests : IAsyncLifetime, IDisposable
{
    private const int Connections = 24;
    private readonly TestNetworkNamespace _dva = new();
    private readonly TestNetworkNamespace _client = new();
    private readonly TestNetworkNamespace _server = new();
    private readonly List<NodeHost> _hosts = [];

    public async Task InitializeAsync()
    {
        Link(_client, "dec-h", "dec-d", "192.0.2.10/24", "192.0.2.1");
        Link(_server, "des-h", "des-d", "198.51.100.10/24", "198.51.100.1");
        var table = """
            "table": { "bucketCount": 256, "seed": "0xabc",
              "dataPlanes": [ { "nodeId": 1, "endpoint": "127.0.0.1:16291" } ],
              "dispatchers": [ { "nodeId": 100, "endpoint": "127.0.0.1:16290" } ] }
            """;
        var dispatcher = Settings($$"""
            { "role": "dispatcher", "nodeId": 100, "engines": 2, "tunnel": { "listen": "127.0.0.1:16290" },
              "interfaces": [
                { "ifid": 1, "mac": "02:00:00:00:00:01", "addresses": ["192.0.2.1/24"], "source": "afpacket:dec-d" },
                { "ifid": 2, "mac": "02:00:00:00:00:02", "addresses": ["198.51.100.1/24"], "source": "afpacket:des-d?ring=1" } ],
              {{table}} }
            """);
        var dataPlane = Settings($$"""
            { "role": "dataplane", "nodeId": 1, "tunnel": { "listen": "127.0.0.1:16291" },
              "interfaces": [
                { "ifid": 1, "mac": "02:00:00:00:00:01", "addresses": ["192.0.2.1/24"], "dispatcher": 100 },
                { "ifid": 2, "mac": "02:00:00:00:00:02", "addresses": ["198.51.100.1/24"], "dispatcher": 100 } ],
              {{table}} }
            """);

        foreach (var settings in new[] { dataPlane, dispatcher })
        {
            _hosts.Add(await _dva.Enter(() => NodeHost.StartAsync(settings)));
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
        }
    }

    public void Dispose()
    {
        _client.Dispose();
        _server.Dispose();
        _dva.Dispose();
    }

    [Fact]
    public async Task TcpConnections_ThroughTwoDispatcherEngines_EveryEchoBackAndBothEnginesCarryTraffic()
    {
        using var listener = _server.Enter(() =>
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
                var accepted = await listener.AcceptAsync(stop.Token);
                _ = Task.Run(async () =>
                {
                    using (accepted)
                    {
                        var buffer = new byte[64];
                        var n = await accepted.ReceiveAsync(buffer, stop.Token);
                        await accepted.SendAsync(Encoding.ASCII.GetBytes("echo " + Encoding.ASCII.GetString(buffer, 0, n)), stop.Token);
                        accepted.Shutdown(SocketShutdown.Send);
                    }
                });
            }
        });

        // One connection after another, each from its own port: 24 flows that PACKET_FANOUT spreads by hash.
        var answers = new List<string>();
        for (var i = 0; i < Connections; i++)
        {
            using var client = _client.Enter(() => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
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

        // Both engines dispatched client and server frames (fanout) and both sent the data plane's EGRESS out (the
        // data plane sends each flow from its hash's port, and the tunnel group splits them by port).
        var roles = _hosts[1].Dispatchers;
        Assert.Equal(2, roles.Count);
        Assert.All(roles, r => Assert.True(r.Counters.Tunnel[(int)TunnelCounter.DispatchSent] > 0, "an engine dispatched nothing"));
        Assert.All(roles, r => Assert.True(r.Counters.Tunnel[(int)TunnelCounter.EgressReceived] > 0, "an engine received no EGRESS"));
        Assert.Equal(0, roles.Sum(r => r.Counters.Drops[(int)DropReason.NeighbourUnresolved]));

        // Each frame reached one engine, not both: the engines together dispatched no more than the two veth ends
        // received (ARP is passed down the chain, not dispatched). Without the fanout group each would see every frame.
        var arrived = new[] { "dec-d", "des-d" }.Sum(d => long.Parse(_dva.Exec($"cat /sys/class/net/{d}/statistics/rx_packets").Trim(), System.Globalization.CultureInfo.InvariantCulture));
        var dispatched = roles.Sum(r => r.Counters.Tunnel[(int)TunnelCounter.DispatchSent]);
        Assert.True(dispatched <= arrived, $"{dispatched} frames dispatched, {arrived} received by the DVA's veth ends");
        Assert.True(dispatched >= Connections * 4, $"{dispatched} frames dispatched for {Connections} connections");
    }

    [Fact]
    public void Ping_ThroughTwoDispatcherEngines_Answered()
    {
        var output = _client.Exec("ping -c 3 -i 0.2 -W 3 198.51.100.10");

        Assert.Contains("3 received", output, StringComparison.Ordinal);
        Assert.Contains("ttl=63", output, StringComparison.Ordinal);
    }

    private static NodeSettings Settings(string json)
    {
        Assert.True(NodeSettings.TryParse(json, out var settings, out var errors), string.Join("; ", errors));
        return settings!;
    }

    private void Link(TestNetworkNamespace host, string hostEnd, string dvaEnd, string address, string gateway)
    {
        TestNetworkNamespace.Ip($"link add {hostEnd} netns {host.Name} type veth peer name {dvaEnd} netns {_dva.Name}");
        TestNetworkNamespace.Ip($"-n {host.Name} addr add {address} dev {hostEnd}");
        TestNetworkNamespace.Ip($"-n {host.Name} link set {hostEnd} up");
        TestNetworkNamespace.Ip($"-n {_dva.Name} link set {dvaEnd} up");
        TestNetworkNamespace.Ip($"-n {host.Name} route add default via {gateway}");
        SoftwareChecksums(host, hostEnd);
    }

    /// <summary>
    /// ethtool -K DEV tx off, through the SIOCETHTOOL ioctl (ethtool may be absent): else the host leaves its TCP
    /// checksums to a veth that never computes them, the dispatcher's AF_PACKET socket (without <c>?gso=1</c>) sees them
    /// unfinished, and the far host drops what the DVA forwards. Ping's ICMP is checksummed in software either way.
    /// </summary>
    private static void SoftwareChecksums(TestNetworkNamespace host, string device)
    {
        var script = Path.Combine(Path.GetTempPath(), $"dva-txcsum-off-{Environment.ProcessId}.py");
        File.WriteAllText(script, """
            import array, fcntl, socket, struct, sys
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            value = array.array('I', [0x17, 0])  # ETHTOOL_STXCSUM, off
            fcntl.ioctl(s.fileno(), 0x8946, struct.pack('16sP', sys.argv[1].encode(), value.buffer_info()[0]))  # SIOCETHTOOL
            """);
        try
        {
            _ = host.Exec($"/usr/bin/python3 {script} {device}");
        }
        finally
        {
            File.Delete(script);
        }
    }
}
