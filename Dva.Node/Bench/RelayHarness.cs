using System.Diagnostics;
using System.Globalization;
using System.IO.Hashing;
using System.Net;
using Dva.Node.Engine;
using Dva.Node.Io;
using Dva.Shared.Wire;

namespace Dva.Node.Bench;

/// <summary>
/// Per-packet work measured by the relay: called on the engine thread for each received datagram, whose
/// <see cref="PacketBuffer.Peer"/> is already set to the sink. Return false to drop the packet.
/// The dispatcher and data plane slot their real processing in here.
/// </summary>
internal delegate bool RelayWork(PacketBuffer packet);

internal sealed record RelayOptions
{
    /// <summary>Datagrams the generator sends at most.</summary>
    public long Packets { get; init; } = 2_000_000;

    /// <summary>The generator stops at this time even if <see cref="Packets"/> were not all sent.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>UDP payload of each datagram (a small frame: the per-packet cost dominates, not the copy).</summary>
    public int PayloadBytes { get; init; } = 100;

    /// <summary>Optional pause after each 64-datagram batch so the generator does not starve the relay on few cores.</summary>
    public int GeneratorYieldEveryBatches { get; init; }
}

/// <summary>Which datagrams a sink counts.</summary>
internal delegate bool SinkFilter(ReadOnlySpan<byte> datagram);

/// <summary>How a relay run is built: engine threads (one SO_REUSEPORT socket each) and which sends use per-flow ports.</summary>
internal sealed record RelaySetup(int Engines = 1, bool FlowSourcePorts = false, bool GeneratorFlowPorts = false, int Hops = 1);

/// <param name="EngineCpu">
/// The CPU time the relay's engine threads (<c>dva-engine-N</c>) ran while the generator sent and the sink drained
/// (<see cref="EngineCpuClock"/>): what relaying cost, whatever share of the cores the relay got.
/// </param>
internal sealed record RelayResult(string Name, long Sent, long Relayed, long Received, TimeSpan Window, double MeanReceiveBatch, TimeSpan EngineCpu = default)
{
    /// <summary>Datagrams the sink received per second, between its first and last datagram.</summary>
    public double PacketsPerSecond => Window > TimeSpan.Zero ? Received / Window.TotalSeconds : 0;

    /// <summary>Engine CPU per relayed datagram, in nanoseconds (0 when nothing was relayed or no CPU was read).</summary>
    public double CpuNanosecondsPerPacket => Relayed > 0 ? EngineCpu.TotalNanoseconds / Relayed : 0;

    public double LossPercent => Sent == 0 ? 0 : 100.0 * (Sent - Received) / Sent;
}

/// <summary>
/// A load harness on 127.0.0.1: a generator floods a relay port, an <see cref="EpollEngine"/> relays every
/// datagram (recvmmsg → optional <see cref="RelayWork"/> → sendmmsg) to a sink, and the sink counts.
/// The baseline does no work; a dispatcher or data plane relay run in the same process reports its rate
/// as a ratio of the baseline, which is steadier than absolute figures on a shared machine.
/// </summary>
internal static class RelayHarness
{
    public const string BaselineName = "baseline recvmmsg->sendmmsg";

    /// <summary>Runs the baseline, then each variant, and prints one line each with the ratio to the baseline.</summary>
    public static IReadOnlyList<RelayResult> Compare(IEnumerable<(string Name, RelayWork Work)> variants, RelayOptions options, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(variants);
        ArgumentNullException.ThrowIfNull(output);
        var results = new List<RelayResult> { Run(BaselineName, null, options) };
        Print(output, results[0], results[0]);
        foreach (var (name, work) in variants)
        {
            var result = Run(name, work, options);
            results.Add(result);
            Print(output, result, results[0]);
        }

        return results;
    }

    public static RelayResult Run(string name, RelayWork? work, RelayOptions options, bool flowSourcePorts = false) =>
        Run(name, work, options, new RelaySetup(FlowSourcePorts: flowSourcePorts));

    /// <summary>
    /// One relay run: <see cref="RelaySetup.Engines"/> engine threads, each on its own SO_REUSEPORT socket of one
    /// endpoint (<see cref="TunnelSocketGroup"/>, steered by source port), relay every datagram to the sink. With
    /// <see cref="RelaySetup.Hops"/> &gt; 1, that many such relays in a row, each sending to the next and the last to the
    /// sink: the bare path a DVA's dispatcher → data plane → dispatcher chain is compared with.
    /// <see cref="RelayResult.Relayed"/> counts what the last relay sent on.
    /// </summary>
    public static RelayResult Run(string name, RelayWork? work, RelayOptions options, RelaySetup setup)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(setup);
        ArgumentOutOfRangeException.ThrowIfLessThan(setup.Hops, 1);
        var loopback = new IPEndPoint(IPAddress.Loopback, 0);
        var frameSize = Math.Max(BufferPool.DefaultFrameSize, options.PayloadBytes);
        var groups = new TunnelSocketGroup[setup.Hops];
        var engines = new EpollEngine[setup.Hops * setup.Engines];
        using var sink = UdpTunnelSocket.Open(loopback);
        using var generator = UdpTunnelSocket.Open(loopback);
        try
        {
            if (setup.GeneratorFlowPorts && !generator.EnableFlowSourcePorts(UdpSockets.DefaultSocketBufferBytes, out var generatorWhy))
            {
                throw new InvalidOperationException(generatorWhy);
            }

            for (var h = 0; h < groups.Length; h++)
            {
                groups[h] = TunnelSocketGroup.Open(loopback, setup.Engines);
            }

            // One counter per engine, a cache line apart; the last hop's engines count what reached the sink.
            var relayed = new long[engines.Length * 8];
            for (var h = 0; h < groups.Length; h++)
            {
                var next = PacketAddress.FromEndPoint(h + 1 < groups.Length ? groups[h + 1].LocalEndPoint : sink.LocalEndPoint);
                for (var e = 0; e < setup.Engines; e++)
                {
                    var relayPort = groups[h].Sockets[e];
                    if (setup.FlowSourcePorts && !relayPort.EnableFlowSourcePorts(UdpSockets.DefaultSocketBufferBytes, out var why))
                    {
                        throw new InvalidOperationException(why);
                    }

                    // One pool per engine: the engines share nothing.
                    var index = (h * setup.Engines) + e;
                    engines[index] = new EpollEngine(new BufferPool(maxBuffers: 4096, frameSize: frameSize), id: index);
                    var slot = index * 8;
                    engines[index].Register(relayPort, batch =>
                    {
                        var forwarded = 0;
                        for (var i = 0; i < batch.Count; i++)
                        {
                            var packet = batch[i];
                            packet.Peer = next;
                            if ((work is null || work(packet)) && batch.Send(i, relayPort))
                            {
                                forwarded++;
                            }
                        }

                        Volatile.Write(ref relayed[slot], relayed[slot] + forwarded);
                    });
                }
            }

            foreach (var engine in engines)
            {
                engine.Start();
            }

            var generatorDone = 0;
            var sinkResult = (Received: 0L, First: 0L, Last: 0L);
            var sinkThread = new Thread(() => sinkResult = Sink(sink, () => Volatile.Read(ref generatorDone) != 0)) { Name = "relay-sink" };
            var cpu = EngineCpuClock.Start();
            sinkThread.Start();
            var sent = Generate(generator, groups[0].LocalEndPoint, options, setup.GeneratorFlowPorts);
            Volatile.Write(ref generatorDone, 1);
            sinkThread.Join();
            var engineCpu = cpu.Elapsed();
            foreach (var engine in engines)
            {
                engine.Stop();
            }

            var window = sinkResult.Received > 1 ? Stopwatch.GetElapsedTime(sinkResult.First, sinkResult.Last) : TimeSpan.Zero;
            var batches = groups[0].Sockets.Sum(socket => socket.Counters.ReceiveBatches);
            var meanBatch = batches == 0 ? 0 : (double)groups[0].Sockets.Sum(socket => socket.Counters.ReceivedPackets) / batches;
            var total = 0L;
            for (var e = engines.Length - setup.Engines; e < engines.Length; e++)
            {
                total += Volatile.Read(ref relayed[e * 8]);
            }

            return new RelayResult(name, sent, total, sinkResult.Received, window, meanBatch, engineCpu);
        }
        finally
        {
            foreach (var engine in engines)
            {
                engine?.Dispose();
            }

            foreach (var group in groups)
            {
                group?.Dispose();
            }
        }
    }

    /// <param name="flowPorts">Each of the 64 slots (one flow each) leaves from its own port, 49152 + slot.</param>
    private static long Generate(UdpTunnelSocket generator, IPEndPoint target, RelayOptions options, bool flowPorts)
    {
        var batch = new PacketBuffer[PacketPort.MaxBatch];
        for (var i = 0; i < batch.Length; i++)
        {
            batch[i] = PacketBuffer.CreateUnpooled(Math.Max(BufferPool.DefaultFrameSize, options.PayloadBytes));
            batch[i].SetFrameLength(options.PayloadBytes);
            batch[i].Frame.Fill((byte)i);
            batch[i].Peer = PacketAddress.FromEndPoint(target);
            batch[i].SourcePort = flowPorts ? (ushort)(FlowPortSender.FirstSourcePort + i) : (ushort)0;
        }

        long sent = 0;
        var batches = 0;
        var clock = Stopwatch.StartNew();
        while (sent < options.Packets && clock.Elapsed < options.Duration)
        {
            var n = (int)Math.Min(batch.Length, options.Packets - sent);
            sent += generator.Send(batch.AsSpan(0, n));
            if (options.GeneratorYieldEveryBatches > 0 && ++batches % options.GeneratorYieldEveryBatches == 0)
            {
                Thread.Yield();
            }
        }

        return sent;
    }

    /// <summary>Counts until the generator is done and the sink has been quiet for 200 ms.</summary>
    /// <param name="counts">When given, only datagrams it accepts are counted (the rest are read and passed over).</param>
    internal static (long Received, long First, long Last) Sink(UdpTunnelSocket sink, Func<bool> generatorDone, SinkFilter? counts = null)
    {
        var pool = new BufferPool(PacketPort.MaxBatch);
        var slots = new PacketBuffer[PacketPort.MaxBatch];
        for (var i = 0; i < slots.Length; i++)
        {
            _ = pool.TryRent(out var buffer);
            slots[i] = buffer!;
        }

        long received = 0;
        long first = 0;
        long last = 0;
        var idle = Stopwatch.StartNew();
        while (true)
        {
            if (!sink.WaitReadable(200))
            {
                // Done once the generator is and 200 ms pass without a datagram; before the first datagram, allow a role
                // that is still compiling its first batch (a loaded machine, a full test run) up to 5 s. The figure's
                // window runs from the first datagram to the last, so the wait does not enter it.
                if (generatorDone() && (received > 0 || idle.Elapsed > TimeSpan.FromSeconds(5)))
                {
                    return (received, first, last);
                }

                continue;
            }

            var n = sink.Receive(slots);
            if (counts is not null)
            {
                var accepted = 0;
                for (var i = 0; i < n; i++)
                {
                    accepted += counts(slots[i].Frame) ? 1 : 0;
                }

                n = accepted;
            }

            if (n > 0)
            {
                last = Stopwatch.GetTimestamp();
                if (received == 0)
                {
                    first = last;
                }

                received += n;
            }
        }
    }

    internal static void Print(TextWriter output, RelayResult result, RelayResult baseline)
    {
        var ratio = baseline.PacketsPerSecond > 0 ? result.PacketsPerSecond / baseline.PacketsPerSecond : 0;
        var costRatio = result.CpuNanosecondsPerPacket > 0 ? baseline.CpuNanosecondsPerPacket / result.CpuNanosecondsPerPacket : 0;
        output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"{result.Name,-32} sent {result.Sent,10:N0}  relayed {result.Relayed,10:N0}  received {result.Received,10:N0}  loss {result.LossPercent,5:F1}%  {result.PacketsPerSecond,12:N0} pps  {ratio:F2}x baseline  mean batch {result.MeanReceiveBatch:F1}  engine CPU {result.CpuNanosecondsPerPacket,6:F0} ns/pkt ({costRatio:F2}x baseline's rate per CPU)"));
    }
}

/// <summary>The command line of the relay harness, for the node's bench command to call.</summary>
internal static class RelayHarnessCommand
{
    public const string Usage = "relay [--roles [--rounds N] | --chain [--rounds N] | --secure | --flow-ports | --engines N | --roles --engines N] [--seconds N] [--packets N] [--payload BYTES]";

    /// <summary>
    /// Baseline, then the same relay sending each datagram from a per-flow source port through the raw socket
    /// (<see cref="FlowPortSender"/>): the cost of DESIGN.md §2's ECMP-friendly ports. 64 flows, one per generator slot.
    /// </summary>
    public static IReadOnlyList<RelayResult> CompareFlowPorts(RelayOptions options, TextWriter output)
    {
        var baseline = RelayHarness.Run(RelayHarness.BaselineName, null, options);
        RelayHarness.Print(output, baseline, baseline);
        var flowPorts = RelayHarness.Run("per-flow source ports (raw)", FlowPort, options, flowSourcePorts: true);
        RelayHarness.Print(output, flowPorts, baseline);
        return [baseline, flowPorts];

        // The generator fills each slot's payload with its index: one flow per slot, hashed as a role would.
        static bool FlowPort(PacketBuffer packet)
        {
            packet.SourcePort = TunnelLayout.UdpSourcePort(XxHash3.HashToUInt64(packet.Frame[..1]));
            return true;
        }
    }

    /// <summary>
    /// One engine, then <paramref name="engines"/> engines on one SO_REUSEPORT endpoint, with the same generator (64
    /// flows from 64 source ports, so the steering program spreads them): how relay throughput scales with engines.
    /// </summary>
    public static IReadOnlyList<RelayResult> CompareEngines(int engines, RelayOptions options, TextWriter output)
    {
        var one = RelayHarness.Run("1 engine", null, options, new RelaySetup(1, GeneratorFlowPorts: true));
        RelayHarness.Print(output, one, one);
        var many = RelayHarness.Run($"{engines} engines (SO_REUSEPORT)", null, options, new RelaySetup(engines, GeneratorFlowPorts: true));
        RelayHarness.Print(output, many, one);
        return [one, many];
    }

    /// <summary>Parses the options and runs the baseline; returns a process exit code (2 on a bad option).</summary>
    public static int Run(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        var options = new RelayOptions();
        var roles = false;
        var flowPorts = false;
        var engines = 0;
        var rounds = 0;
        var chain = false;
        var secure = false;
        for (var i = 0; i < args.Count; i++)
        {
            if (args[i] == "--secure")
            {
                // Baseline, then the dispatcher role with a plain, an authenticated and an encrypted tunnel.
                secure = true;
                continue;
            }

            if (args[i] == "--flow-ports")
            {
                flowPorts = true;
                continue;
            }

            if (args[i] == "--chain")
            {
                // The bare three-relay path, then dispatcher -> data plane -> dispatcher, as a ratio of it.
                chain = true;
                continue;
            }

            if (args[i] == "--roles")
            {
                // Baseline, then the real dispatcher and data plane roles, each as a ratio of the baseline.
                roles = true;
                continue;
            }

            var value = i + 1 < args.Count ? args[i + 1] : null;
            if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number <= 0)
            {
                error.WriteLine($"relay: option '{args[i]}' needs a positive number; usage: {Usage}");
                return 2;
            }

            switch (args[i])
            {
                case "--seconds":
                    options = options with { Duration = TimeSpan.FromSeconds(number) };
                    break;
                case "--packets":
                    options = options with { Packets = number };
                    break;
                case "--rounds" when number <= 100:
                    rounds = (int)number;
                    break;
                case "--engines" when number <= 64:
                    engines = (int)number;
                    break;
                case "--payload" when number <= 65507:
                    options = options with { PayloadBytes = (int)number };
                    break;
                default:
                    error.WriteLine($"relay: unknown or out-of-range option '{args[i]} {value}'; usage: {Usage}");
                    return 2;
            }

            i++;
        }

        if ((rounds > 0 && (roles == chain || engines > 0)) || (chain && (roles || engines > 0 || secure || flowPorts)))
        {
            error.WriteLine($"relay: --rounds goes with --roles or --chain alone, and --chain with no other mode; usage: {Usage}");
            return 2;
        }

        if (chain)
        {
            RoleRelayHarness.CompareChainAsync(options, output, Math.Max(rounds, 1)).GetAwaiter().GetResult();
            return 0;
        }

        if (secure)
        {
            RoleRelayHarness.CompareSecureAsync(options, output).GetAwaiter().GetResult();
            return 0;
        }

        if (engines > 0 && roles)
        {
            RoleRelayHarness.CompareDataPlaneEnginesAsync(engines, options, output).GetAwaiter().GetResult();
            return 0;
        }

        if (engines > 0)
        {
            CompareEngines(engines, options, output);
            return 0;
        }

        if (flowPorts)
        {
            CompareFlowPorts(options, output);
            return 0;
        }

        if (roles)
        {
            RoleRelayHarness.CompareAsync(options, output, Math.Max(rounds, 1)).GetAwaiter().GetResult();
            return 0;
        }

        RelayHarness.Compare([], options, output);
        return 0;
    }
}

/// <summary>
/// The CPU time of the process's engine threads (named <c>dva-engine-N</c>), read from each thread's
/// <c>/proc/self/task/TID/schedstat</c> (time on a CPU, in ns): <see cref="Start"/> notes every engine thread's time,
/// <see cref="Elapsed"/> sums what each engine thread ran since (a thread started meanwhile counts from zero). Read
/// before the engines stop: a finished thread's time is gone with its task.
/// </summary>
internal sealed class EngineCpuClock
{
    private readonly Dictionary<int, long> _start;

    private EngineCpuClock(Dictionary<int, long> start) => _start = start;

    public static EngineCpuClock Start() => new(Read());

    public TimeSpan Elapsed()
    {
        var nanoseconds = Read().Sum(thread => thread.Value - _start.GetValueOrDefault(thread.Key));
        return TimeSpan.FromTicks(nanoseconds / 100);
    }

    private static Dictionary<int, long> Read()
    {
        var times = new Dictionary<int, long>();
        foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            try
            {
                if (!File.ReadAllText(Path.Combine(task, "comm")).StartsWith("dva-engine", StringComparison.Ordinal))
                {
                    continue;
                }

                var schedstat = File.ReadAllText(Path.Combine(task, "schedstat"));
                var end = schedstat.IndexOf(' ', StringComparison.Ordinal);
                if (long.TryParse(end < 0 ? schedstat : schedstat[..end], NumberStyles.None, CultureInfo.InvariantCulture, out var ns))
                {
                    times[int.Parse(Path.GetFileName(task), CultureInfo.InvariantCulture)] = ns;
                }
            }
            catch (IOException)
            {
                // The thread ended between the listing and the read: it ran nothing more.
            }
        }

        return times;
    }
}
