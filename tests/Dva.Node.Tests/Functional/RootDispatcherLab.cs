using System.Net;
using System.Net.Sockets;
using System.Text;
using Dva.Node.Agent;
using Dva.Node.Config;
using Dva.Node.Tests.Io;

namespace Dva.Node.Tests.Functional;

/// <summary>
/// A dispatcher on <c>afpacket:</c> (or <c>afxdp:</c>) sources facing real Linux hosts: namespace C holds a client (192.0.2.10/24),
/// namespace S a server (198.51.100.10/24) (IPv6 is off on both until a test turns it on; the DVA's interfaces also
/// have 2001:db8:1::1/64 and 2001:db8:2::1/64), namespace D the DVA (a dispatcher on the D ends of both veth pairs and one
/// data plane, talking over D's loopback). The hosts' TX checksum offload is off unless the lab is made with
/// <c>hostChecksumOffload</c>. Root only, like the engine's device tests.
/// </summary>
public abstract class RootDispatcherLab : IAsyncLifetime, IDisposable
{
    private readonly int _engines;
    private readonly string _prefix;
    private readonly string _serverSourceOptions;
    private readonly string _sourceKind;
    private readonly int _queues;
    private readonly bool _hostChecksumOffload;
    private readonly string _serverVlans;
    private readonly bool _routerAdvertisements;
    private readonly string _serverSubInterfaces;
    private readonly string _clientInterfaceOptions;
    private readonly bool _shortcuts;
    private readonly List<NodeHost> _hosts = [];

    /// <param name="engines">The dispatcher's engines.</param>
    /// <param name="prefix">Three letters that name the veth pairs (PREFIXc-h / PREFIXc-d, PREFIXs-h / PREFIXs-d).</param>
    /// <param name="serverSourceOptions">Options of the server side's source ("" or "?ring=1").</param>
    /// <param name="sourceKind">The kind of both sources: <c>afpacket</c> or <c>afxdp</c>.</param>
    /// <param name="queues">Receive and transmit queues of every veth (an afxdp: dispatcher reads one per engine).</param>
    /// <param name="hostChecksumOffload">
    /// The hosts keep TX checksum offload (only TSO off): their frames reach the dispatcher with unfinished checksums.
    /// </param>
    /// <param name="serverVlans">The server side interface's <c>vlans</c> (a JSON array): the VLANs of that trunk.</param>
    /// <param name="routerAdvertisements">The dispatcher sends IPv6 router advertisements on both interfaces.</param>
    /// <param name="serverSubInterfaces">The server side interface's <c>subInterfaces</c> (JSON), on the dispatcher and the data plane.</param>
    /// <param name="clientInterfaceOptions">More members of the dispatcher's client side interface (JSON, each followed by a comma).</param>
    /// <param name="shortcuts">Both nodes have <c>shortcuts</c>: the kernel shortcut (docs/node.md "Kernel shortcut").</param>
    protected RootDispatcherLab(int engines, string prefix, string serverSourceOptions = "", string sourceKind = "afpacket", int queues = 1, bool hostChecksumOffload = false,
        string serverVlans = "[]", bool routerAdvertisements = false, string serverSubInterfaces = "[]", string clientInterfaceOptions = "", bool shortcuts = false)
    {
        _shortcuts = shortcuts;
        _clientInterfaceOptions = clientInterfaceOptions;
        _serverSubInterfaces = serverSubInterfaces;
        _routerAdvertisements = routerAdvertisements;
        _serverVlans = serverVlans;
        _hostChecksumOffload = hostChecksumOffload;
        _queues = queues;
        _sourceKind = sourceKind;
        _engines = engines;
        _prefix = prefix;
        _serverSourceOptions = serverSourceOptions;
    }

    private protected TestNetworkNamespace Dva { get; } = new();

    private protected TestNetworkNamespace Client { get; } = new();

    private protected TestNetworkNamespace Server { get; } = new();

    /// <summary>The data plane, then the dispatcher.</summary>
    private protected IReadOnlyList<NodeHost> Hosts => _hosts;

    /// <summary>The D ends of the veth pairs, client side and server side.</summary>
    protected string ClientSideDevice => $"{_prefix}c-d";

    /// <summary>The host ends of the veth pairs, in the client's and the server's namespace.</summary>
    protected string ClientHostDevice => $"{_prefix}c-h";

    protected string ServerHostDevice => $"{_prefix}s-h";

    protected string ServerSideDevice => $"{_prefix}s-d";

    public async Task InitializeAsync()
    {
        Link(Client, $"{_prefix}c-h", ClientSideDevice, "192.0.2.10/24", "192.0.2.1");
        Link(Server, $"{_prefix}s-h", ServerSideDevice, "198.51.100.10/24", "198.51.100.1");
        var table = """
            "table": { "bucketCount": 256, "seed": "0xabc",
              "dataPlanes": [ { "nodeId": 1, "endpoint": "127.0.0.1:16191" } ],
              "dispatchers": [ { "nodeId": 100, "endpoint": "127.0.0.1:16190" } ] }
            """;
        var advertise = _routerAdvertisements ? "true" : "false";
        var shortcuts = _shortcuts ? "true" : "false";
        var dispatcher = Settings($$"""
            { "role": "dispatcher", "nodeId": 100, "engines": {{_engines}}, "tunnel": { "listen": "127.0.0.1:16190" }, "shortcuts": {{shortcuts}},
              "interfaces": [
                { "ifid": 1, "mac": "02:00:00:00:00:01", "addresses": ["192.0.2.1/24", "2001:db8:1::1/64"], "source": "{{_sourceKind}}:{{ClientSideDevice}}", {{_clientInterfaceOptions}}
                  "routerAdvertisements": {{advertise}} },
                { "ifid": 2, "mac": "02:00:00:00:00:02", "addresses": ["198.51.100.1/24", "2001:db8:2::1/64"], "source": "{{_sourceKind}}:{{ServerSideDevice}}{{_serverSourceOptions}}", "vlans": {{_serverVlans}},
                  "subInterfaces": {{_serverSubInterfaces}}, "routerAdvertisements": {{advertise}} } ],
              {{table}} }
            """);
        var dataPlane = Settings($$"""
            { "role": "dataplane", "nodeId": 1, "tunnel": { "listen": "127.0.0.1:16191" }, "shortcuts": {{shortcuts}},
              "interfaces": [
                { "ifid": 1, "mac": "02:00:00:00:00:01", "addresses": ["192.0.2.1/24", "2001:db8:1::1/64"], "dispatcher": 100 },
                { "ifid": 2, "mac": "02:00:00:00:00:02", "addresses": ["198.51.100.1/24", "2001:db8:2::1/64"], "dispatcher": 100,
                  "subInterfaces": {{_serverSubInterfaces}} } ],
              {{table}} }
            """);

        // Sockets and AF_PACKET sources are opened inside D (NodeHost opens them before its first await).
        foreach (var settings in new[] { dataPlane, dispatcher })
        {
            _hosts.Add(await Dva.Enter(() => NodeHost.StartAsync(settings)));
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
        }
    }

    /// <summary>After <see cref="DisposeAsync"/> (xunit calls both): the namespaces go once the hosts closed their sockets.</summary>
    public void Dispose()
    {
        Client.Dispose();
        Server.Dispose();
        Dva.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// A TCP transfer of <paramref name="payload"/> from the server (<paramref name="serverAddress"/>, 198.51.100.10 unless
    /// given, port <paramref name="port"/>) to the client; what the client read.
    /// </summary>
    private protected async Task<byte[]> ServerToClientAsync(byte[] payload, int port, string serverAddress = "198.51.100.10")
    {
        var address = IPAddress.Parse(serverAddress);
        using var listener = Server.Enter(() =>
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(address, port));
            socket.Listen(4);
            return socket;
        });
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var server = Task.Run(async () =>
        {
            using var accepted = await listener.AcceptAsync(stop.Token);
            await accepted.SendAsync(payload, stop.Token);
            accepted.Shutdown(SocketShutdown.Send);
        });

        using var client = Client.Enter(() => new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp));
        await client.ConnectAsync(new IPEndPoint(address, port), stop.Token);
        using var received = new MemoryStream();
        var buffer = new byte[65536];
        int n;
        while ((n = await client.ReceiveAsync(buffer, stop.Token)) > 0)
        {
            received.Write(buffer, 0, n);
        }

        await server;
        return received.ToArray();
    }

    /// <summary>
    /// <paramref name="connections"/> TCP connections from the client to the server (198.51.100.10:7000), one after
    /// another, each from its own port: each sends <c>hello i</c> and reads the server's <c>echo hello i</c> to the end.
    /// Returns what each connection read.
    /// </summary>
    private protected async Task<List<string>> EchoConnectionsAsync(int connections)
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
            for (var i = 0; i < connections; i++)
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

        var answers = new List<string>();
        for (var i = 0; i < connections; i++)
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
        return answers;
    }

    /// <summary>
    /// Python for a host on a packet socket: <c>checksum</c>, <c>receive()</c> giving a frame and its VLAN ("none"
    /// untagged), and the frames answering an ARP request and an echo request (<c>arp_reply</c>, <c>echo_reply</c>).
    /// </summary>
    private protected const string PacketSocketPrelude = """
        import socket, struct, sys, time

        def checksum(data):
            if len(data) % 2:
                data += b"\0"
            total = sum(struct.unpack(f"!{len(data) // 2}H", data))
            while total >> 16:
                total = (total & 0xFFFF) + (total >> 16)
            return ~total & 0xFFFF

        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
        s.bind((sys.argv[1], 0))
        s.setsockopt(263, 8, 1)  # PACKET_AUXDATA
        s.settimeout(0.2)

        def receive():
            try:
                data, ancillary, _, _ = s.recvmsg(2048, 256)
            except socket.timeout:
                return None, None
            vlan = "none"
            for level, kind, aux in ancillary:
                if level == 263 and kind == 8:
                    status, _, _, _, _, tci, _ = struct.unpack("IIIHHHH", aux[:20])
                    vlan = str(tci & 0xFFF) if status & 0x10 else "none"
            return data, vlan

        def arp_reply(request, mine, me, tag):
            arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 2, mine, me, request[22:28], request[28:32])
            return request[22:28] + mine + tag + b"\x08\x06" + arp

        def echo_reply(request, mine, tag):
            ihl = (request[14] & 0x0F) * 4
            ip = bytearray(request[14:14 + ihl])
            icmp = bytearray(request[14 + ihl:14 + struct.unpack("!H", request[16:18])[0]])
            ip[12:16], ip[16:20], ip[8] = request[30:34], request[26:30], 64
            ip[10:12] = b"\0\0"
            ip[10:12] = struct.pack("!H", checksum(bytes(ip)))
            icmp[0], icmp[2:4] = 0, b"\0\0"
            icmp[2:4] = struct.pack("!H", checksum(bytes(icmp)))
            return request[6:12] + mine + tag + b"\x08\x00" + bytes(ip) + bytes(icmp)

        """;

    /// <summary>Runs a Python script in <paramref name="ns"/> with the device as its first argument; returns what it printed.</summary>
    private protected static string RunScript(TestNetworkNamespace ns, string device, string code, string arguments = "")
    {
        var script = Path.Combine(Path.GetTempPath(), $"dva-host-{Environment.ProcessId}-{Guid.NewGuid():N}.py");
        File.WriteAllText(script, code);
        try
        {
            return ns.Exec($"/usr/bin/python3 {script} {device} {arguments}", allowFailure: true);
        }
        finally
        {
            File.Delete(script);
        }
    }

    /// <summary>Reads until <paramref name="done"/> holds, for up to 20 s; fails with the last reading.</summary>
    private protected static string Until(Func<string> read, Func<string, bool> done)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var last = "";
        while (watch.Elapsed < TimeSpan.FromSeconds(20))
        {
            last = read();
            if (done(last))
            {
                return last;
            }

            Thread.Sleep(200);
        }

        Assert.Fail($"not within 20 s; last: {last}");
        return last;
    }

    private static NodeSettings Settings(string json)
    {
        Assert.True(NodeSettings.TryParse(json, out var settings, out var errors), string.Join("; ", errors));
        return settings!;
    }

    private void Link(TestNetworkNamespace host, string hostEnd, string dvaEnd, string address, string gateway)
    {
        var queues = $"numtxqueues {_queues} numrxqueues {_queues}";
        TestNetworkNamespace.Ip($"link add {hostEnd} netns {host.Name} {queues} type veth peer name {dvaEnd} netns {Dva.Name} {queues}");
        TestNetworkNamespace.Ip($"-n {host.Name} addr add {address} dev {hostEnd}");
        TestNetworkNamespace.Ip($"-n {host.Name} link set {hostEnd} up");
        TestNetworkNamespace.Ip($"-n {Dva.Name} link set {dvaEnd} up");
        TestNetworkNamespace.Ip($"-n {host.Name} route add default via {gateway}");
        if (_hostChecksumOffload)
        {
            host.TsoOff(hostEnd);
        }
        else
        {
            host.TxChecksumOffloadOff(hostEnd);
        }
    }
}
