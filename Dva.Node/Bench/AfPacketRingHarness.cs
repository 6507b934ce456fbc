using System.Diagnostics;
using System.Globalization;
using Dva.Node.Engine;
using Dva.Node.Interop;
using Dva.Node.Io;

namespace Dva.Node.Bench;

internal sealed record RingBenchOptions
{
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(4);

    /// <summary>Ethernet frame size the sender sends (60 = the minimum without FCS: the per-frame cost dominates).</summary>
    public int FrameBytes { get; init; } = 60;

    /// <summary>Rounds of (recvmmsg, ring[, afxdp native, afxdp generic]); each run is compared with the round's recvmmsg run.</summary>
    public int Rounds { get; init; } = 2;

    /// <summary>Also run the <c>afxdp:</c> source, with the XDP program in veth's driver and at the generic hook.</summary>
    public bool Xdp { get; init; }

    /// <summary>
    /// Sender threads, each on its own AF_PACKET socket. On veth the receiving socket's kernel work runs in the
    /// sender's context, so one sender thread is often the limit before the receiver is.
    /// </summary>
    public int Senders { get; init; } = 1;
}

/// <param name="ReceiverCpu">CPU time of the engine thread that received, kernel and user.</param>
internal sealed record RingBenchResult(string Name, long Sent, long Received, TimeSpan Window, TimeSpan ReceiverCpu, double MeanBatch, long KernelDrops)
{
    public double PacketsPerSecond => Window > TimeSpan.Zero ? Received / Window.TotalSeconds : 0;

    public double CpuNanosecondsPerPacket => Received > 0 ? ReceiverCpu.TotalNanoseconds / Received : 0;

    public double LossPercent => Sent == 0 ? 0 : 100.0 * (Sent - Received) / Sent;
}

/// <summary>
/// <c>dva-node afpacket-bench</c>: a veth pair in a namespace of its own; a sender thread floods one end through a
/// raw AF_PACKET socket as fast as it can, and an <see cref="EpollEngine"/> receives on the other end through the
/// recvmmsg source (<c>afpacket:</c>), the ring source (<c>afpacket:?ring=1</c>) or, with <c>--xdp</c>, the AF_XDP source (<c>afxdp:</c>, native and generic) and counts. Reported per run:
/// frames per second received and the engine thread's CPU time per frame, the figure that says how many frames one
/// engine core could take when the sender is not the limit.
/// </summary>
internal static class AfPacketRingHarness
{
    public const string Usage = "afpacket-bench [--seconds N] [--frame BYTES] [--rounds N] [--senders N] [--xdp]";

    private const int TestEthertype = 0x88B5;

    public static int Run(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        var options = new RingBenchOptions();
        for (var i = 0; i < args.Count; i++)
        {
            var value = i + 1 < args.Count && int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var number) ? number : -1;
            switch (args[i])
            {
                case "--xdp":
                    options = options with { Xdp = true };
                    continue;
                case "--seconds" when value > 0:
                    options = options with { Duration = TimeSpan.FromSeconds(value) };
                    break;
                case "--frame" when value is >= 60 and <= 1514:
                    options = options with { FrameBytes = value };
                    break;
                case "--rounds" when value > 0:
                    options = options with { Rounds = value };
                    break;
                case "--senders" when value is >= 1 and <= 8:
                    options = options with { Senders = value };
                    break;
                default:
                    error.WriteLine($"afpacket-bench: bad option '{args[i]}'; usage: dva-node {Usage}");
                    return 2;
            }

            i++;
        }

        Compare(options, output);
        return 0;
    }

    public static IReadOnlyList<RingBenchResult> Compare(RingBenchOptions options, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(output);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"veth, {options.FrameBytes}-byte frames, {options.Duration.TotalSeconds:F0} s per run, {options.Senders} sender thread(s), load {File.ReadAllText("/proc/loadavg").Trim()}"));
        using var space = new BenchNamespace();
        space.Exec("ip link add dvab0 type veth peer name dvab1");
        space.Exec("ip link set dvab0 up");
        space.Exec("ip link set dvab1 up");
        var results = new List<RingBenchResult>();
        for (var round = 0; round < options.Rounds; round++)
        {
            var baseline = RunOnce(space, "afpacket: (recvmmsg)", "afpacket:dvab1", options);
            Print(output, baseline, baseline);
            var ring = RunOnce(space, "afpacket:?ring=1 (TPACKET_V3)", "afpacket:dvab1?ring=1", options);
            Print(output, ring, baseline);
            results.Add(baseline);
            results.Add(ring);
            if (options.Xdp)
            {
                var xdp = RunOnce(space, "afxdp: (AF_XDP, native)", "afxdp:dvab1?mode=native", options);
                Print(output, xdp, baseline);
                var generic = RunOnce(space, "afxdp:?mode=generic", "afxdp:dvab1?mode=generic", options);
                Print(output, generic, baseline);
                results.Add(xdp);
                results.Add(generic);
            }
        }

        return results;
    }

    private static RingBenchResult RunOnce(BenchNamespace space, string name, string source, RingBenchOptions options)
    {
        var sendSpec = new FrameSourceSpec { Kind = FrameSourceKind.AfPacket, InterfaceName = "dvab0" };
        if (!FrameSourceSpec.TryParse(source, out var receiveSpec, out var error))
        {
            throw new ArgumentException(error, nameof(source));
        }

        var senders = Enumerable.Range(0, options.Senders).Select(_ => space.Enter(() => AfPacketFrameSource.Open(sendSpec, promiscuous: false))).ToList();
        using var receiver = space.Enter(() => receiveSpec.Open());
        using var engine = new EpollEngine(new BufferPool(maxBuffers: 4096), id: 0);
        long received = 0;
        long first = 0;
        long last = 0;
        var tid = 0;
        engine.Register(receiver, batch =>
        {
            if (tid == 0)
            {
                tid = Libc.gettid();
                first = Stopwatch.GetTimestamp();
            }

            // Only the sender's frames count; anything else the kernel puts on the link is not part of the figure.
            var ours = 0;
            for (var i = 0; i < batch.Count; i++)
            {
                var frame = batch[i].Frame;
                ours += frame.Length >= 14 && frame[12] == TestEthertype >> 8 && frame[13] == (TestEthertype & 0xFF) ? 1 : 0;
            }

            Volatile.Write(ref received, received + ours);
            last = Stopwatch.GetTimestamp();
        });
        engine.Start();
        long sent;
        try
        {
            var threads = senders.Select(sender => Task.Factory.StartNew(() => Send(sender, options), TaskCreationOptions.LongRunning)).ToArray();
            sent = Task.WhenAll(threads).GetAwaiter().GetResult().Sum();
        }
        finally
        {
            foreach (var sender in senders)
            {
                sender.Dispose();
            }
        }

        // The receiver drains what is queued; then the engine stops and the figures are read.
        var quiet = Stopwatch.StartNew();
        var seen = Volatile.Read(ref received);
        while (quiet.Elapsed < TimeSpan.FromMilliseconds(300))
        {
            Thread.Sleep(50);
            var now = Volatile.Read(ref received);
            if (now != seen)
            {
                seen = now;
                quiet.Restart();
            }
        }

        var cpu = tid != 0 ? Libc.ThreadCpuTime(tid) : TimeSpan.Zero;
        engine.Stop();
        var window = received > 1 ? Stopwatch.GetElapsedTime(first, last) : TimeSpan.Zero;
        var meanBatch = receiver.Counters.ReceiveBatches == 0 ? 0 : (double)receiver.Counters.ReceivedPackets / receiver.Counters.ReceiveBatches;
        var kernelDrops = receiver switch
        {
            AfPacketRingFrameSource ring => ring.ReadKernelStatistics().KernelDrops,
            AfXdpFrameSource xdp => (long)(xdp.ReadStatistics().RxDropped + xdp.ReadStatistics().RxRingFull),
            _ => ReadDrops(receiver.Fd),
        };
        return new RingBenchResult(name, sent, received, window, cpu, meanBatch, kernelDrops);
    }

    private static long Send(AfPacketFrameSource sender, RingBenchOptions options)
    {
        var batch = new PacketBuffer[PacketPort.MaxBatch];
        for (var i = 0; i < batch.Length; i++)
        {
            batch[i] = PacketBuffer.CreateUnpooled();
            batch[i].SetFrameLength(options.FrameBytes);
            var frame = batch[i].Frame;
            frame.Fill((byte)i);
            frame[..6].Fill(0xFF);
            frame[12] = TestEthertype >> 8;
            frame[13] = TestEthertype & 0xFF;
        }

        long sent = 0;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < options.Duration)
        {
            sent += sender.Send(batch);
        }

        return sent;
    }

    /// <summary>PACKET_STATISTICS of a socket without a ring (struct tpacket_stats: packets, drops).</summary>
    private static unsafe long ReadDrops(int fd)
    {
        TPacketStatsV3 stats = default;
        var length = (uint)(2 * sizeof(uint));
        return Libc.getsockopt(fd, Libc.SOL_PACKET, Libc.PACKET_STATISTICS, &stats, &length) == 0 ? stats.Drops : -1;
    }

    private static void Print(TextWriter output, RingBenchResult result, RingBenchResult baseline)
    {
        var rate = baseline.PacketsPerSecond > 0 ? result.PacketsPerSecond / baseline.PacketsPerSecond : 0;
        var cpu = result.CpuNanosecondsPerPacket > 0 ? baseline.CpuNanosecondsPerPacket / result.CpuNanosecondsPerPacket : 0;
        output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"{result.Name,-30} sent {result.Sent,11:N0}  received {result.Received,11:N0}  loss {result.LossPercent,5:F1}%  kernel drops {result.KernelDrops,9:N0}  {result.PacketsPerSecond,11:N0} pps ({rate:F2}x)  receiver CPU {result.CpuNanosecondsPerPacket,6:F0} ns/frame ({cpu:F2}x less)  mean batch {result.MeanBatch:F1}"));
    }
}
