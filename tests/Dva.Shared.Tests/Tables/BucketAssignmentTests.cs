using Dva.Shared.Tables;

namespace Dva.Shared.Tests.Tables;

public class BucketAssignmentTests
{
    private static readonly int[] BucketCounts = [256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536];

    [Fact]
    public void Assign_RandomChangeSequences_MovesExactlyTheMinimumAndHitsTargets() => RunRandomChangeSequences(withHistory: false);

    [Fact]
    public void Assign_RandomChangeSequencesWithHistory_MovesExactlyTheMinimumAndHitsTargets() => RunRandomChangeSequences(withHistory: true);

    [Fact]
    public void Assign_NodeFreesSomeOfItsBuckets_FreesThoseWithTheShortestHistory()
    {
        ushort[] owners = BucketAssignment.Assign([], [new(1, 1), new(2, 1)], 256).Owners.ToArray();
        int[] ofNode1 = [.. Enumerable.Range(0, 256).Where(b => owners[b] == 1)];
        // Node 1's buckets get 0..4 predecessors (nodes 10..13, gone), depth 4 the most common, so a choice
        // that ignores history would mostly free 4-deep buckets and push their oldest predecessor out.
        int[] depthOf = new int[256];
        HistoryTable history = HistoryTable.Empty(256);
        for (int i = 0; i < ofNode1.Length; i++)
        {
            depthOf[ofNode1[i]] = i % 8 < 4 ? 4 : i % 8 - 4;
        }

        for (int d = 4; d >= 1; d--)
        {
            BucketMove[] moves = [.. ofNode1.Where(b => depthOf[b] >= d).Select(b => new BucketMove(b, (ushort)(9 + d), 1))];
            history = history.ApplyMoves(moves, DateTimeOffset.UnixEpoch);
        }

        Assert.Equal(depthOf.Sum(), history.EntryCount);
        AssignmentResult result = BucketAssignment.Assign(owners, [new(1, 1), new(2, 1), new(3, 1)], 256, history);

        int[] freedDepths = [.. result.Moves.ToArray().Where(m => m.From == 1).Select(m => depthOf[m.Bucket])];
        int[] keptDepths = [.. ofNode1.Where(b => result.Owners.Span[b] == 1).Select(b => depthOf[b])];
        Assert.Equal(128 - 86, freedDepths.Length);
        Assert.True(freedDepths.Max() <= keptDepths.Min(), $"freed depths up to {freedDepths.Max()}, kept from {keptDepths.Min()}");
        Assert.DoesNotContain(4, freedDepths);
        Assert.Equal(128 + 128 - 86 - 85, result.MovedCount);
    }

    [Fact]
    public void Assign_FreedBucketsWithAPredecessorUnderTarget_GoBackToIt()
    {
        ushort[] first = BucketAssignment.Assign([], [new(1, 1), new(2, 1)], 256).Owners.ToArray();
        AssignmentResult joined = BucketAssignment.Assign(first, [new(1, 1), new(2, 1), new(3, 1)], 256);
        HistoryTable history = HistoryTable.Empty(256).ApplyMoves(joined.Moves.Span, DateTimeOffset.UnixEpoch);

        // Node 1 doubles: nodes 2 and 3 each free 21 buckets. Half of node 3's buckets came from node 1.
        AssignmentResult result = BucketAssignment.Assign(joined.Owners.Span, [new(1, 2), new(2, 1), new(3, 1)], 256, history);
        AssignmentResult blind = BucketAssignment.Assign(joined.Owners.Span, [new(1, 2), new(2, 1), new(3, 1)], 256);

        Assert.Equal(blind.MovedCount, result.MovedCount);
        Assert.Equal(blind.Owners.ToArray().Count(o => o == 1), result.Owners.ToArray().Count(o => o == 1));
        BucketMove[] fromNode3 = [.. result.Moves.ToArray().Where(m => m.From == 3)];
        Assert.Equal(21, fromNode3.Length);
        Assert.All(fromNode3, m => Assert.Equal((1, (ushort)1), (m.To, first[m.Bucket])));
        // Each return removes node 1 from the bucket's history, so no bucket gets deeper than one.
        HistoryTable after = history.ApplyMoves(result.Moves.Span, DateTimeOffset.UnixEpoch);
        Assert.All(after.Entries, e => Assert.Equal(0, e.Depth));
        Assert.Contains(blind.Moves.ToArray(), m => m.From == 3 && first[m.Bucket] == 2);
    }

    [Fact]
    public void Assign_JoinedNodeRemovedAgain_EveryBucketGoesBackToItsPredecessor()
    {
        NodeWeight[] nodes = [.. Enumerable.Range(1, 16).Select(i => new NodeWeight((ushort)i, 10))];
        ushort[] first = BucketAssignment.Assign([], nodes, 4096).Owners.ToArray();
        AssignmentResult joined = BucketAssignment.Assign(first, [.. nodes, new NodeWeight(17, 10)], 4096);
        HistoryTable history = HistoryTable.Empty(4096).ApplyMoves(joined.Moves.Span, DateTimeOffset.UnixEpoch);

        AssignmentResult left = BucketAssignment.Assign(joined.Owners.Span, nodes, 4096, history);

        Assert.Equal(joined.MovedCount, left.MovedCount);
        Assert.Equal(first, left.Owners.ToArray());
    }

    [Fact]
    public void Assign_HistoryForAnotherBucketCount_Throws() =>
        Assert.Throws<ArgumentException>(() => BucketAssignment.Assign(new ushort[256], [new(1, 1)], 256, HistoryTable.Empty(512)));

    private static void RunRandomChangeSequences(bool withHistory)
    {
        for (int seed = 1; seed <= 120; seed++)
        {
            var random = new Random(seed);
            int bucketCount = BucketCounts[random.Next(BucketCounts.Length)];
            bool equalWeights = random.Next(4) == 0;
            var weights = new Dictionary<ushort, int>();
            AddRandomNodes(random, weights, random.Next(1, 257), equalWeights);
            ushort[] owners = [];
            HistoryTable? history = withHistory ? HistoryTable.Empty(bucketCount) : null;
            for (int step = 0; step < 6; step++)
            {
                NodeWeight[] nodes = [.. weights.Select(p => new NodeWeight(p.Key, p.Value))];
                AssignmentResult result = BucketAssignment.Assign(owners, nodes, bucketCount, history);
                ushort[] next = result.Owners.ToArray();
                string context = $"seed {seed}, step {step}, M {bucketCount}, {weights.Count} nodes, history {withHistory}";

                Dictionary<ushort, int> targets = ReferenceTargets(weights, bucketCount);
                Dictionary<ushort, int> counts = CountByNode(next);
                Assert.True(counts.Keys.All(weights.ContainsKey), $"owner outside the node set: {context}");
                long totalWeight = weights.Values.Sum(w => (long)w);
                foreach ((ushort node, int weight) in weights)
                {
                    int count = counts.GetValueOrDefault(node);
                    Assert.True(count == targets[node], $"node {node} has {count}, target {targets[node]}: {context}");
                    // |count − M·w/W| < 1, in integers.
                    Assert.True(Math.Abs((count * totalWeight) - ((long)bucketCount * weight)) < totalWeight, $"node {node} off its share: {context}");
                }

                Assert.Equal(MinimumMoves(owners, targets), result.MovedCount);
                AssertMovesMatchOwners(owners, next, result.Moves.Span);
                AssertSpread(next, context);
                AssertDeterministic(owners, nodes, bucketCount, history, next, random);

                owners = next;
                // Keep history realistic: some entries pruned (no live flows) between changes.
                history = history?.ApplyMoves(result.Moves.Span, DateTimeOffset.UnixEpoch.AddSeconds(step))
                    .Where((b, n, _) => (b + n + step) % 3 != 0);
                MutateNodeSet(random, weights, equalWeights);
            }
        }
    }

    [Fact]
    public void Assign_FirstTable_InterleavesEveryNodeOverAllQuarters()
    {
        NodeWeight[] nodes = [.. Enumerable.Range(1, 64).Select(i => new NodeWeight((ushort)(i * 3), 1 + (i % 5)))];

        AssignmentResult result = BucketAssignment.Assign([], nodes, 4096);

        Assert.Equal(0, result.MovedCount);
        ushort[] owners = result.Owners.ToArray();
        foreach (NodeWeight node in nodes)
        {
            int[] perQuarter = new int[4];
            for (int b = 0; b < owners.Length; b++)
            {
                if (owners[b] == node.NodeId)
                {
                    perQuarter[b / 1024]++;
                }
            }

            int total = perQuarter.Sum();
            Assert.All(perQuarter, q => Assert.InRange(q, (total / 4) - 1, (total / 4) + 2));
        }
    }

    [Fact]
    public void Assign_OneNodeAddedToMany_NewNodeTakesOneBucketFromEachSpreadOverIndexSpace()
    {
        NodeWeight[] before = [.. Enumerable.Range(1, 255).Select(i => new NodeWeight((ushort)i, 10))];
        ushort[] owners = BucketAssignment.Assign([], before, 65536).Owners.ToArray();

        AssignmentResult result = BucketAssignment.Assign(owners, [.. before, new NodeWeight(300, 10)], 65536);

        Assert.Equal(256, result.MovedCount);
        Assert.All(result.Moves.ToArray(), m => Assert.Equal(300, m.To));
        Assert.Equal(255, result.Moves.ToArray().Select(m => m.From).Distinct().Count());
        int[] perEighth = new int[8];
        foreach (BucketMove move in result.Moves.Span)
        {
            perEighth[move.Bucket / 8192]++;
        }

        // 32 per eighth if perfectly even; a clustered choice (every node's first or middle bucket) puts all in one or two.
        Assert.All(perEighth, e => Assert.InRange(e, 16, 48));
    }

    [Fact]
    public void Assign_NodeWithWeightZero_IsRemovedLikeAnAbsentNode()
    {
        NodeWeight[] nodes = [new(1, 1), new(2, 1), new(3, 1)];
        ushort[] owners = BucketAssignment.Assign([], nodes, 256).Owners.ToArray();

        AssignmentResult zero = BucketAssignment.Assign(owners, [new(1, 1), new(2, 1), new(3, 0)], 256);
        AssignmentResult absent = BucketAssignment.Assign(owners, [new(1, 1), new(2, 1)], 256);

        Assert.Equal(absent.Owners.ToArray(), zero.Owners.ToArray());
        Assert.DoesNotContain((ushort)3, zero.Owners.ToArray());
        Assert.Equal(owners.Count(o => o == 3), zero.MovedCount);
        Assert.All(zero.Moves.ToArray(), m => Assert.Equal(3, m.From));
    }

    [Fact]
    public void Assign_PreviousBucketsWithoutOwner_AreAssignedWithoutCountingAsMoves()
    {
        ushort[] owners = BucketAssignment.Assign([], [new(1, 1), new(2, 1)], 256).Owners.ToArray();
        owners[10] = 0;
        owners[11] = 0;

        AssignmentResult result = BucketAssignment.Assign(owners, [new(1, 1), new(2, 1)], 256);

        Assert.Equal(0, result.MovedCount);
        Assert.Equal(128, result.Owners.ToArray().Count(o => o == 1));
        Assert.NotEqual(0, result.Owners.Span[10]);
    }

    [Fact]
    public void Assign_EqualRemainders_ExtraBucketGoesToLowerNodeId()
    {
        AssignmentResult result = BucketAssignment.Assign([], [new(9, 1), new(4, 1), new(7, 1)], 256);

        Dictionary<ushort, int> counts = CountByNode(result.Owners.ToArray());
        Assert.Equal(86, counts[4]);
        Assert.Equal(85, counts[7]);
        Assert.Equal(85, counts[9]);
    }

    [Theory]
    [InlineData(128)]
    [InlineData(300)]
    [InlineData(131072)]
    public void Assign_BucketCountNotPowerOfTwoInRange_Throws(int bucketCount) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => BucketAssignment.Assign([], [new(1, 1)], bucketCount));

    [Fact]
    public void Assign_InvalidNodeSets_Throw()
    {
        Assert.Throws<ArgumentException>(() => BucketAssignment.Assign([], [new(0, 1)], 256));
        Assert.Throws<ArgumentException>(() => BucketAssignment.Assign([], [new(4095, 1)], 256));
        Assert.Throws<ArgumentException>(() => BucketAssignment.Assign([], [new(1, 1), new(1, 2)], 256));
        Assert.Throws<ArgumentException>(() => BucketAssignment.Assign([], [new(1, -1), new(2, 1)], 256));
        Assert.Throws<ArgumentException>(() => BucketAssignment.Assign([], [new(1, 0)], 256));
        Assert.Throws<ArgumentException>(() => BucketAssignment.Assign(new ushort[512], [new(1, 1)], 256));
    }

    /// <summary>Straightforward largest remainder: floor shares, then +1 by remainder descending, node id ascending.</summary>
    internal static Dictionary<ushort, int> ReferenceTargets(IReadOnlyDictionary<ushort, int> weights, int bucketCount)
    {
        long total = weights.Values.Sum(w => (long)w);
        var targets = weights.ToDictionary(p => p.Key, p => (int)((long)bucketCount * p.Value / total));
        int left = bucketCount - targets.Values.Sum();
        foreach (ushort node in weights.OrderByDescending(p => (long)bucketCount * p.Value % total).ThenBy(p => p.Key).Take(left).Select(p => p.Key))
        {
            targets[node]++;
        }

        return targets;
    }

    /// <summary>Σ max(0, old count − new target); a removed node's target is 0, so all its buckets count.</summary>
    private static int MinimumMoves(ushort[] previous, Dictionary<ushort, int> targets) =>
        CountByNode(previous).Sum(p => Math.Max(0, p.Value - targets.GetValueOrDefault(p.Key)));

    private static Dictionary<ushort, int> CountByNode(ushort[] owners) =>
        owners.Where(o => o != 0).GroupBy(o => o).ToDictionary(g => g.Key, g => g.Count());

    private static void AssertMovesMatchOwners(ushort[] previous, ushort[] next, ReadOnlySpan<BucketMove> moves)
    {
        var expected = new List<BucketMove>();
        for (int b = 0; b < previous.Length; b++)
        {
            if (previous[b] != 0 && previous[b] != next[b])
            {
                expected.Add(new BucketMove(b, previous[b], next[b]));
            }
        }

        Assert.True(expected.SequenceEqual(moves.ToArray()), "moves differ from the owner changes");
    }

    private static void AssertSpread(ushort[] owners, string context)
    {
        var lowHalf = new int[4096];
        var total = new int[4096];
        for (int b = 0; b < owners.Length; b++)
        {
            total[owners[b]]++;
            lowHalf[owners[b]] += b < owners.Length / 2 ? 1 : 0;
        }

        for (int node = 1; node < total.Length; node++)
        {
            if (total[node] >= 32)
            {
                Assert.True(lowHalf[node] > 0 && lowHalf[node] < total[node], $"node {node}: all {total[node]} buckets in one half: {context}");
            }
        }
    }

    private static void AssertDeterministic(ushort[] previous, NodeWeight[] nodes, int bucketCount, HistoryTable? history, ushort[] expected, Random random)
    {
        NodeWeight[] shuffled = [.. nodes];
        random.Shuffle(shuffled);
        Assert.True(expected.AsSpan().SequenceEqual(BucketAssignment.Assign(previous, shuffled, bucketCount, history).Owners.Span), "same input, different owners");
    }

    private static void AddRandomNodes(Random random, Dictionary<ushort, int> weights, int count, bool equalWeights)
    {
        while (count > 0 && weights.Count < 256)
        {
            var node = (ushort)random.Next(1, 4095);
            if (weights.TryAdd(node, equalWeights ? 100 : random.Next(1, 1001)))
            {
                count--;
            }
        }
    }

    private static void MutateNodeSet(Random random, Dictionary<ushort, int> weights, bool equalWeights)
    {
        ushort[] nodes = [.. weights.Keys];
        switch (random.Next(4))
        {
            case 0:
                AddRandomNodes(random, weights, random.Next(1, 4), equalWeights);
                break;
            case 1 when nodes.Length > 1:
                foreach (ushort node in random.GetItems(nodes, random.Next(1, Math.Min(4, nodes.Length))))
                {
                    weights.Remove(node);
                }

                weights.TryAdd(nodes[0], 50);
                break;
            case 2:
                foreach (ushort node in random.GetItems(nodes, Math.Max(1, nodes.Length / 4)))
                {
                    weights[node] = random.Next(1, 1001);
                }

                break;
            default:
                weights.Remove(nodes[random.Next(nodes.Length)]);
                AddRandomNodes(random, weights, random.Next(1, 3), equalWeights);
                break;
        }
    }
}
