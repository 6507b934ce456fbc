using System.Diagnostics;
using System.Globalization;
using System.Net;
using Dva.Node.Agent;
using Dva.Node.Config;
using Dva.Node.Interop;
using Dva.Node.Io;

namespace Dva.Node.Bench;

internal sealed record DispatcherBenchOptions
{
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(4);

    /// <summary>Rounds of (1 engine, <see cref="Engines"/> engines); each many-engine run is compared with the one-engine run just before it.</summary>
    public int Rounds { get; init; } = 2;

    public int Engines { get; init; } = 2;

    /// <summary>The dispatcher's source: <c>afpacket:dvab1?ring=1</c> (true) or <c>afpacket:dvab1</c> (recvmmsg).</summary>
    public bool Ring { get; init; } = true;

    /// <summary>
    /// <c>afxdp:dvab1</c> instead: the veth is made with one queue per engine for each run, and engine i reads queue i.
    /// </summary>
    public bool Xdp { get; init; }

    public string Source => Xdp ? "afxdp:dvab1" : Ring ? "afpacket:dvab1?ring=1" : "afpacket:dvab1";
}

/// <param name="Received">Frames the dispatcher's engines took from their sources.</param>
/// <param name="Dispatched">DISPATCH datagrams the engines sent.</param>
/// <param name="SinkReceived">DISPATCH datagrams the data plane's socket (the sink) received.</param>
/// <param name="EngineCpu">CPU time of the dispatcher's engine threads together, kernel and user.</param>
internal sealed record DispatcherBenchResult(string Name, int Engines, long Sent, long Received, long Dispatched, long SinkReceived, TimeSpan Window, TimeSpan EngineCpu)
{
    public double PacketsPerSecond => Window > TimeSpan.Zero ? SinkReceived / Window.TotalSeconds : 0;

    public double CpuNanosecondsPerFrame => Dispatched > 0 ? EngineCpu.TotalNanoseconds / Dispatched : 0;

    public double LossPercent => Sent == 0 ? 0 : 100.0 * (Sent - SinkReceived) / Sent;
}

/// <summary>
/// <c>dva-node dispatcher-bench</c>: how the real dispatcher scales with its engines on one shared interface. A veth
/// pair in a namespace of its own; a sender thread floods one end through a raw AF_PACKET socket with TCP/IPv4 frames
/// of 4 096 flows to the shared MAC; a real dispatcher (<see cref="NodeHost"/>, <c>afpacket:</c> source, static table
/// of one data plane) on the other end, on one engine and then on N, whose sources share the interface's frames by
/// PACKET_FANOUT; the data plane is a socket that counts the DISPATCH datagrams it receives.
/// </summary>
internal static class DispatcherEnginesHarness
{
    public const string Usage = "dispatcher-bench [--seconds N] [--rounds N] [--engines N] [--recvmmsg | --xdp]";

    private const int Flows = 4096;

    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        var options = new DispatcherBenchOptions();
        for (var i = 0; i < args.Count; i++)
        {
            if (args[i] is "--recvmmsg" or "--xdp")
            {
                options = args[i] == "--xdp" ? options with { Xdp = true } : options with { Ring = false };
                continue;
            }

            var value = i + 1 < args.Count && int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var number) ? number : -1;
            switch (args[i])
            {
                case "--seconds" when value > 0:
                    options = options with { Duration = TimeSpan.FromSeconds(value) };
                    break;
                case "--rounds" when value > 0:
                    options = options with { Rounds = value };
                    break;
                case "--engines" when value is >= 2 and <= 64:
                    options = options with { Engines = value };
                    break;
                default:
                    error.WriteLine($"dispatcher-bench: bad option '{args[i]}'; usage: dva-node {Usage}");
                    return 2;
            }

            i++;
        }

        await CompareAsync(options, output);
        return 0;
    }

    public static async Task<IReadOnlyList<DispatcherBenchResult>> CompareAsync(DispatcherBenchOptions options, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(output);
        output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"veth, {options.Source}, {options.Duration.TotalSeconds:F0} s per run, {Environment.ProcessorCount} CPUs, load {File.ReadAllText("/proc/loadavg").Trim()}"));
        using var space = new BenchNamespace();
        var results = new List<DispatcherBenchResult>();
        for (var round = 0; round < options.Rounds; round++)
        {
            var one = await RunOnceAsync(space, 1, options);
            Print(output, one, one);
            var many = await RunOnceAsync(space, options.Engines, options);
            Print(output, many, one);
            results.Add(one);
            results.Add(many);
        }

        return results;
    }

    private static async Task<DispatcherBenchResult> RunOnceAsync(BenchNamespace space, int engines, DispatcherBenchOptions options)
    {
        // A veth of one queue per engine for afxdp: (each engine reads one); one queue otherwise, as before.
        var queues = options.Xdp ? engines : 1;
        space.Exec("sh -c \"ip link del dvab0 2>/dev/null || true\"");
        space.Exec($"ip link add dvab0 numtxqueues {queues} numrxqueues {queues} type veth peer name dvab1 numtxqueues {queues} numrxqueues {queues}");
        space.Exec("ip link set dvab0 up");
        space.Exec("ip link set dvab1 up");
        var up = Stopwatch.StartNew();
        while (!space.Exec("ip -o link show dvab0").Contains("state UP", StringComparison.Ordinal) && up.Elapsed < TimeSpan.FromSeconds(5))
        {
            Thread.Sleep(20);
        }

        using var sink = space.Enter(() => UdpTunnelSocket.Open(new IPEndPoint(IPAddress.Loopback, 0)));
        var listen = space.Enter(() =>
        {
            using var probe = UdpTunnelSocket.Open(new IPEndPoint(IPAddress.Loopback, 0));
            return probe.LocalEndPoint;
        });
        var source = options.Source;
        var config = $$"""
            {
              "role": "dispatcher", "nodeId": 100, "engines": {{engines}}, "tunnel": { "listen": "{{listen}}" },
              "interfaces": [ { "ifid": 1, "mac": "02:00:00:00:00:01", "addresses": ["192.0.2.1/24"], "source": "{{source}}" } ],
              "table": { "bucketCount": 4096, "seed": "0x5eed", "dvaId": "{{Guid.NewGuid()}}",
                         "dataPlanes": [ { "nodeId": 1, "endpoint": "{{sink.LocalEndPoint}}" } ],
                         "dispatchers": [ { "nodeId": 100, "endpoint": "{{listen}}" } ] }
            }
            """;
        if (!NodeSettings.TryParse(config, out var settings, out var errors))
        {
            throw new InvalidOperationException($"dispatcher-bench: harness configuration refused: {string.Join("; ", errors)}");
        }

        var senderSpec = new FrameSourceSpec { Kind = FrameSourceKind.AfPacket, InterfaceName = "dvab0" };
        using var sender = space.Enter(() => AfPacketFrameSource.Open(senderSpec, promiscuous: false));
        await using var host = await space.Enter(() => NodeHost.StartAsync(settings!));
        var generatorDone = 0;
        var sinkResult = (Received: 0L, First: 0L, Last: 0L);
        var sinkThread = new Thread(() => sinkResult = RelayHarness.Sink(sink, () => Volatile.Read(ref generatorDone) != 0)) { Name = "dispatcher-bench-sink" };
        sinkThread.Start();
        var sent = Send(sender, options.Duration);
        Volatile.Write(ref generatorDone, 1);
        sinkThread.Join();

        // Read while the engine threads still run: a thread's CPU clock goes with the thread.
        var cpu = TimeSpan.Zero;
        foreach (var engine in host.Engines)
        {
            cpu += engine.ThreadId != 0 ? Libc.ThreadCpuTime(engine.ThreadId) : TimeSpan.Zero;
        }

        var received = host.Dispatchers.Sum(r => r.Counters.FramesIn - r.Counters.Tunnel[(int)TunnelCounter.EgressReceived]);
        var dispatched = host.Dispatchers.Sum(r => r.Counters.Tunnel[(int)TunnelCounter.DispatchSent]);
        var window = sinkResult.Received > 1 ? Stopwatch.GetElapsedTime(sinkResult.First, sinkResult.Last) : TimeSpan.Zero;
        var name = engines == 1 ? "dispatcher, 1 engine" : $"dispatcher, {engines} engines";
        return new DispatcherBenchResult(name, engines, sent, received, dispatched, sinkResult.Received, window, cpu);
    }

    private static long Send(AfPacketFrameSource sender, TimeSpan duration)
    {
        var frames = new byte[Flows][];
        for (var f = 0; f < Flows; f++)
        {
            frames[f] = RoleRelayHarness.TcpFrame(f);
        }

        var batch = new PacketBuffer[PacketPort.MaxBatch];
        for (var i = 0; i < batch.Length; i++)
        {
            batch[i] = PacketBuffer.CreateUnpooled();
        }

        long sent = 0;
        var next = 0;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < duration)
        {
            foreach (var buffer in batch)
            {
                buffer.TrySetFrame(frames[next]);
                next = (next + 1) % Flows;
            }

            sent += sender.Send(batch);
        }

        return sent;
    }

    private static void Print(TextWriter output, DispatcherBenchResult result, DispatcherBenchResult baseline)
    {
        var rate = baseline.PacketsPerSecond > 0 ? result.PacketsPerSecond / baseline.PacketsPerSecond : 0;
        output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"{result.Name,-24} sent {result.Sent,11:N0}  taken {result.Received,11:N0}  dispatched {result.Dispatched,11:N0}  at the data plane {result.SinkReceived,11:N0}  loss {result.LossPercent,5:F1}%  {result.PacketsPerSecond,11:N0} pps ({rate:F2}x 1 engine)  engine CPU {result.CpuNanosecondsPerFrame,6:F0} ns/frame"));
    }
}
