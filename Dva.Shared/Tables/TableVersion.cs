using System.Collections.Frozen;
using System.Collections.Immutable;

namespace Dva.Shared.Tables;

/// <summary>
/// One immutable version of a DVA's tables (DESIGN.md §4): bucket owners, history, broadcast chain and
/// peers. Readers hold a reference and never lock; a change builds the next version with <see cref="Next(IEnumerable{PeerInfo}, DateTimeOffset, string, out int)"/>.
/// </summary>
public sealed class TableVersion
{
    private readonly ushort[] _owners;
    private readonly PeerInfo[] _peersById;

    /// <summary>Trusts its arguments: callers have run <see cref="TableValidator"/>.</summary>
    internal TableVersion(Guid dvaId, ulong version, ulong seed, ushort[] owners, HistoryTable history, ushort[] chain, PeerInfo[] peersById, string cause)
    {
        DvaId = dvaId;
        Version = version;
        Seed = seed;
        _owners = owners;
        History = history;
        Chain = ImmutableArray.Create(chain);
        _peersById = peersById;
        Peers = peersById.ToFrozenDictionary(p => p.NodeId);
        Cause = cause;
    }

    public Guid DvaId { get; }

    /// <summary>+1 per change.</summary>
    public ulong Version { get; }

    /// <summary>The era bit carried in the tunnel's E flag.</summary>
    public int Era => (int)(Version & 1);

    public int BucketCount => _owners.Length;

    /// <summary>Secret seed of the flow hash.</summary>
    public ulong Seed { get; }

    /// <summary>Owner node id of each bucket.</summary>
    public ReadOnlySpan<ushort> Owners => _owners;

    public HistoryTable History { get; }

    /// <summary>Data-plane node ids in join order: the broadcast chain.</summary>
    public ImmutableArray<ushort> Chain { get; }

    /// <summary>Every node of the DVA by node id.</summary>
    public FrozenDictionary<ushort, PeerInfo> Peers { get; }

    /// <summary>Peers ascending by node id (the order they are encoded in).</summary>
    public ReadOnlySpan<PeerInfo> PeersById => _peersById;

    /// <summary>Why this version was made, for the operator ("node 7 joined").</summary>
    public string Cause { get; }

    internal ushort[] OwnersArray => _owners;

    internal PeerInfo[] PeersArray => _peersById;

    /// <summary>Owner of <paramref name="bucket"/>; 0 when out of range.</summary>
    public ushort OwnerOf(int bucket) => (uint)bucket < (uint)_owners.Length ? _owners[bucket] : (ushort)0;

    /// <summary>Predecessors of <paramref name="bucket"/>, most recent first.</summary>
    public ReadOnlySpan<ushort> PredecessorsOf(int bucket) => History.PredecessorsOf(bucket);

    /// <summary>Builds the first version of a DVA: buckets interleaved over the data planes by weight, no history.</summary>
    /// <exception cref="ArgumentException">Invalid bucket count, peers, or no data plane with weight above 0.</exception>
    public static TableVersion CreateFirst(Guid dvaId, ulong seed, int bucketCount, IEnumerable<PeerInfo> peers, string cause, ulong version = 1)
    {
        PeerInfo[] peersById = SortPeers(peers);
        AssignmentResult assignment = BucketAssignment.Assign([], DataPlaneWeights(peersById), bucketCount);
        ushort[] chain = ChainFor([], peersById);
        return Checked(new TableVersion(dvaId, version, seed, assignment.OwnersArray, HistoryTable.Empty(bucketCount), chain, peersById, cause));
    }

    /// <summary>
    /// Builds version v+1 for a new peer set: buckets reassigned with the fewest moves, the moves recorded in
    /// history at <paramref name="at"/>, history entries of nodes that are no longer data-plane peers dropped,
    /// chain = surviving data planes in their order, then new ones by node id.
    /// </summary>
    public TableVersion Next(IEnumerable<PeerInfo> peers, DateTimeOffset at, string cause, out int movedBuckets)
    {
        TableVersion next = Next(peers, at, cause, out ReadOnlyMemory<BucketMove> moves);
        movedBuckets = moves.Length;
        return next;
    }

    /// <inheritdoc cref="Next(IEnumerable{PeerInfo}, DateTimeOffset, string, out int)"/>
    public TableVersion Next(IEnumerable<PeerInfo> peers, DateTimeOffset at, string cause, out ReadOnlyMemory<BucketMove> moves)
    {
        PeerInfo[] peersById = SortPeers(peers);
        bool[] isDataPlane = DataPlaneMask(peersById);
        // Entries of nodes that left go first, so they neither count as history when choosing the buckets to
        // move nor push a live predecessor out of depth 4; a leaving node's own moves are recorded, then go.
        HistoryTable kept = History.Where((_, node, _) => isDataPlane[node]);
        AssignmentResult assignment = BucketAssignment.Assign(_owners, DataPlaneWeights(peersById), BucketCount, kept);
        HistoryTable history = kept.ApplyMoves(assignment.MovesArray, at).Where((_, node, _) => isDataPlane[node]);
        moves = assignment.Moves;
        return Checked(new TableVersion(DvaId, checked(Version + 1), Seed, assignment.OwnersArray, history, ChainFor(Chain.AsSpan(), peersById), peersById, cause));
    }

    /// <summary>
    /// Number of this version's history entries (bucket, node) that <paramref name="next"/> drops although
    /// the node is still a data-plane peer of it and does not own the bucket: predecessors pushed out of depth
    /// 4 by a move. Such an entry still had live flows (else it would have been pruned), and they break
    /// (docs/simulation.md). A manager that is not forced to change (a failure is) can wait for prunes first.
    /// </summary>
    public int LivePredecessorsDroppedBy(TableVersion next)
    {
        ArgumentNullException.ThrowIfNull(next);
        if (next.BucketCount != BucketCount)
        {
            throw new ArgumentException($"Next version has {next.BucketCount} buckets, not {BucketCount}.", nameof(next));
        }

        int dropped = 0;
        foreach (HistoryEntry entry in History.Entries)
        {
            bool stillPeer = next.Peers.TryGetValue(entry.Node, out PeerInfo? peer) && peer.Role == PeerRole.DataPlane;
            if (stillPeer && next.OwnerOf(entry.Bucket) != entry.Node && !next.PredecessorsOf(entry.Bucket).Contains(entry.Node))
            {
                dropped++;
            }
        }

        return dropped;
    }

    /// <summary>Builds version v+1 with the same owners and peers and a new history (entries removed).</summary>
    public TableVersion WithHistory(HistoryTable history, string cause)
    {
        ArgumentNullException.ThrowIfNull(history);
        return Checked(new TableVersion(DvaId, checked(Version + 1), Seed, _owners, history, Chain.AsSpan().ToArray(), _peersById, cause));
    }

    private static TableVersion Checked(TableVersion table)
    {
        ArgumentNullException.ThrowIfNull(table.Cause, "cause");
        TableCodecError error = TableValidator.Validate(table._owners, table.History, table.Chain.AsSpan(), table._peersById, table.Cause);
        return error == TableCodecError.None ? table : throw new ArgumentException($"Inconsistent table: {error}.");
    }

    private static PeerInfo[] SortPeers(IEnumerable<PeerInfo> peers)
    {
        ArgumentNullException.ThrowIfNull(peers);
        PeerInfo[] sorted = [.. peers];
        foreach (PeerInfo peer in sorted)
        {
            ArgumentNullException.ThrowIfNull(peer, nameof(peers));
            TableCodecError error = TableValidator.ValidatePeer(peer);
            if (error != TableCodecError.None)
            {
                throw new ArgumentException($"Peer {peer.NodeId}: {error}.", nameof(peers));
            }
        }

        Array.Sort(sorted, static (a, b) => a.NodeId.CompareTo(b.NodeId));
        return sorted;
    }

    private static NodeWeight[] DataPlaneWeights(PeerInfo[] peersById)
    {
        var weights = new List<NodeWeight>(peersById.Length);
        foreach (PeerInfo peer in peersById)
        {
            if (peer.Role == PeerRole.DataPlane)
            {
                weights.Add(new NodeWeight(peer.NodeId, peer.Weight));
            }
        }

        return [.. weights];
    }

    private static bool[] DataPlaneMask(PeerInfo[] peersById)
    {
        var isDataPlane = new bool[TableLimits.MaxNodeId + 1];
        foreach (PeerInfo peer in peersById)
        {
            isDataPlane[peer.NodeId] = peer.Role == PeerRole.DataPlane;
        }

        return isDataPlane;
    }

    private static ushort[] ChainFor(ReadOnlySpan<ushort> previousChain, PeerInfo[] peersById)
    {
        bool[] isDataPlane = DataPlaneMask(peersById);
        var chain = new List<ushort>(peersById.Length);
        foreach (ushort node in previousChain)
        {
            if (isDataPlane[node])
            {
                chain.Add(node);
                isDataPlane[node] = false;
            }
        }

        foreach (PeerInfo peer in peersById)
        {
            if (isDataPlane[peer.NodeId])
            {
                chain.Add(peer.NodeId);
            }
        }

        return [.. chain];
    }
}
