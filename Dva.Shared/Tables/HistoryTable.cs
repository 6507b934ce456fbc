namespace Dva.Shared.Tables;

/// <summary>One predecessor of a bucket: <see cref="Node"/> owned <see cref="Bucket"/> until <see cref="MovedAt"/>.</summary>
/// <param name="Depth">0 for the most recent predecessor.</param>
public readonly record struct HistoryEntry(int Bucket, int Depth, ushort Node, DateTimeOffset MovedAt);

/// <summary>
/// Immutable map bucket → predecessors, most recent first, depth ≤ 4 (DESIGN.md §4). Every operation
/// returns a new table.
/// </summary>
/// <remarks>
/// Sparse: only buckets with history are stored, ascending, with four node slots (0-padded) and four move
/// times each. A 65 536-bucket table usually has history for the few buckets of recent changes only, so
/// this costs a few kilobytes where a dense ushort[M·4] + long[M·4] would cost 2.5 MB per version.
/// Lookup is a binary search (≤ 16 steps), and only punt decisions need it.
/// </remarks>
public sealed class HistoryTable
{
    private const int Slots = TableLimits.MaxHistoryDepth;

    private readonly int[] _buckets;
    private readonly ushort[] _nodes;
    private readonly long[] _movedAtTicks;

    internal HistoryTable(int bucketCount, int[] buckets, ushort[] nodes, long[] movedAtTicks)
    {
        BucketCount = bucketCount;
        _buckets = buckets;
        _nodes = nodes;
        _movedAtTicks = movedAtTicks;
    }

    public int BucketCount { get; }

    /// <summary>Number of buckets that have at least one predecessor.</summary>
    public int BucketsWithHistory => _buckets.Length;

    /// <summary>Number of (bucket, predecessor) entries.</summary>
    public int EntryCount
    {
        get
        {
            int count = 0;
            foreach (ushort node in _nodes)
            {
                if (node != 0)
                {
                    count++;
                }
            }

            return count;
        }
    }

    /// <summary>All entries, by bucket then depth.</summary>
    public IEnumerable<HistoryEntry> Entries
    {
        get
        {
            for (int i = 0; i < _buckets.Length; i++)
            {
                for (int d = 0; d < Slots && _nodes[(i * Slots) + d] != 0; d++)
                {
                    yield return new HistoryEntry(_buckets[i], d, _nodes[(i * Slots) + d], new DateTimeOffset(_movedAtTicks[(i * Slots) + d], TimeSpan.Zero));
                }
            }
        }
    }

    internal ReadOnlySpan<int> Buckets => _buckets;

    internal ReadOnlySpan<ushort> NodeSlots => _nodes;

    internal ReadOnlySpan<long> MovedAtSlots => _movedAtTicks;

    public static HistoryTable Empty(int bucketCount)
    {
        if (!TableLimits.IsValidBucketCount(bucketCount))
        {
            throw new ArgumentOutOfRangeException(nameof(bucketCount), bucketCount, "Bucket count must be a power of two in 256..65536.");
        }

        return new HistoryTable(bucketCount, [], [], []);
    }

    /// <summary>Predecessors of <paramref name="bucket"/>, most recent first; empty when none or out of range.</summary>
    public ReadOnlySpan<ushort> PredecessorsOf(int bucket)
    {
        int i = Array.BinarySearch(_buckets, bucket);
        if (i < 0)
        {
            return [];
        }

        ReadOnlySpan<ushort> slots = _nodes.AsSpan(i * Slots, Slots);
        int depth = slots.IndexOf((ushort)0);
        return depth < 0 ? slots : slots[..depth];
    }

    /// <summary>When <paramref name="node"/> stopped owning <paramref name="bucket"/>, if it is a predecessor.</summary>
    public bool TryGetMovedAt(int bucket, ushort node, out DateTimeOffset movedAt)
    {
        int i = Array.BinarySearch(_buckets, bucket);
        int d = i < 0 || node == 0 ? -1 : _nodes.AsSpan(i * Slots, Slots).IndexOf(node);
        movedAt = d < 0 ? default : new DateTimeOffset(_movedAtTicks[(i * Slots) + d], TimeSpan.Zero);
        return d >= 0;
    }

    /// <summary>
    /// Records <paramref name="moves"/> made at <paramref name="at"/>: for each move of b from A to B,
    /// history[b] = A followed by the old history[b] without A and B, cut to depth 4.
    /// </summary>
    /// <exception cref="ArgumentException">Moves not strictly ascending by bucket, out of range, from or to node 0,
    /// or from a node to itself.</exception>
    public HistoryTable ApplyMoves(ReadOnlySpan<BucketMove> moves, DateTimeOffset at)
    {
        if (moves.IsEmpty)
        {
            return this;
        }

        for (int k = 0; k < moves.Length; k++)
        {
            BucketMove move = moves[k];
            if ((uint)move.Bucket >= (uint)BucketCount || move.From == 0 || move.To == 0 || move.From == move.To)
            {
                throw new ArgumentException($"Invalid move {move}.", nameof(moves));
            }

            if (k > 0 && moves[k - 1].Bucket >= move.Bucket)
            {
                throw new ArgumentException("Moves must be strictly ascending by bucket.", nameof(moves));
            }
        }

        long ticks = at.UtcTicks;
        int capacity = _buckets.Length + moves.Length;
        var buckets = new int[capacity];
        var nodes = new ushort[capacity * Slots];
        var times = new long[capacity * Slots];
        int count = 0;
        int i = 0;
        int m = 0;
        while (i < _buckets.Length || m < moves.Length)
        {
            int existing = i < _buckets.Length ? _buckets[i] : int.MaxValue;
            int moved = m < moves.Length ? moves[m].Bucket : int.MaxValue;
            if (existing < moved)
            {
                CopyEntry(i, count, buckets, nodes, times);
                i++;
            }
            else
            {
                BucketMove move = moves[m];
                buckets[count] = move.Bucket;
                int o = count * Slots;
                nodes[o] = move.From;
                times[o] = ticks;
                int depth = 1;
                if (existing == moved)
                {
                    for (int d = 0; d < Slots && depth < Slots; d++)
                    {
                        ushort node = _nodes[(i * Slots) + d];
                        if (node == 0)
                        {
                            break;
                        }

                        if (node != move.To && node != move.From)
                        {
                            nodes[o + depth] = node;
                            times[o + depth] = _movedAtTicks[(i * Slots) + d];
                            depth++;
                        }
                    }

                    i++;
                }

                m++;
            }

            count++;
        }

        return Trimmed(count, buckets, nodes, times);
    }

    /// <summary>Removes (bucket, node): the node reported no live flow in the bucket.</summary>
    public HistoryTable RemoveEntry(int bucket, ushort node) =>
        PredecessorsOf(bucket).Contains(node) && node != 0 ? Where((b, n, _) => b != bucket || n != node) : this;

    /// <summary>Removes a batch of (bucket, node) entries; pairs that are not present are ignored.</summary>
    public HistoryTable RemoveEntries(IEnumerable<(int Bucket, ushort Node)> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var keys = new HashSet<long>();
        foreach ((int bucket, ushort node) in entries)
        {
            keys.Add(((long)bucket << 16) | node);
        }

        return keys.Count == 0 ? this : Where((b, n, _) => !keys.Contains(((long)b << 16) | n));
    }

    /// <summary>Removes every entry of <paramref name="node"/> (it failed or left the DVA).</summary>
    public HistoryTable RemoveNode(ushort node) => Where((_, n, _) => n != node);

    /// <summary>Removes entries whose move is at least <paramref name="maxIdle"/> before <paramref name="now"/>:
    /// any flow the predecessor kept has idled out since.</summary>
    public HistoryTable PruneOlderThan(DateTimeOffset now, TimeSpan maxIdle)
    {
        long cutoff = now.UtcTicks - maxIdle.Ticks;
        return Where((_, _, ticks) => ticks > cutoff);
    }

    /// <summary>Same buckets, predecessors and move times.</summary>
    internal bool ContentEquals(HistoryTable other) =>
        BucketCount == other.BucketCount
        && _buckets.AsSpan().SequenceEqual(other._buckets)
        && _nodes.AsSpan().SequenceEqual(other._nodes)
        && _movedAtTicks.AsSpan().SequenceEqual(other._movedAtTicks);

    /// <summary>Keeps the entries (bucket, node, move ticks) for which <paramref name="keep"/> is true.</summary>
    internal HistoryTable Where(Func<int, ushort, long, bool> keep)
    {
        var buckets = new int[_buckets.Length];
        var nodes = new ushort[_nodes.Length];
        var times = new long[_movedAtTicks.Length];
        int count = 0;
        bool changed = false;
        for (int i = 0; i < _buckets.Length; i++)
        {
            int o = count * Slots;
            int depth = 0;
            for (int d = 0; d < Slots; d++)
            {
                ushort node = _nodes[(i * Slots) + d];
                if (node == 0)
                {
                    break;
                }

                long ticks = _movedAtTicks[(i * Slots) + d];
                if (keep(_buckets[i], node, ticks))
                {
                    nodes[o + depth] = node;
                    times[o + depth] = ticks;
                    depth++;
                }
                else
                {
                    changed = true;
                }
            }

            if (depth > 0)
            {
                buckets[count++] = _buckets[i];
            }
        }

        return changed ? Trimmed(count, buckets, nodes, times) : this;
    }

    private void CopyEntry(int from, int to, int[] buckets, ushort[] nodes, long[] times)
    {
        buckets[to] = _buckets[from];
        _nodes.AsSpan(from * Slots, Slots).CopyTo(nodes.AsSpan(to * Slots));
        _movedAtTicks.AsSpan(from * Slots, Slots).CopyTo(times.AsSpan(to * Slots));
    }

    private HistoryTable Trimmed(int count, int[] buckets, ushort[] nodes, long[] times)
    {
        if (count != buckets.Length)
        {
            Array.Resize(ref buckets, count);
            Array.Resize(ref nodes, count * Slots);
            Array.Resize(ref times, count * Slots);
        }

        return new HistoryTable(BucketCount, buckets, nodes, times);
    }
}
