using System.Buffers;
using System.Runtime.CompilerServices;

namespace Dva.Shared.Tables;

/// <summary>A data-plane node and its share of the buckets. Weight 0 removes the node.</summary>
public readonly record struct NodeWeight(ushort NodeId, int Weight);

/// <summary>Bucket <see cref="Bucket"/> changes owner from <see cref="From"/> to <see cref="To"/>.</summary>
public readonly record struct BucketMove(int Bucket, ushort From, ushort To);

/// <summary>The owners of a new table and the buckets that changed owner to get there.</summary>
public sealed class AssignmentResult
{
    private readonly ushort[] _owners;
    private readonly BucketMove[] _moves;

    internal AssignmentResult(ushort[] owners, BucketMove[] moves)
    {
        _owners = owners;
        _moves = moves;
    }

    /// <summary>Owner of each bucket, indexed by bucket.</summary>
    public ReadOnlyMemory<ushort> Owners => _owners;

    /// <summary>Buckets that had an owner before and now have another, ascending by bucket.</summary>
    public ReadOnlyMemory<BucketMove> Moves => _moves;

    public int MovedCount => _moves.Length;

    internal ushort[] OwnersArray => _owners;

    internal BucketMove[] MovesArray => _moves;
}

/// <summary>
/// Weighted bucket assignment with the fewest moves (DESIGN.md §4). Targets are the largest-remainder
/// split of M by weight (ties by node id). A node keeps min(old count, target) of its buckets; the
/// buckets of removed nodes and the excess of nodes over target are freed and go to nodes under target.
/// No freed bucket returns to a node that had it, so moves = Σ max(0, old − target): the minimum.
/// </summary>
/// <remarks>
/// With a history, which buckets a node frees and who gets them keep history short (docs/simulation.md:
/// back-to-back scale steps pushed a 5th predecessor out of depth 4 while the oldest still held flows).
/// A node frees first the buckets that will have the shortest history after the move: a bucket whose
/// predecessor is under target can go back to it (the move removes that predecessor, DESIGN.md §4), so
/// its history stays as long as it is; any other bucket gains one entry. Within the last class a node
/// frees from, the freed buckets are spread along its buckets in index order as without history. A
/// freed bucket goes back to its most recent predecessor that is under target (each node takes at most
/// its deficit of such returns, spread over its candidates); the rest are interleaved as before.
/// </remarks>
public static class BucketAssignment
{
    // Free order of a node's buckets: class = 2·(history length after the move) + 1 when no predecessor can
    // take it back, so a return beats a fresh move to the same length. 0..4 predecessors → classes 2..11.
    private const int ClassCount = (2 * TableLimits.MaxHistoryDepth) + 4;
    private const int NoHistoryClass = 3;

    /// <summary>Computes the owners for <paramref name="nodes"/>, starting from <paramref name="previousOwners"/>.</summary>
    /// <param name="previousOwners">Owners of the previous table (length M), or empty for a first table.
    /// Owner 0 or a node absent from <paramref name="nodes"/> marks a bucket to reassign.</param>
    /// <param name="nodes">Data-plane nodes with their weights; weight 0 removes a node. Any order.</param>
    /// <param name="bucketCount">M, a power of two in 256..65536.</param>
    /// <exception cref="ArgumentException">Invalid M, node id, weight, duplicate node, no node with weight
    /// above 0, or previous owners of another length.</exception>
    public static AssignmentResult Assign(ReadOnlySpan<ushort> previousOwners, ReadOnlySpan<NodeWeight> nodes, int bucketCount) =>
        Assign(previousOwners, nodes, bucketCount, null);

    /// <summary>
    /// Computes the owners like <see cref="Assign(ReadOnlySpan{ushort}, ReadOnlySpan{NodeWeight}, int)"/>, with the
    /// same targets and the same number of moves, choosing the moved buckets so that history stays short.
    /// </summary>
    /// <param name="history">History of the previous table (predecessors that may still hold flows), or null.</param>
    /// <exception cref="ArgumentException">As the other overload, or a history for another bucket count.</exception>
    /// <remarks>
    /// The manager builds a table once per membership change, so this runs cold: tiered compilation would run its
    /// per-bucket loops (65 536 iterations) as unoptimized tier-0 code, which was most of the 10 ms a 256-unit build
    /// measured (TableNextBenchmarks; 2.4 ms with tiering off). The loops are compiled optimized from the first call,
    /// with the per-bucket helpers inlined into them.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static AssignmentResult Assign(ReadOnlySpan<ushort> previousOwners, ReadOnlySpan<NodeWeight> nodes, int bucketCount, HistoryTable? history)
    {
        if (!TableLimits.IsValidBucketCount(bucketCount))
        {
            throw new ArgumentOutOfRangeException(nameof(bucketCount), bucketCount, "Bucket count must be a power of two in 256..65536.");
        }

        if (previousOwners.Length != 0 && previousOwners.Length != bucketCount)
        {
            throw new ArgumentException($"Previous owners cover {previousOwners.Length} buckets, not {bucketCount}.", nameof(previousOwners));
        }

        if (history is not null && history.BucketCount != bucketCount)
        {
            throw new ArgumentException($"History covers {history.BucketCount} buckets, not {bucketCount}.", nameof(history));
        }

        if (history is not null && (history.BucketsWithHistory == 0 || previousOwners.Length == 0))
        {
            history = null;
        }

        SortActiveNodes(nodes, out ushort[] ids, out long[] weights);
        int n = ids.Length;
        int[] targets = ComputeTargets(ids, weights, bucketCount);

        // Node id → index in ids; ids are 12 bits, so a flat map beats a dictionary.
        Span<short> indexOf = stackalloc short[4096];
        indexOf.Fill(-1);
        for (int i = 0; i < n; i++)
        {
            indexOf[ids[i]] = (short)i;
        }

        var oldCount = new int[n];
        for (int b = 0; b < previousOwners.Length; b++)
        {
            int idx = IndexOf(indexOf, previousOwners[b]);
            if (idx >= 0)
            {
                oldCount[idx]++;
            }
        }

        var excess = new int[n];
        var deficit = new int[n];
        for (int i = 0; i < n; i++)
        {
            excess[i] = Math.Max(0, oldCount[i] - targets[i]);
            deficit[i] = Math.Max(0, targets[i] - oldCount[i]);
        }

        FreeCut cut = FreeCut.Compute(previousOwners, history, indexOf, ids, oldCount, excess, deficit);
        var owners = new ushort[bucketCount];
        int[] freed = ArrayPool<int>.Shared.Rent(bucketCount);
        int freedCount = 0;
        int moveCount = 0;
        for (int b = 0; b < bucketCount; b++)
        {
            ushort previous = previousOwners.Length == 0 ? (ushort)0 : previousOwners[b];
            int idx = IndexOf(indexOf, previous);
            bool free = idx < 0 || (excess[idx] != 0 && cut.Frees(idx, b));
            if (free)
            {
                freed[freedCount++] = b;
                if (previous != 0)
                {
                    moveCount++;
                }
            }
            else
            {
                owners[b] = previous;
            }
        }

        cut.Dispose();
        int[] receivers = ChooseReceivers(freed, freedCount, history, indexOf, deficit);
        var moves = new BucketMove[moveCount];
        int m = 0;
        for (int s = 0; s < freedCount; s++)
        {
            int b = freed[s];
            ushort to = ids[receivers[s]];
            owners[b] = to;
            ushort previous = previousOwners.Length == 0 ? (ushort)0 : previousOwners[b];
            if (previous != 0)
            {
                moves[m++] = new BucketMove(b, previous, to);
            }
        }

        ArrayPool<int>.Shared.Return(freed);
        ArrayPool<int>.Shared.Return(receivers);
        return new AssignmentResult(owners, moves);
    }

    /// <summary>Largest-remainder split of M by weight; remainder ties go to the lower node id.</summary>
    /// <param name="ids">Node ids, ascending.</param>
    internal static int[] ComputeTargets(ushort[] ids, long[] weights, int bucketCount)
    {
        int n = ids.Length;
        long total = 0;
        for (int i = 0; i < n; i++)
        {
            total += weights[i];
        }

        var targets = new int[n];
        var keys = new long[n];
        long assigned = 0;
        for (int i = 0; i < n; i++)
        {
            long share = bucketCount * weights[i];
            targets[i] = (int)(share / total);
            assigned += targets[i];
            long remainder = share % total;
            // One sortable key: larger remainder first, then lower index (ids are ascending, so lower id).
            // total < 2^43 (4094 weights below 2^31), so the key stays below 2^55.
            keys[i] = ((total - 1 - remainder) << 12) | (long)i;
        }

        Array.Sort(keys);
        for (long j = 0; j < bucketCount - assigned; j++)
        {
            targets[(int)(keys[j] & 0xFFF)]++;
        }

        return targets;
    }

    private static void SortActiveNodes(ReadOnlySpan<NodeWeight> nodes, out ushort[] ids, out long[] weights)
    {
        Span<bool> present = stackalloc bool[4096];
        int active = 0;
        foreach (NodeWeight node in nodes)
        {
            if (!TableLimits.IsValidNodeId(node.NodeId))
            {
                throw new ArgumentException($"Node id {node.NodeId} is outside 1..4094.", nameof(nodes));
            }

            if (node.Weight < 0)
            {
                throw new ArgumentException($"Node {node.NodeId} has negative weight {node.Weight}.", nameof(nodes));
            }

            if (present[node.NodeId])
            {
                throw new ArgumentException($"Node {node.NodeId} is listed twice.", nameof(nodes));
            }

            present[node.NodeId] = true;
            if (node.Weight > 0)
            {
                active++;
            }
        }

        if (active == 0)
        {
            throw new ArgumentException("At least one node with weight above 0 is required.", nameof(nodes));
        }

        ids = new ushort[active];
        weights = new long[active];
        int i = 0;
        foreach (NodeWeight node in nodes)
        {
            if (node.Weight > 0)
            {
                ids[i] = node.NodeId;
                weights[i] = node.Weight;
                i++;
            }
        }

        Array.Sort(ids, weights);
    }

    /// <summary>
    /// Receiver (node index) of each freed bucket, in the order of <paramref name="freed"/>. A bucket goes back
    /// to its most recent predecessor under target when that node still has room (each node takes up to its
    /// deficit of returns, spread over its candidates by the same Bresenham walk as freeing); the others are
    /// interleaved over the remaining deficits.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int[] ChooseReceivers(int[] freed, int freedCount, HistoryTable? history, ReadOnlySpan<short> indexOf, int[] deficit)
    {
        if (history is null)
        {
            return InterleaveReceivers(deficit, freedCount);
        }

        int n = deficit.Length;
        int[] wants = ArrayPool<int>.Shared.Rent(Math.Max(1, freedCount));
        var candidates = new int[n];
        var cursor = new HistoryCursor(history);
        for (int s = 0; s < freedCount; s++)
        {
            wants[s] = -1;
            foreach (ushort predecessor in cursor.PredecessorsOf(freed[s]))
            {
                int idx = IndexOf(indexOf, predecessor);
                if (idx >= 0 && deficit[idx] > 0)
                {
                    wants[s] = idx;
                    candidates[idx]++;
                    break;
                }
            }
        }

        var left = new int[n];
        var accumulator = new int[n];
        int returned = 0;
        for (int i = 0; i < n; i++)
        {
            int take = Math.Min(candidates[i], deficit[i]);
            left[i] = deficit[i] - take;
            returned += take;
        }

        for (int s = 0; s < freedCount; s++)
        {
            int idx = wants[s];
            if (idx >= 0)
            {
                // Take min(candidates, deficit) of this node's candidates, evenly spaced (as in freeing).
                int acc = accumulator[idx] + Math.Min(candidates[idx], deficit[idx]);
                bool take = acc >= candidates[idx];
                accumulator[idx] = take ? acc - candidates[idx] : acc;
                wants[s] = take ? idx : -1;
            }
        }

        int[] rest = InterleaveReceivers(left, freedCount - returned);
        int[] receivers = ArrayPool<int>.Shared.Rent(Math.Max(1, freedCount));
        int r = 0;
        for (int s = 0; s < freedCount; s++)
        {
            receivers[s] = wants[s] >= 0 ? wants[s] : rest[r++];
        }

        ArrayPool<int>.Shared.Return(rest);
        ArrayPool<int>.Shared.Return(wants);
        return receivers;
    }

    /// <summary>
    /// Orders the receivers of the freed buckets (taken in index order): node i, short of d_i buckets, wants
    /// slots (k + ½)·F/d_i for k &lt; d_i. A counting sort on those slots (ties by node id) interleaves
    /// the nodes in O(F + n), so each node's new buckets are spread over the freed ones.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int[] InterleaveReceivers(int[] deficit, int freedCount)
    {
        int[] start = ArrayPool<int>.Shared.Rent(freedCount + 1);
        int[] order = ArrayPool<int>.Shared.Rent(Math.Max(1, freedCount));
        Array.Clear(start, 0, freedCount + 1);
        for (int i = 0; i < deficit.Length; i++)
        {
            for (SlotWalk walk = new(freedCount, deficit[i]); walk.Remaining > 0; walk.Step())
            {
                start[walk.Slot + 1]++;
            }
        }

        for (int s = 1; s <= freedCount; s++)
        {
            start[s] += start[s - 1];
        }

        for (int i = 0; i < deficit.Length; i++)
        {
            for (SlotWalk walk = new(freedCount, deficit[i]); walk.Remaining > 0; walk.Step())
            {
                order[start[walk.Slot]++] = i;
            }
        }

        ArrayPool<int>.Shared.Return(start);
        return order;
    }

    /// <summary>
    /// Walks slot_k = ⌊(2k + 1)·F / 2d⌋ for k = 0..d−1 with a quotient and a remainder, not a division per
    /// slot: divisions made the interleave the slowest part of a 65 536-bucket first table (TableBenchmarks).
    /// </summary>
    private struct SlotWalk
    {
        private readonly int _quotientStep;
        private readonly long _remainderStep;
        private readonly long _denominator;
        private long _remainder;

        public SlotWalk(int freedCount, int deficit)
        {
            Remaining = deficit;
            if (deficit == 0)
            {
                return;
            }

            _denominator = 2L * deficit;
            Slot = (int)(freedCount / _denominator);
            _remainder = freedCount % _denominator;
            _quotientStep = (int)(2L * freedCount / _denominator);
            _remainderStep = 2L * freedCount % _denominator;
        }

        public int Slot { get; private set; }

        public int Remaining { get; private set; }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Step()
        {
            Remaining--;
            Slot += _quotientStep;
            _remainder += _remainderStep;
            if (_remainder >= _denominator)
            {
                _remainder -= _denominator;
                Slot++;
            }
        }
    }

    /// <summary>
    /// Which of its buckets a node over target frees: every bucket in classes below <c>Threshold</c>, and
    /// <c>Partial</c> of the <c>ThresholdCount</c> buckets in the threshold class, evenly spaced along them in
    /// index order (Bresenham). Without history every bucket is in one class, which is the spread rule alone.
    /// </summary>
    private readonly struct FreeCut
    {
        private readonly int[] _threshold;
        private readonly int[] _partial;
        private readonly int[] _thresholdCount;
        private readonly int[] _phase;
        private readonly byte[]? _classes;

        private FreeCut(int[] threshold, int[] partial, int[] thresholdCount, int[] phase, byte[]? classes)
        {
            _threshold = threshold;
            _partial = partial;
            _thresholdCount = thresholdCount;
            _phase = phase;
            _classes = classes;
        }

        public static FreeCut Compute(
            ReadOnlySpan<ushort> previousOwners, HistoryTable? history, ReadOnlySpan<short> indexOf, ushort[] ids, int[] oldCount, int[] excess, int[] deficit)
        {
            int n = ids.Length;
            var threshold = new int[n];
            var partial = new int[n];
            var thresholdCount = new int[n];
            var phase = new int[n];
            byte[]? classes = null;
            int[]? counts = null;
            if (history is not null)
            {
                classes = ArrayPool<byte>.Shared.Rent(previousOwners.Length);
                counts = new int[n * ClassCount];
                // By node id, so classifying a predecessor is one load (every bucket is classified when all nodes free some).
                Span<bool> takesBack = stackalloc bool[4096];
                for (int i = 0; i < n; i++)
                {
                    takesBack[ids[i]] = deficit[i] > 0;
                }

                // A bucket without history is in NoHistoryClass (ClassOf of no predecessors), and only a few hundred
                // buckets have history: start every bucket there and classify just those (TableNextBenchmarks: the
                // pass over all 65 536 buckets with a history cursor was most of a 256-unit build).
                classes.AsSpan(0, previousOwners.Length).Fill(NoHistoryClass);
                for (int i = 0; i < n; i++)
                {
                    if (excess[i] != 0)
                    {
                        counts[(i * ClassCount) + NoHistoryClass] = oldCount[i];
                    }
                }

                ReadOnlySpan<int> buckets = history.Buckets;
                for (int e = 0; e < buckets.Length; e++)
                {
                    int b = buckets[e];
                    int idx = IndexOf(indexOf, previousOwners[b]);
                    if (idx >= 0 && excess[idx] != 0)
                    {
                        int c = ClassOf(HistoryCursor.EntryAt(history.NodeSlots, e), takesBack);
                        classes[b] = (byte)c;
                        counts[(idx * ClassCount) + NoHistoryClass]--;
                        counts[(idx * ClassCount) + c]++;
                    }
                }
            }

            for (int i = 0; i < n; i++)
            {
                if (excess[i] == 0)
                {
                    continue;
                }

                int t = NoHistoryClass;
                int below = 0;
                int inClass = oldCount[i];
                if (counts is not null)
                {
                    for (t = 0; below + counts[(i * ClassCount) + t] < excess[i]; t++)
                    {
                        below += counts[(i * ClassCount) + t];
                    }

                    inClass = counts[(i * ClassCount) + t];
                }

                threshold[i] = t;
                partial[i] = excess[i] - below;
                thresholdCount[i] = inClass;
                // A per-node phase, so that nodes each freeing one bucket do not all free their first
                // (or middle) one, which would cluster the freed buckets in one part of the index space.
                phase[i] = (int)(Mix(ids[i]) % (ulong)inClass);
            }

            return new FreeCut(threshold, partial, thresholdCount, phase, classes);
        }

        /// <summary>Whether node <paramref name="idx"/>, over target, frees bucket <paramref name="bucket"/>; call in bucket order.</summary>
        /// <remarks>Inlined into the per-bucket loop of Assign (see there).</remarks>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public bool Frees(int idx, int bucket)
        {
            int c = _classes is null ? NoHistoryClass : _classes[bucket];
            if (c != _threshold[idx])
            {
                return c < _threshold[idx];
            }

            // Free `partial` (e) of the `thresholdCount` (k) buckets, evenly spaced along them in index order
            // (Bresenham): the j-th is freed when ⌊(j·e + phase)/k⌋ steps, exactly e times. phase carries
            // (j·e + phase) mod k, so no division per bucket (e ≤ k).
            int acc = _phase[idx] + _partial[idx];
            bool free = acc >= _thresholdCount[idx];
            _phase[idx] = free ? acc - _thresholdCount[idx] : acc;
            return free;
        }

        public void Dispose()
        {
            if (_classes is not null)
            {
                ArrayPool<byte>.Shared.Return(_classes);
            }
        }

        private static int ClassOf(ReadOnlySpan<ushort> predecessors, ReadOnlySpan<bool> takesBack)
        {
            foreach (ushort predecessor in predecessors)
            {
                if (predecessor < takesBack.Length && takesBack[predecessor])
                {
                    return 2 * predecessors.Length;
                }
            }

            return (2 * (predecessors.Length + 1)) + 1;
        }
    }

    /// <summary>Predecessors of ascending buckets by a merge walk over the sparse history: no search per bucket.</summary>
    private ref struct HistoryCursor
    {
        private readonly ReadOnlySpan<int> _buckets;
        private readonly ReadOnlySpan<ushort> _nodes;
        private int _next;

        public HistoryCursor(HistoryTable history)
        {
            _buckets = history.Buckets;
            _nodes = history.NodeSlots;
        }

        public ReadOnlySpan<ushort> PredecessorsOf(int bucket)
        {
            while (_next < _buckets.Length && _buckets[_next] < bucket)
            {
                _next++;
            }

            if (_next == _buckets.Length || _buckets[_next] != bucket)
            {
                return [];
            }

            return EntryAt(_nodes, _next);
        }

        /// <summary>The predecessors of the <paramref name="entry"/>-th bucket with history.</summary>
        public static ReadOnlySpan<ushort> EntryAt(ReadOnlySpan<ushort> nodeSlots, int entry)
        {
            ReadOnlySpan<ushort> slots = nodeSlots.Slice(entry * TableLimits.MaxHistoryDepth, TableLimits.MaxHistoryDepth);
            // Slots are filled from the front, so the depth is the last non-zero slot + 1.
            int depth = slots[3] != 0 ? 4 : slots[2] != 0 ? 3 : slots[1] != 0 ? 2 : 1;
            return slots[..depth];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int IndexOf(ReadOnlySpan<short> indexOf, ushort nodeId) => nodeId < indexOf.Length ? indexOf[nodeId] : -1;

    private static ulong Mix(ulong x)
    {
        // SplitMix64 finaliser: a fixed, well-spread function of the node id.
        x += 0x9E3779B97F4A7C15UL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }
}
