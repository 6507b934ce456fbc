using System.Collections.Frozen;
using System.Net;
using BenchmarkDotNet.Attributes;
using Dva.Shared.Tables;

namespace Dva.Benchmarks;

/// <summary>
/// The manager's whole history-aware build of the next table version at M = 65 536 with 256 data planes (issue 9
/// goal ≤ 2 ms), after three earlier changes so the history is populated, split into its stages so the slow one
/// shows: the history-aware assignment, applying the moves to the history, and the validation every version passes.
/// Run: cd tests/Dva.Benchmarks &amp;&amp; dotnet run -c Release -- --filter '*TableNext*' --job short
/// </summary>
[MemoryDiagnoser]
[MinColumn]
[MedianColumn]
public class TableNextBenchmarks
{
    private const int BucketCount = 65536;
    private const int Units = 256;

    private TableVersion _table = null!;
    private PeerInfo[] _plusOne = [];
    private NodeWeight[] _weights = [];
    private HistoryTable _history = null!;
    private BucketMove[] _moves = [];
    private ushort[] _owners = [];

    [GlobalSetup]
    public void Setup()
    {
        var peers = Enumerable.Range(1, Units)
            .Select(i => new PeerInfo((ushort)i, PeerRole.DataPlane, new IPEndPoint(IPAddress.Parse($"10.0.{i / 256}.{i % 256}"), 6090), 100))
            .Append(new PeerInfo(4000, PeerRole.Dispatcher, new IPEndPoint(IPAddress.Parse("10.1.0.1"), 6090)))
            .ToList();
        var table = TableVersion.CreateFirst(Guid.NewGuid(), 1, BucketCount, peers, "first");
        table = table.Next(peers.Append(Unit(300)), DateTimeOffset.UnixEpoch, "300 joined", out int _);
        table = table.Next(peers.Where(p => p.NodeId != 17).Append(Unit(300)), DateTimeOffset.UnixEpoch, "17 left", out int _);
        _plusOne = [.. peers.Where(p => p.NodeId != 17), Unit(300), Unit(301)];
        _table = table;
        _weights = [.. _plusOne.Where(p => p.Role == PeerRole.DataPlane).Select(p => new NodeWeight(p.NodeId, p.Weight))];
        _history = table.History;
        _owners = [.. Enumerable.Range(0, BucketCount).Select(b => table.OwnerOf(b))];
        _moves = BucketAssignment.Assign(_owners, _weights, BucketCount, _history).MovesArray;
        Console.WriteLine($"// history: {_history.BucketsWithHistory:N0} buckets, {_history.EntryCount:N0} entries; next change moves {_moves.Length:N0} buckets");
    }

    [Benchmark(Baseline = true)]
    public TableVersion NextVersionOneJoined() => _table.Next(_plusOne, DateTimeOffset.UnixEpoch, "301 joined", out int _);

    [Benchmark]
    public AssignmentResult AssignWithHistory() => BucketAssignment.Assign(_owners, _weights, BucketCount, _history);

    /// <summary>The same assignment without history (as if every predecessor had been pruned): what history costs.</summary>
    [Benchmark]
    public AssignmentResult AssignWithoutHistory() => BucketAssignment.Assign(_owners, _weights, BucketCount);

    /// <summary>The peer map every version builds (a frozen dictionary of 258 peers).</summary>
    [Benchmark]
    public object FreezePeers() => _table.PeersById.ToArray().ToFrozenDictionary(p => p.NodeId);

    [Benchmark]
    public HistoryTable ApplyMoves() => _history.ApplyMoves(_moves, DateTimeOffset.UnixEpoch);

    [Benchmark]
    public TableCodecError Validate() => TableValidator.Validate(_owners, _history, _table.Chain.AsSpan(), _table.PeersById, "check");

    private static PeerInfo Unit(ushort id) => new(id, PeerRole.DataPlane, new IPEndPoint(IPAddress.Parse($"10.2.{id / 256}.{id % 256}"), 6090), 100);
}
