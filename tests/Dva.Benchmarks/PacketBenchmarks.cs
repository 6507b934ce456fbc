using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using Dva.Shared.Flows;
using Dva.Shared.Packets;

namespace Dva.Benchmarks;

/// <summary>
/// Per-packet cost of the first steps of the DP pipeline (DESIGN.md §8): parse a TCP/IPv4 frame, then
/// derive its flow key, hash it with the DVA seed and pick a bucket.
/// Run: cd tests/Dva.Benchmarks &amp;&amp; dotnet run -c Release -- --filter '*Packet*' --job short
/// </summary>
[MemoryDiagnoser]
public class PacketBenchmarks
{
    private const ulong Seed = 0x5EED_0000_D1A0_0001;
    private const int BucketCount = 4096;
    private readonly byte[] _frame = BuildTcpFrame();

    [Benchmark]
    public int ParseTcpIpv4()
    {
        PacketParser.TryParse(_frame, out PacketInfo info);
        return info.DstPort;
    }

    [Benchmark]
    public int ParseKeyHashBucket()
    {
        if (PacketParser.TryParse(_frame, out PacketInfo info) != ParseError.None
            || !FlowKey.TryFrom(info, out FlowKey key, out _))
        {
            return -1;
        }

        return FlowHasher.Bucket(FlowHasher.Hash(key, Seed), BucketCount);
    }

    // A 1514-byte TCP/IPv4 ACK 192.0.2.1:50000 -> 198.51.100.2:443 with a timestamp option
    // (checksums are not read by the parser, so they are left zero).
    private static byte[] BuildTcpFrame()
    {
        byte[] frame = new byte[1514];
        frame[0] = 2;
        frame[5] = 2;
        frame[6] = 2;
        frame[11] = 1;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), PacketConstants.EtherTypeIpv4);
        Span<byte> ip = frame.AsSpan(14);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], 1500);
        ip[8] = 64;
        ip[9] = PacketConstants.ProtocolTcp;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], 0xC0000201);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], 0xC6336402);
        Span<byte> tcp = ip[20..];
        BinaryPrimitives.WriteUInt16BigEndian(tcp, 50000);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], 443);
        tcp[12] = 8 << 4;
        tcp[13] = (byte)TcpFlags.Ack;
        byte[] options = [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2];
        options.CopyTo(tcp[20..]);
        return frame;
    }
}
