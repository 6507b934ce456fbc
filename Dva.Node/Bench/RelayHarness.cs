using System.Diagnostics;
using System.Globalization;
using System.Net;
using Dva.Node.Engine;
using Dva.Node.Io;

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

internal sealed record RelayResult(string Name, long Sent, long Relayed, long Received, TimeSpan Window, double MeanReceiveBatch)
{
    /// <summary>Datagrams the sink received per second, between its first and last datagram.</summary>
    public double PacketsPerSecond => Window > TimeSpan.Zero ? Received / Window.TotalSeconds : 0;

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

    public static RelayResult Run(string name, RelayWork? work, RelayOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var loopback = new IPEndPoint(IPAddress.Loopback, 0);
        var pool = new BufferPool(maxBuffers: 4096, frameSize: Math.Max(BufferPool.DefaultFrameSize, options.PayloadBytes));
        using var relayPort = UdpTunnelSocket.Open(loopback);
        using var sink = UdpTunnelSocket.Open(loopback);
        using var generator = UdpTunnelSocket.Open(loopback);
        using var engine = new EpollEngine(pool);
        var sinkAddress = PacketAddress.FromEndPoint(sink.LocalEndPoint);
        long relayed = 0;
        engine.Register(relayPort, batch =>
        {
            var forwarded = 0;
            for (var i = 0; i < batch.Count; i++)
            {
                var packet = batch[i];
                packet.Peer = sinkAddress;
                if ((work is null || work(packet)) && batch.Send(i, relayPort))
                {
                    forwarded++;
                }
            }

            Volatile.Write(ref relayed, relayed + forwarded);
        });
        engine.Start();

        var generatorDone = 0;
        var sinkResult = (Received: 0L, First: 0L, Last: 0L);
        var sinkThread = new Thread(() => sinkResult = Sink(sink, () => Volatile.Read(ref generatorDone) != 0)) { Name = "relay-sink" };
        sinkThread.Start();
        var sent = Generate(generator, relayPort.LocalEndPoint, options);
        Volatile.Write(ref generatorDone, 1);
        sinkThread.Join();
        engine.Stop();

        var window = sinkResult.Received > 1 ? Stopwatch.GetElapsedTime(sinkResult.First, sinkResult.Last) : TimeSpan.Zero;
        var batches = relayPort.Counters.ReceiveBatches;
        var meanBatch = batches == 0 ? 0 : (double)relayPort.Counters.ReceivedPackets / batches;
        return new RelayResult(name, sent, Volatile.Read(ref relayed), sinkResult.Received, window, meanBatch);
    }

    private static long Generate(UdpTunnelSocket generator, IPEndPoint target, RelayOptions options)
    {
        var batch = new PacketBuffer[PacketPort.MaxBatch];
        for (var i = 0; i < batch.Length; i++)
        {
            batch[i] = PacketBuffer.CreateUnpooled(Math.Max(BufferPool.DefaultFrameSize, options.PayloadBytes));
            batch[i].SetFrameLength(options.PayloadBytes);
            batch[i].Frame.Fill((byte)i);
            batch[i].Peer = PacketAddress.FromEndPoint(target);
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
    internal static (long Received, long First, long Last) Sink(UdpTunnelSocket sink, Func<bool> generatorDone)
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
        while (true)
        {
            if (!sink.WaitReadable(200))
            {
                if (generatorDone())
                {
                    return (received, first, last);
                }

                continue;
            }

            var n = sink.Receive(slots);
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
        output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"{result.Name,-32} sent {result.Sent,10:N0}  relayed {result.Relayed,10:N0}  received {result.Received,10:N0}  loss {result.LossPercent,5:F1}%  {result.PacketsPerSecond,12:N0} pps  {ratio:F2}x baseline  mean batch {result.MeanReceiveBatch:F1}"));
    }
}

/// <summary>The command line of the relay harness, for the node's bench command to call.</summary>
internal static class RelayHarnessCommand
{
    public const string Usage = "relay [--roles | --secure] [--seconds N] [--packets N] [--payload BYTES]";

    /// <summary>Parses the options and runs the baseline; returns a process exit code (2 on a bad option).</summary>
    public static int Run(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        var options = new RelayOptions();
        var roles = false;
        var secure = false;
        for (var i = 0; i < args.Count; i++)
        {
            if (args[i] == "--secure")
            {
                // Baseline, then the dispatcher role with a plain, an authenticated and an encrypted tunnel.
                secure = true;
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
                case "--payload" when number <= 65507:
                    options = options with { PayloadBytes = (int)number };
                    break;
                default:
                    error.WriteLine($"relay: unknown or out-of-range option '{args[i]} {value}'; usage: {Usage}");
                    return 2;
            }

            i++;
        }

        if (secure)
        {
            RoleRelayHarness.CompareSecureAsync(options, output).GetAwaiter().GetResult();
            return 0;
        }

        if (roles)
        {
            RoleRelayHarness.CompareAsync(options, output).GetAwaiter().GetResult();
            return 0;
        }

        RelayHarness.Compare([], options, output);
        return 0;
    }
}
