using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using Dva.Node.Shortcut;
using Dva.Shared.Packets;

namespace Dva.Node.Bench;

/// <summary>
/// <c>dva-node shortcut-bench</c>: what the kernel shortcut's two BPF programs cost per frame, timed by the kernel itself
/// (BPF_PROG_TEST_RUN, its mean time per run), against a program that only returns, in the same invocation. The verdict
/// program's instructions run as a tc program here (test runs give a socket filter its frame from the IP header on), on
/// the loopback device. Root (BPF). Reported: the median over rounds of each case, and its ratio to the baseline.
/// </summary>
internal static class ShortcutProgramHarness
{
    public const string Usage = "shortcut-bench [--rounds N] [--calls N]";

    // 200 runs a call: the forward program decrements the TTL of the frame it is given on every run, from 255.
    private const int Repeat = 200;

    private static readonly byte[] IngressMac = [0x02, 0, 0, 0, 0, 0x01];

    public static int Run(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        int rounds = 5, calls = 500;
        for (var i = 0; i < args.Count; i++)
        {
            var value = i + 1 < args.Count && int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number > 0 ? number : -1;
            switch (args[i])
            {
                case "--rounds" when value > 0:
                    rounds = value;
                    i++;
                    break;
                case "--calls" when value > 0:
                    calls = value;
                    i++;
                    break;
                default:
                    error.WriteLine($"dva-node: bad argument '{args[i]}'. usage: dva-node {Usage}");
                    return 2;
            }
        }

        if (Interop.Libc.geteuid() != 0)
        {
            error.WriteLine("dva-node shortcut-bench: needs root (it loads BPF programs)");
            return 2;
        }

        using var table = ShortcutTable.Create(1024, TimeSpan.FromSeconds(2), verdictAsClassifier: true);
        var udp4 = Frame(4, PacketConstants.ProtocolUdp);
        var tcp6 = Frame(6, PacketConstants.ProtocolTcp);
        var miss = Frame(4, PacketConstants.ProtocolUdp, sourcePort: 9999);
        var cases = new (string Name, ShortcutProgram Program, byte[] Frame, int Verdict)[]
        {
            ("baseline: a tc program that returns", ShortcutProgram.Baseline, udp4, 0),
            ("verdict, no entry (every other frame)", ShortcutProgram.Verdict, miss, 0),
            ("verdict, IPv4 UDP entry: FAST", ShortcutProgram.Verdict, udp4, 0),
            ("verdict, IPv6 TCP entry: FAST", ShortcutProgram.Verdict, tcp6, 0),
            ("forward, verdict SLOW", ShortcutProgram.Forward, udp4, ShortcutPrograms.VerdictSlow),
            ("forward, IPv4 UDP FAST: TTL, MACs, redirect", ShortcutProgram.Forward, udp4, ShortcutPrograms.VerdictFast),
            ("forward, IPv6 TCP FAST: hop limit, MACs, redirect", ShortcutProgram.Forward, tcp6, ShortcutPrograms.VerdictFast),
        };
        var results = cases.Select(_ => new List<double>()).ToArray();
        for (var round = 0; round < rounds; round++)
        {
            for (var c = 0; c < cases.Length; c++)
            {
                Install(table, udp4);
                Install(table, tcp6);
                var (name, program, frame, verdict) = cases[c];
                long total = 0;
                for (var call = 0; call < calls; call++)
                {
                    var (returned, nanoseconds) = table.TestRun(program, frame, verdict, Repeat);
                    if (call == 0 && !Expected(program, verdict, frame == miss, returned))
                    {
                        error.WriteLine($"dva-node shortcut-bench: '{name}' returned {returned}, not what the case measures");
                        return 1;
                    }

                    total += nanoseconds;
                }

                results[c].Add((double)total / calls);
            }
        }

        output.WriteLine($"shortcut programs (BPF_PROG_TEST_RUN, {Repeat} runs a call, {calls} calls a round, {rounds} rounds; median ns per frame, ratio to the baseline):");
        var baseline = Median(results[0]);
        for (var c = 0; c < cases.Length; c++)
        {
            var median = Median(results[c]);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {cases[c].Name,-52} {median,7:F1} ns  {median / baseline,6:F2}x"));
        }

        var fast = Median(results[2]) + Median(results[5]);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {"a shortcut frame, both programs (IPv4 UDP)",-52} {fast,7:F1} ns"));
        return 0;
    }

    private static bool Expected(ShortcutProgram program, int verdict, bool miss, int returned) => program switch
    {
        ShortcutProgram.Baseline => returned == ShortcutPrograms.TcActOk,
        ShortcutProgram.Verdict => returned == (miss ? -1 : 0),
        _ => verdict == ShortcutPrograms.VerdictFast ? returned == 7 : returned == ShortcutPrograms.TcActOk, // TC_ACT_REDIRECT
    };

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    /// <summary>
    /// The frame's flow in the map, on loopback (ifindex 1, where the test runs happen), with a fresh lease. Its new
    /// destination MAC is the ingress MAC: every run sees the frame as the one before left it, and must still match.
    /// </summary>
    private static void Install(ShortcutTable table, byte[] frame)
    {
        Span<byte> key = stackalloc byte[ShortcutLayout.KeySize];
        if (!DispatcherShortcuts.TryWriteKey(frame, 1, 0, key))
        {
            throw new InvalidOperationException("the benchmark's frame has no shortcut key");
        }

        var route = new ShortcutRoute(1, 0, new PhysicalAddress(IngressMac), PhysicalAddress.Parse("02-00-00-00-00-02"), 1500, new PhysicalAddress(IngressMac));
        _ = table.Install(key, route, ShortcutTable.MonotonicNanoseconds());
    }

    /// <summary>A 128-byte frame to the ingress MAC: IPv4 UDP or IPv6 TCP (ACK), TTL or hop limit 255, checksums not needed.</summary>
    private static byte[] Frame(int version, byte protocol, ushort sourcePort = 5000)
    {
        var frame = new byte[128];
        IngressMac.CopyTo(frame, 0);
        PhysicalAddress.Parse("02-AA-00-00-00-01").GetAddressBytes().CopyTo(frame, 6);
        int transport;
        if (version == 4)
        {
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), PacketConstants.EtherTypeIpv4);
            frame[14] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(16), (ushort)(frame.Length - 14));
            frame[22] = 255;
            frame[23] = protocol;
            IPAddress.Parse("192.0.2.10").GetAddressBytes().CopyTo(frame, 26);
            IPAddress.Parse("198.51.100.10").GetAddressBytes().CopyTo(frame, 30);
            Checksum.WriteIpv4Header(frame.AsSpan(14, 20));
            transport = 34;
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), PacketConstants.EtherTypeIpv6);
            frame[14] = 0x60;
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(18), (ushort)(frame.Length - 54));
            frame[20] = protocol;
            frame[21] = 255;
            IPAddress.Parse("2001:db8:1::10").GetAddressBytes().CopyTo(frame, 22);
            IPAddress.Parse("2001:db8:2::10").GetAddressBytes().CopyTo(frame, 38);
            transport = 54;
        }

        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(transport), sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(transport + 2), 6000);
        if (protocol == PacketConstants.ProtocolTcp)
        {
            frame[transport + 12] = 5 << 4;
            frame[transport + 13] = (byte)TcpFlags.Ack;
        }

        return frame;
    }
}
