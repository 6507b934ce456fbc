using System.Net;
using BenchmarkDotNet.Attributes;
using Dva.Shared.Tables;

namespace Dva.Benchmarks;

/// <summary>Bucket assignment for a first table, a join and a leave (DESIGN.md §4; budget: 2 ms at M = 65 536, 256 nodes).</summary>
[MemoryDiagnoser]
public class TableBenchmarks
{
    private NodeWeight[] _nodes = [];
    private NodeWeight[] _plusOne = [];
    private NodeWeight[] _minusOne = [];
    private ushort[] _owners = [];

    [Params(4096, 65536)]
    public int BucketCount { get; set; }

    [Params(8, 64, 256)]
    public int Nodes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        _nodes = [.. Enumerable.Range(1, Nodes).Select(i => new NodeWeight((ushort)(i * 7), random.Next(50, 150)))];
        _plusOne = [.. _nodes, new NodeWeight(4000, 100)];
        _minusOne = _nodes[1..];
        _owners = BucketAssignment.Assign([], _nodes, BucketCount).Owners.ToArray();
    }

    [Benchmark]
    public AssignmentResult FirstTable() => BucketAssignment.Assign([], _nodes, BucketCount);

    [Benchmark]
    public AssignmentResult OneNodeAdded() => BucketAssignment.Assign(_owners, _plusOne, BucketCount);

    [Benchmark]
    public AssignmentResult OneNodeRemoved() => BucketAssignment.Assign(_owners, _minusOne, BucketCount);
}

/// <summary>Encoding and decoding (with full validation) of a 65 536-bucket table with 64 data planes and one change of history.</summary>
[MemoryDiagnoser]
public class TableCodecBenchmarks
{
    private TableVersion _table = null!;
    private byte[] _encoded = [];
    private PeerInfo[] _plusOne = [];

    [GlobalSetup]
    public void Setup()
    {
        PeerInfo[] peers =
        [
            .. Enumerable.Range(1, 64).Select(i => new PeerInfo((ushort)i, PeerRole.DataPlane, new IPEndPoint(IPAddress.Parse($"198.51.100.{i}"), 6090), 100)),
            new PeerInfo(100, PeerRole.Dispatcher, new IPEndPoint(IPAddress.Parse("2001:db8::100"), 6090)),
        ];
        _plusOne = [.. peers, new PeerInfo(65, PeerRole.DataPlane, new IPEndPoint(IPAddress.Parse("198.51.100.65"), 6090), 100)];
        TableVersion first = TableVersion.CreateFirst(Guid.NewGuid(), 1, 65536, peers, "first");
        _table = first.Next(_plusOne, DateTimeOffset.UnixEpoch, "65 joined", out int _);
        _encoded = TableCodec.Encode(_table);
    }

    [Benchmark]
    public byte[] Encode65536() => TableCodec.Encode(_table);

    [Benchmark]
    public TableVersion? Decode65536()
    {
        TableCodec.TryDecode(_encoded, out TableVersion? table);
        return table;
    }

    [Benchmark]
    public TableVersion NextVersionOneNodeRemoved65536() => _table.Next(_plusOne[1..], DateTimeOffset.UnixEpoch, "1 left", out int _);
}
