using System.Buffers.Binary;
using System.Net;
using BenchmarkDotNet.Attributes;
using Dva.Shared.Flows;
using Dva.Shared.Packets;
using Dva.Shared.Tables;
using Dva.Shared.Wire;

namespace Dva.Benchmarks;

/// <summary>
/// The dispatcher's whole per-packet decision (issue 2's goal: ≤ 60 ns, 0 bytes): parse a TCP/IPv4 frame
/// (or read its key straight from it, as the dispatcher does for TCP/UDP over IPv4), derive the symmetric flow key, hash it with the DVA seed, look the bucket's owner up in the current table,
/// and write the DISPATCH header in front of the frame in the buffer's headroom.
/// Run: cd tests/Dva.Benchmarks &amp;&amp; dotnet run -c Release -- --filter '*Dispatch*' --job short
/// </summary>
[MemoryDiagnoser]
public class DispatchBenchmarks
{
    private const int Headroom = 128;
    private const int FrameLength = 1514;
    private readonly byte[] _buffer = new byte[Headroom + FrameLength];
    private TableVersion _table = null!;
    private int _headerStart;

    [Params(4096, 65536)]
    public int BucketCount { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var peers = Enumerable.Range(1, 8)
            .Select(i => new PeerInfo((ushort)i, PeerRole.DataPlane, new IPEndPoint(IPAddress.Loopback, 7000 + i), 1))
            .Append(new PeerInfo(100, PeerRole.Dispatcher, new IPEndPoint(IPAddress.Loopback, 7100)));
        _table = TableVersion.CreateFirst(Guid.NewGuid(), 0x5EED_0000_D1A0_0001, BucketCount, peers, "benchmark");
        WriteTcpFrame(_buffer.AsSpan(Headroom, FrameLength));
        _headerStart = ParseHashLookupEncap();
    }

    [Benchmark]
    public int ParseHashLookupEncap()
    {
        var frame = _buffer.AsSpan(Headroom, FrameLength);
        if (PacketParser.TryParse(frame, out PacketInfo info) != ParseError.None || !FlowKey.TryFrom(info, out FlowKey key, out _))
        {
            return -1;
        }

        var table = _table;
        var owner = table.OwnerOf(FlowHasher.Bucket(FlowHasher.Hash(key, table.Seed), table.BucketCount));
        TunnelWriter.TryWriteInFront(_buffer, Headroom, FrameLength, Fields(owner, table), [], out var start, out _);
        return start;
    }

    /// <summary>
    /// The same decision as DispatcherRole makes it for a TCP/UDP IPv4 frame that is no SYN: the key read straight from the
    /// frame (FlowKey.TryFromFrame), no full parse.
    /// </summary>
    [Benchmark]
    public int FastKeyHashLookupEncap()
    {
        var frame = _buffer.AsSpan(Headroom, FrameLength);
        if (!FlowKey.TryFromFrame(frame, out FlowKey key, out _, out _))
        {
            return -1;
        }

        var table = _table;
        var owner = table.OwnerOf(FlowHasher.Bucket(FlowHasher.Hash(key, table.Seed), table.BucketCount));
        TunnelWriter.TryWriteInFront(_buffer, Headroom, FrameLength, Fields(owner, table), [], out var start, out _);
        return start;
    }

    private static TunnelFields Fields(ushort owner, TableVersion table) => new()
    {
        DNode = owner,
        HNode = 100,
        SNode = 100,
        Type = TunnelType.Dispatch,
        Era = (byte)table.Era,
        Ttl = TunnelFields.InitialTtl,
        IfId = 1,
    };

    [Benchmark(Baseline = true)]
    public int ReadAndValidateHeader()
    {
        // The receiving side of the same packet: what a data plane does first.
        return TunnelHeader.TryRead(_buffer.AsSpan(_headerStart), out var header) == WireError.None ? header.DNode : -1;
    }

    private static void WriteTcpFrame(Span<byte> frame)
    {
        frame[0] = 2;
        frame[5] = 2;
        frame[6] = 2;
        frame[11] = 1;
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], PacketConstants.EtherTypeIpv4);
        var ip = frame[14..];
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], 1500);
        ip[8] = 64;
        ip[9] = PacketConstants.ProtocolTcp;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], 0xC0000201);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], 0xC6336402);
        var tcp = ip[20..];
        BinaryPrimitives.WriteUInt16BigEndian(tcp, 50000);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], 443);
        tcp[12] = 5 << 4;
        tcp[13] = (byte)TcpFlags.Ack;
    }
}
