using System.Reflection;
using Dva.Shared.Tables;
using Dva.Shared.Tests.Packets;
using Dva.Shared.Tests.Tables;
using Dva.Shared.Tests.Wire;

namespace Dva.Shared.Tests.Fuzz;

/// <summary>Seed corpora for the fuzz targets: the golden vectors and frames the byte-exact tests use.</summary>
internal static class FuzzSeeds
{
    /// <summary>Every golden tunnel datagram of docs/protocol.md §5, plus the sealed secure DISPATCH.</summary>
    public static IReadOnlyList<byte[]> Tunnel { get; } =
    [
        GoldenVectors.Bytes(GoldenVectors.Dispatch),
        GoldenVectors.Bytes(GoldenVectors.Punt),
        GoldenVectors.Bytes(GoldenVectors.Broadcast),
        GoldenVectors.Bytes(GoldenVectors.EgressResolve),
        GoldenVectors.Bytes(GoldenVectors.SecureDispatch),
        GoldenVectors.Bytes(GoldenVectors.Control),
        GoldenVectors.Bytes(GoldenVectors.ShortcutEgress),
        GoldenVectors.Bytes(GoldenVectors.OriginEgress),
        Convert.FromHexString("1c0050010000000000000102000041ff00102000ce0467fd066ded5504a58bc8de577f4b66a675ad868c8c64312f15478437e12e8a85"),
    ];

    /// <summary>Every golden Ethernet frame (TCP, UDP, ICMP errors with quotes, ARP, fragments, IPv4 and IPv6, VLAN).</summary>
    public static IReadOnlyList<byte[]> Packet { get; } =
        [.. typeof(GoldenFrames).GetProperties(BindingFlags.Public | BindingFlags.Static)
            .Where(p => p.PropertyType == typeof(byte[]))
            .OrderBy(p => p.Name, StringComparer.Ordinal)
            .Select(p => (byte[])p.GetValue(null)!)];

    /// <summary>Encoded random tables (fixed seeds) with peers, chain and history.</summary>
    public static IReadOnlyList<byte[]> Table { get; } =
        [.. Enumerable.Range(1, 4).Select(i => TableCodec.Encode(TableFixtures.RandomTable(new Random(i), 256, 5)))];
}
