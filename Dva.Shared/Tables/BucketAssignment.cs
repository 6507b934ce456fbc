using System.Buffers;

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
public static class BucketAssignment
{
    /// <summary>Computes the owners for <paramref name="nodes"/>, starting from <paramref name="previousOwners"/>.</summary>
    /// <param name="previousOwners">Owners of the previous table (length M), or empty for a first table.
    /// Owner 0 or a node absent from <paramref name="nodes"/> marks a bucket to reassign.</param>
    /// <param name="nodes">Data-plane nodes with their weights; weight 0 removes a node. Any order.</param>
    /// <param name="bucketCount">M, a power of two in 256..65536.</param>
    /// <exception cref="ArgumentException">Invalid M, node id, weight, duplicate node, no node with weight
    /// above 0, or previous owners of another length.</exception>
    public static AssignmentResult Assign(ReadOnlySpan<ushort> previousOwners, ReadOnlySpan<NodeWeight> nodes, int bucketCount)
    {
        if (!TableLimits.IsValidBucketCount(bucketCount))
        {
            throw new ArgumentOutOfRangeException(nameof(bucketCount), bucketCount, "Bucket count must be a power of two in 256..65536.");
        }

        if (previousOwners.Length != 0 && previousOwners.Length != bucketCount)
        {
            throw new ArgumentException($"Previous owners cover {previousOwners.Length} buckets, not {bucketCount}.", nameof(previousOwners));
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
        var phase = new int[n];
        var deficit = new int[n];
        for (int i = 0; i < n; i++)
        {
            excess[i] = Math.Max(0, oldCount[i] - targets[i]);
            deficit[i] = Math.Max(0, targets[i] - oldCount[i]);
            // A per-node phase, so that nodes each freeing one bucket do not all free their first
            // (or middle) one, which would cluster the freed buckets in one part of the index space.
            phase[i] = oldCount[i] == 0 ? 0 : (int)(Mix(ids[i]) % (ulong)oldCount[i]);
        }

        var owners = new ushort[bucketCount];
        int[] freed = ArrayPool<int>.Shared.Rent(bucketCount);
        int freedCount = 0;
        int moveCount = 0;
        for (int b = 0; b < bucketCount; b++)
        {
            ushort previous = previousOwners.Length == 0 ? (ushort)0 : previousOwners[b];
            int idx = IndexOf(indexOf, previous);
            bool free;
            if (idx < 0)
            {
                free = true;
            }
            else if (excess[idx] == 0)
            {
                free = false;
            }
            else
            {
                // Free `excess` (e) of this node's `oldCount` (k) buckets, evenly spaced along its buckets in
                // index order (Bresenham): the j-th is freed when ⌊(j·e + phase)/k⌋ steps, exactly e times.
                // phase[idx] carries (j·e + phase) mod k, so no division per bucket (e ≤ k).
                int acc = phase[idx] + excess[idx];
                free = acc >= oldCount[idx];
                phase[idx] = free ? acc - oldCount[idx] : acc;
            }

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

        int[] receivers = InterleaveReceivers(deficit, freedCount);
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
    /// Orders the receivers of the freed buckets (taken in index order): node i, short of d_i buckets, wants
    /// slots (k + ½)·F/d_i for k &lt; d_i. A counting sort on those slots (ties by node id) interleaves
    /// the nodes in O(F + n), so each node's new buckets are spread over the freed ones.
    /// </summary>
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
