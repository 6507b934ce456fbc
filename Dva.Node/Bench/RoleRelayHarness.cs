using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Dva.Node.Agent;
using Dva.Node.Config;
using Dva.Node.Io;
using Dva.Shared.Flows;
using Dva.Shared.Packets;
using Dva.Shared.Security;
using Dva.Shared.Wire;

namespace Dva.Node.Bench;

/// <summary>
/// The real roles in the relay harness: the same generator and sink as the baseline relay, with a full
/// <see cref="NodeHost"/> in between instead of a bare recvmmsg→sendmmsg loop.
/// Dispatcher: the generator plays a host on the dispatcher's <c>udp:</c> wire and sends TCP/IPv4 frames of
/// 4096 flows; the dispatcher hashes, looks the owner up and sends DISPATCH to the only data plane, which is the sink.
/// Data plane: the generator plays dispatcher 100 and sends DISPATCH datagrams of 4096 flows; the data plane
/// validates, keeps or creates the flow, routes and sends EGRESS to dispatcher 101 of the egress interface, which is the sink.
/// </summary>
internal static class RoleRelayHarness
{
    private const int Flows = 4096;
    private static readonly byte[] SharedMac = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
    private static readonly byte[] HostMac = [0x02, 0x00, 0x00, 0x00, 0x0A, 0x0A];

    public static async Task<RelayResult> RunDispatcherAsync(RelayOptions options, TunnelSecurityMode security = TunnelSecurityMode.Plain)
    {
        // Secure runs seal every DISPATCH in the tunnel socket; the sink only counts, so opening is not in the figure.
        var key = TunnelKey.Generate();
        var securitySection = security == TunnelSecurityMode.Plain
            ? ""
            : $", \"security\": {{ \"mode\": \"{TunnelSecurityNames.Name(security)}\", \"keys\": [ {{ \"phase\": 0, \"id\": {key.Id}, \"key\": \"{Convert.ToBase64String(key.Material)}\" }} ] }}";
        using var sink = UdpTunnelSocket.Open(new IPEndPoint(IPAddress.Loopback, 0));
        var wireLocal = FreePort();
        using var generator = UdpTunnelSocket.Open(new IPEndPoint(IPAddress.Loopback, 0));
        var config = $$"""
            {
              "role": "dispatcher", "nodeId": 100, "tunnel": { "listen": "127.0.0.1:{{FreePort()}}"{{securitySection}} },
              "interfaces": [ { "ifid": 1, "mac": "02:00:00:00:00:01", "addresses": ["192.0.2.1/24"],
                                "source": "udp:LOCAL=127.0.0.1:{{wireLocal}},PEER={{generator.LocalEndPoint}}" } ],
              "table": { "bucketCount": 4096, "seed": "0x5eed", "dvaId": "{{Guid.NewGuid()}}",
                         "dataPlanes": [ { "nodeId": 1, "endpoint": "{{sink.LocalEndPoint}}" } ],
                         "dispatchers": [ { "nodeId": 100, "endpoint": "127.0.0.1:1" } ] }
            }
            """;
        var datagrams = new byte[Flows][];
        for (var f = 0; f < Flows; f++)
        {
            datagrams[f] = TcpFrame(f);
        }

        var name = security == TunnelSecurityMode.Plain ? "dispatcher (real role)" : $"dispatcher ({TunnelSecurityNames.Name(security)})";
        return await RunAsync(name, config, generator, new IPEndPoint(IPAddress.Loopback, wireLocal), sink, datagrams, options);
    }

    /// <param name="engines">
    /// The data plane's engines. With <paramref name="flowPorts"/> the generator sends each flow from its hash's port as
    /// a dispatcher does (DESIGN.md §2), which is what spreads the flows over several engines.
    /// </param>
    public static async Task<RelayResult> RunDataPlaneAsync(RelayOptions options, int engines = 1, bool flowPorts = false)
    {
        using var sink = UdpTunnelSocket.Open(new IPEndPoint(IPAddress.Loopback, 0));
        using var generator = UdpTunnelSocket.Open(new IPEndPoint(IPAddress.Loopback, 0));
        if (flowPorts && !generator.EnableFlowSourcePorts(UdpSockets.DefaultSocketBufferBytes, out var why))
        {
            throw new InvalidOperationException(why);
        }

        var tunnelPort = FreePort();
        var config = $$"""
            {
              "role": "dataplane", "nodeId": 1, "engines": {{engines}}, "tunnel": { "listen": "127.0.0.1:{{tunnelPort}}" },
              "interfaces": [ { "ifid": 1, "mac": "02:00:00:00:00:01", "addresses": ["192.0.2.1/24"], "dispatcher": 100 },
                              { "ifid": 2, "mac": "02:00:00:00:00:02", "addresses": ["198.51.100.1/24"], "dispatcher": 101 } ],
              "table": { "bucketCount": 4096, "seed": "0x5eed", "dvaId": "{{Guid.NewGuid()}}",
                         "dataPlanes": [ { "nodeId": 1, "endpoint": "127.0.0.1:{{tunnelPort}}" } ],
                         "dispatchers": [ { "nodeId": 100, "endpoint": "{{generator.LocalEndPoint}}" },
                                          { "nodeId": 101, "endpoint": "{{sink.LocalEndPoint}}" } ] }
            }
            """;
        var datagrams = new byte[Flows][];
        var ports = new ushort[Flows];
        for (var f = 0; f < Flows; f++)
        {
            var frame = TcpFrame(f);
            datagrams[f] = Dispatch(frame, era: 1); // the static table is version 1: era 1
            ports[f] = flowPorts ? FlowPort(frame) : (ushort)0;
        }

        var name = engines == 1 && !flowPorts ? "data plane (real role)" : $"data plane, {engines} engine{(engines == 1 ? "" : "s")}";
        return await RunAsync(name, config, generator, new IPEndPoint(IPAddress.Loopback, tunnelPort), sink, datagrams, options, ports);
    }

    /// <summary>
    /// The whole chain of a DVA on loopback: the generator plays a client on the dispatcher's outside <c>udp:</c> wire;
    /// the dispatcher (node 100) sends DISPATCH to the data plane (node 1), which routes each packet to the inside
    /// interface and sends EGRESS back to the same dispatcher, which strips it and sends the frame on its inside wire,
    /// to the sink (the server). Before the measured run the sink announces the server with an ARP request on the inside
    /// wire (the data plane learns its MAC from the chain) and every flow is sent once, so the run measures established
    /// flows. Relayed = what the sink received as forwarded to the server (<see cref="ForwardedToServer"/>).
    /// </summary>
    public static async Task<RelayResult> RunChainAsync(RelayOptions options)
    {
        using var sink = UdpTunnelSocket.Open(new IPEndPoint(IPAddress.Loopback, 0));
        using var generator = UdpTunnelSocket.Open(new IPEndPoint(IPAddress.Loopback, 0));
        var (outsideWire, insideWire, dispatcherPort, dataPlanePort) = (FreePort(), FreePort(), FreePort(), FreePort());
        var table = $$"""
            "table": { "bucketCount": 4096, "seed": "0x5eed", "dvaId": "{{Guid.NewGuid()}}",
                       "dataPlanes": [ { "nodeId": 1, "endpoint": "127.0.0.1:{{dataPlanePort}}" } ],
                       "dispatchers": [ { "nodeId": 100, "endpoint": "127.0.0.1:{{dispatcherPort}}" } ] }
            """;
        var dispatcher = $$"""
            {
              "role": "dispatcher", "nodeId": 100, "tunnel": { "listen": "127.0.0.1:{{dispatcherPort}}" },
              "interfaces": [ { "ifid": 1, "mac": "02:00:00:00:00:01", "addresses": ["192.0.2.1/24"],
                                "source": "udp:LOCAL=127.0.0.1:{{outsideWire}},PEER={{generator.LocalEndPoint}}" },
                              { "ifid": 2, "mac": "02:00:00:00:00:02", "addresses": ["198.51.100.1/24"],
                                "source": "udp:LOCAL=127.0.0.1:{{insideWire}},PEER={{sink.LocalEndPoint}}" } ],
              {{table}}
            }
            """;
        var dataPlane = $$"""
            {
              "role": "dataplane", "nodeId": 1, "tunnel": { "listen": "127.0.0.1:{{dataPlanePort}}" },
              "interfaces": [ { "ifid": 1, "mac": "02:00:00:00:00:01", "addresses": ["192.0.2.1/24"], "dispatcher": 100 },
                              { "ifid": 2, "mac": "02:00:00:00:00:02", "addresses": ["198.51.100.1/24"], "dispatcher": 100 } ],
              {{table}}
            }
            """;
        await using var dataPlaneHost = await NodeHost.StartAsync(Parse("data plane", dataPlane));
        await using var dispatcherHost = await NodeHost.StartAsync(Parse("dispatcher", dispatcher));
        var datagrams = new byte[Flows][];
        for (var f = 0; f < Flows; f++)
        {
            datagrams[f] = TcpFrame(f);
        }

        var outside = new IPEndPoint(IPAddress.Loopback, outsideWire);
        var arp = new byte[64];
        var arpLength = PacketBuilder.ArpRequest(arp, ServerMac, 0xC6336402, 0xC6336401); // 198.51.100.2 asks for .1
        _ = SendFrames(sink, new IPEndPoint(IPAddress.Loopback, insideWire), [arp[..arpLength]]);
        await Task.Delay(200);
        _ = SendFrames(generator, outside, datagrams);
        _ = RelayHarness.Sink(sink, () => true);

        var generatorDone = 0;
        var sinkResult = (Received: 0L, First: 0L, Last: 0L);
        var sinkThread = new Thread(() => sinkResult = RelayHarness.Sink(sink, () => Volatile.Read(ref generatorDone) != 0, ForwardedToServer))
        {
            Name = "relay-sink",
        };
        var cpu = EngineCpuClock.Start();
        sinkThread.Start();
        var sent = Generate(generator, outside, datagrams, options, null);
        Volatile.Write(ref generatorDone, 1);
        sinkThread.Join();
        var engineCpu = cpu.Elapsed();
        var window = sinkResult.Received > 1 ? Stopwatch.GetElapsedTime(sinkResult.First, sinkResult.Last) : TimeSpan.Zero;
        return new RelayResult(ChainName, sent, sinkResult.Received, sinkResult.Received, window, 0, engineCpu);

        static NodeSettings Parse(string name, string config) => NodeSettings.TryParse(config, out var settings, out var errors)
            ? settings!
            : throw new InvalidOperationException($"{name}: harness configuration refused: {string.Join("; ", errors)}");
    }

    internal const string ChainName = "DVA chain (disp -> dp -> disp)";

    internal const string ChainBaselineName = "baseline: 3 relays in a row";

    /// <summary>The bare path the chain is compared with: three relays in a row, datagrams as long as a DISPATCH.</summary>
    internal static RelayResult RunChainBaseline(RelayOptions options) =>
        RelayHarness.Run(ChainBaselineName, null, options with { PayloadBytes = DispatchDatagramLength }, new RelaySetup(Hops: 3));

    /// <summary>Sends each frame once, in batches with a pause between them; returns how many the socket took.</summary>
    private static long SendFrames(UdpTunnelSocket socket, IPEndPoint target, byte[][] frames)
    {
        var peer = PacketAddress.FromEndPoint(target);
        var batch = new PacketBuffer[Math.Min(frames.Length, PacketPort.MaxBatch)];
        long sent = 0;
        for (var first = 0; first < frames.Length; first += batch.Length)
        {
            var n = Math.Min(batch.Length, frames.Length - first);
            for (var i = 0; i < n; i++)
            {
                batch[i] ??= PacketBuffer.CreateUnpooled();
                batch[i].TrySetFrame(frames[first + i]);
                batch[i].Peer = peer;
            }

            sent += socket.Send(batch.AsSpan(0, n));
            Thread.Sleep(1); // the warm-up should reach every flow, not overrun the wire
        }

        return sent;
    }

    private static readonly byte[] ServerMac = [0x02, 0x00, 0x00, 0x00, 0x0B, 0x0B];
    private static readonly byte[] InsideMac = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02];

    // What the chain must deliver: a harness frame routed to the server, from the inside interface's shared MAC to the
    // server's learned one, its TTL one lower; an ARP the dispatcher sends instead does not count.
    private static bool ForwardedToServer(ReadOnlySpan<byte> frame) =>
        frame.Length == 128 && frame[..6].SequenceEqual(ServerMac) && frame[6..12].SequenceEqual(InsideMac) && frame[14 + 8] == 63;

    // The outer source port a dispatcher gives the frame's flow under the harness table's seed.
    private static ushort FlowPort(byte[] frame)
    {
        if (PacketParser.TryParse(frame, out var info) != ParseError.None || !FlowKey.TryFrom(info, out var key, out _))
        {
            throw new InvalidOperationException("the harness frame has no flow key");
        }

        return TunnelLayout.UdpSourcePort(FlowHasher.Hash(key, HarnessSeed));
    }

    private const ulong HarnessSeed = 0x5eed;

    private static async Task<RelayResult> RunAsync(
        string name, string config, UdpTunnelSocket generator, IPEndPoint target, UdpTunnelSocket sink, byte[][] datagrams, RelayOptions options,
        ushort[]? sourcePorts = null)
    {
        if (!NodeSettings.TryParse(config, out var settings, out var errors))
        {
            throw new InvalidOperationException($"{name}: harness configuration refused: {string.Join("; ", errors)}");
        }

        await using var host = await NodeHost.StartAsync(settings!);
        var generatorDone = 0;
        var sinkResult = (Received: 0L, First: 0L, Last: 0L);
        var sinkThread = new Thread(() => sinkResult = RelayHarness.Sink(sink, () => Volatile.Read(ref generatorDone) != 0)) { Name = "relay-sink" };
        var cpu = EngineCpuClock.Start();
        sinkThread.Start();
        var sent = Generate(generator, target, datagrams, options, sourcePorts);
        Volatile.Write(ref generatorDone, 1);
        sinkThread.Join();
        var engineCpu = cpu.Elapsed();
        var counters = host.Counters.Snapshot();
        var window = sinkResult.Received > 1 ? Stopwatch.GetElapsedTime(sinkResult.First, sinkResult.Last) : TimeSpan.Zero;
        return new RelayResult(name, sent, counters.FramesOut, sinkResult.Received, window, 0, engineCpu);
    }

    private static long Generate(UdpTunnelSocket generator, IPEndPoint target, byte[][] datagrams, RelayOptions options, ushort[]? sourcePorts)
    {
        var batch = new PacketBuffer[PacketPort.MaxBatch];
        var peer = PacketAddress.FromEndPoint(target);
        for (var i = 0; i < batch.Length; i++)
        {
            batch[i] = PacketBuffer.CreateUnpooled();
            batch[i].Peer = peer;
        }

        long sent = 0;
        var next = 0;
        var clock = Stopwatch.StartNew();
        while (sent < options.Packets && clock.Elapsed < options.Duration)
        {
            var n = (int)Math.Min(batch.Length, options.Packets - sent);
            for (var i = 0; i < n; i++)
            {
                batch[i].TrySetFrame(datagrams[next]);
                batch[i].SourcePort = sourcePorts?[next] ?? 0;
                next = (next + 1) % datagrams.Length;
            }

            sent += generator.Send(batch.AsSpan(0, n));
            if (options.GeneratorYieldEveryBatches > 0 && sent / PacketPort.MaxBatch % options.GeneratorYieldEveryBatches == 0)
            {
                Thread.Yield();
            }
        }

        return sent;
    }

    // A 128-byte TCP/IPv4 ACK from client 192.0.2.(10 + f / 256) port 10000 + f % 256 to 198.51.100.2:80.
    internal static byte[] TcpFrame(int flow)
    {
        var frame = new byte[14 + 20 + 20 + 74];
        SharedMac.CopyTo(frame, 0);
        HostMac.CopyTo(frame, 6);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), PacketConstants.EtherTypeIpv4);
        var ip = frame.AsSpan(14);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(frame.Length - 14));
        ip[8] = 64;
        ip[9] = PacketConstants.ProtocolTcp;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], 0xC0000200u + 10 + (uint)(flow / 256));
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], 0xC6336402);
        Checksum.WriteIpv4Header(ip);
        var tcp = ip[20..];
        BinaryPrimitives.WriteUInt16BigEndian(tcp, (ushort)(10000 + (flow % 256)));
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], 80);
        tcp[12] = 5 << 4;
        tcp[13] = (byte)TcpFlags.Ack;
        return frame;
    }

    private static byte[] Dispatch(byte[] frame, byte era)
    {
        var buffer = new byte[128 + frame.Length];
        frame.CopyTo(buffer, 128);
        var fields = new TunnelFields
        {
            DNode = 1, HNode = 100, SNode = 100, Type = TunnelType.Dispatch, Era = era, Ttl = TunnelFields.InitialTtl, IfId = 1,
        };
        var error = TunnelWriter.TryWriteInFront(buffer, 128, frame.Length, fields, [], out var start, out var length);
        return error == WireError.None ? buffer.AsSpan(start, length).ToArray() : throw new InvalidOperationException(error.ToString());
    }

    private static int FreePort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }

    /// <summary>The length of the DISPATCH datagrams the data plane run sends (and about what both roles send on).</summary>
    internal static int DispatchDatagramLength => Dispatch(TcpFrame(0), era: 1).Length;

    /// <summary>
    /// <paramref name="rounds"/> rounds of baseline, dispatcher and data plane, each role printed with its ratio to its
    /// own round's baseline, then the median ratio of each role over the rounds. Three busy threads share two cores, so
    /// one round's ratio swings with scheduling; rounds that alternate see the same drift, and the median of the
    /// per-round ratios is the figure. The baseline relays datagrams as long as the roles' DISPATCH datagrams.
    /// </summary>
    public static async Task<IReadOnlyList<RelayResult>> CompareAsync(RelayOptions options, TextWriter output, int rounds = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rounds, 1);
        var baselineOptions = options with { PayloadBytes = DispatchDatagramLength };
        var results = new List<RelayResult>();
        var dispatcherRatios = new List<double>();
        var dataPlaneRatios = new List<double>();
        var dispatcherCost = new List<double>();
        var dataPlaneCost = new List<double>();
        for (var round = 1; round <= rounds; round++)
        {
            if (rounds > 1)
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"round {round} of {rounds}"));
            }

            var baseline = RelayHarness.Run($"{RelayHarness.BaselineName}, {baselineOptions.PayloadBytes} B", null, baselineOptions);
            RelayHarness.Print(output, baseline, baseline);
            var dispatcher = await RunDispatcherAsync(options);
            RelayHarness.Print(output, dispatcher, baseline);
            var dataPlane = await RunDataPlaneAsync(options);
            RelayHarness.Print(output, dataPlane, baseline);
            results.AddRange([baseline, dispatcher, dataPlane]);
            dispatcherRatios.Add(Ratio(dispatcher, baseline));
            dataPlaneRatios.Add(Ratio(dataPlane, baseline));
            dispatcherCost.Add(CostRatio(dispatcher, baseline));
            dataPlaneCost.Add(CostRatio(dataPlane, baseline));
        }

        if (rounds > 1)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"over {rounds} rounds, pps: {Summary("dispatcher", dispatcherRatios)}; {Summary("data plane", dataPlaneRatios)}"));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"over {rounds} rounds, rate per engine CPU: {Summary("dispatcher", dispatcherCost)}; {Summary("data plane", dataPlaneCost)}"));
        }

        return results;

        static double Ratio(RelayResult role, RelayResult baseline) =>
            baseline.PacketsPerSecond > 0 ? role.PacketsPerSecond / baseline.PacketsPerSecond : 0;

        // Baseline CPU per datagram over the role's: the rate the role would reach against the baseline's if each had a
        // core of its own.
        static double CostRatio(RelayResult role, RelayResult baseline) =>
            role.CpuNanosecondsPerPacket > 0 ? baseline.CpuNanosecondsPerPacket / role.CpuNanosecondsPerPacket : 0;

        static string Summary(string name, List<double> ratios) => string.Create(
            CultureInfo.InvariantCulture,
            $"{name} median {Median(ratios):F2}x (min {ratios.Min():F2}, max {ratios.Max():F2}, {ratios.Count(r => r >= 0.9)} of {ratios.Count} rounds >= 0.90)");
    }

    /// <summary>The median of <paramref name="values"/> (the mean of the middle two for an even count).</summary>
    internal static double Median(IReadOnlyCollection<double> values)
    {
        var sorted = values.Order().ToArray();
        var middle = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }

    /// <summary>
    /// <paramref name="rounds"/> rounds of the bare three-relay path and the DVA chain, each chain run against its own
    /// round's baseline, then the medians (pps and rate per engine CPU).
    /// </summary>
    public static async Task<IReadOnlyList<RelayResult>> CompareChainAsync(RelayOptions options, TextWriter output, int rounds = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rounds, 1);
        var results = new List<RelayResult>();
        var ratios = new List<double>();
        var cost = new List<double>();
        for (var round = 1; round <= rounds; round++)
        {
            if (rounds > 1)
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"round {round} of {rounds}"));
            }

            var baseline = RunChainBaseline(options);
            RelayHarness.Print(output, baseline, baseline);
            var chain = await RunChainAsync(options);
            RelayHarness.Print(output, chain, baseline);
            results.AddRange([baseline, chain]);
            ratios.Add(baseline.PacketsPerSecond > 0 ? chain.PacketsPerSecond / baseline.PacketsPerSecond : 0);
            cost.Add(chain.CpuNanosecondsPerPacket > 0 ? baseline.CpuNanosecondsPerPacket / chain.CpuNanosecondsPerPacket : 0);
        }

        if (rounds > 1)
        {
            output.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"over {rounds} rounds: DVA chain pps median {Median(ratios):F2}x (min {ratios.Min():F2}, max {ratios.Max():F2}); rate per engine CPU median {Median(cost):F2}x (min {cost.Min():F2}, max {cost.Max():F2})"));
        }

        return results;
    }

    /// <summary>
    /// Baseline, then the real data plane on one engine and on <paramref name="engines"/> engines, both fed by the same
    /// generator sending each flow from its hash's port (docs/benchmarks.md, "Several engines on one tunnel endpoint").
    /// </summary>
    public static async Task<IReadOnlyList<RelayResult>> CompareDataPlaneEnginesAsync(int engines, RelayOptions options, TextWriter output)
    {
        var baseline = RelayHarness.Run(RelayHarness.BaselineName, null, options);
        RelayHarness.Print(output, baseline, baseline);
        var one = await RunDataPlaneAsync(options, 1, flowPorts: true);
        RelayHarness.Print(output, one, baseline);
        var many = await RunDataPlaneAsync(options, engines, flowPorts: true);
        RelayHarness.Print(output, many, baseline);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{engines} engines / 1 engine: {(one.PacketsPerSecond > 0 ? many.PacketsPerSecond / one.PacketsPerSecond : 0):F2}x"));
        return [baseline, one, many];
    }

    /// <summary>Baseline, then the dispatcher with a plain, an authenticated and an encrypted tunnel (docs/benchmarks.md, "Secure tunnel").</summary>
    public static async Task<IReadOnlyList<RelayResult>> CompareSecureAsync(RelayOptions options, TextWriter output)
    {
        var baseline = RelayHarness.Run(RelayHarness.BaselineName, null, options);
        RelayHarness.Print(output, baseline, baseline);
        var results = new List<RelayResult> { baseline };
        foreach (var mode in new[] { TunnelSecurityMode.Plain, TunnelSecurityMode.Authenticated, TunnelSecurityMode.Encrypted })
        {
            var result = await RunDispatcherAsync(options, mode);
            RelayHarness.Print(output, result, baseline);
            results.Add(result);
        }

        return results;
    }
}
