using Dva.Shared.Tables;

namespace Dva.Shared.Tests.Tables;

public class HistoryTableTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void ApplyMoves_SuccessiveMoves_PreviousOwnerFirstNewOwnerDroppedDepthCappedAtFour()
    {
        HistoryTable history = HistoryTable.Empty(256);

        history = history.ApplyMoves([new BucketMove(5, 1, 2)], T0);
        Assert.Equal([1], history.PredecessorsOf(5).ToArray());

        history = history.ApplyMoves([new BucketMove(5, 2, 3)], T0.AddSeconds(1));
        Assert.Equal([2, 1], history.PredecessorsOf(5).ToArray());

        // Back to node 1: it owns the bucket again, so it is no longer a predecessor.
        history = history.ApplyMoves([new BucketMove(5, 3, 1)], T0.AddSeconds(2));
        Assert.Equal([3, 2], history.PredecessorsOf(5).ToArray());

        history = history.ApplyMoves([new BucketMove(5, 1, 4)], T0.AddSeconds(3));
        history = history.ApplyMoves([new BucketMove(5, 4, 5)], T0.AddSeconds(4));
        history = history.ApplyMoves([new BucketMove(5, 5, 6)], T0.AddSeconds(5));
        Assert.Equal([5, 4, 1, 3], history.PredecessorsOf(5).ToArray());
        Assert.Empty(history.PredecessorsOf(4).ToArray());
        Assert.Equal(1, history.BucketsWithHistory);
    }

    [Fact]
    public void ApplyMoves_RandomMoveSequences_MatchASimpleListModel()
    {
        for (int seed = 1; seed <= 40; seed++)
        {
            var random = new Random(seed);
            const int BucketCount = 256;
            var owners = new ushort[BucketCount];
            var model = new List<ushort>[BucketCount];
            for (int b = 0; b < BucketCount; b++)
            {
                owners[b] = (ushort)random.Next(1, 9);
                model[b] = [];
            }

            HistoryTable history = HistoryTable.Empty(BucketCount);
            for (int step = 0; step < 30; step++)
            {
                var moves = new List<BucketMove>();
                foreach (int b in Enumerable.Range(0, BucketCount).Where(_ => random.Next(8) == 0))
                {
                    var to = (ushort)random.Next(1, 9);
                    if (to != owners[b])
                    {
                        moves.Add(new BucketMove(b, owners[b], to));
                        model[b].Remove(to);
                        model[b].Insert(0, owners[b]);
                        if (model[b].Count > 4)
                        {
                            model[b].RemoveAt(4);
                        }

                        owners[b] = to;
                    }
                }

                history = history.ApplyMoves(moves.ToArray(), T0.AddSeconds(step));

                for (int b = 0; b < BucketCount; b++)
                {
                    ushort[] predecessors = history.PredecessorsOf(b).ToArray();
                    // SequenceEqual: xunit's collection comparer is too slow for 300 000 comparisons.
                    Assert.True(model[b].SequenceEqual(predecessors), $"seed {seed}, step {step}, bucket {b}: [{string.Join(", ", predecessors)}], model [{string.Join(", ", model[b])}]");
                    Assert.True(!predecessors.Contains(owners[b]), $"seed {seed}, bucket {b}: owner {owners[b]} in its own history");
                }
            }
        }
    }

    [Fact]
    public void RemoveEntry_PredecessorReportsNoLiveFlow_OnlyThatEntryGoes()
    {
        HistoryTable history = HistoryTable.Empty(256)
            .ApplyMoves([new BucketMove(1, 7, 8), new BucketMove(2, 7, 8)], T0)
            .ApplyMoves([new BucketMove(1, 8, 9)], T0);

        HistoryTable removed = history.RemoveEntry(1, 7);

        Assert.Equal([8], removed.PredecessorsOf(1).ToArray());
        Assert.Equal([7], removed.PredecessorsOf(2).ToArray());
        Assert.Equal([8, 7], history.PredecessorsOf(1).ToArray());
        Assert.Same(removed, removed.RemoveEntry(1, 7));

        HistoryTable emptied = removed.RemoveEntry(2, 7);
        Assert.Equal(1, emptied.BucketsWithHistory);
        Assert.Empty(emptied.PredecessorsOf(2).ToArray());
    }

    [Fact]
    public void RemoveEntries_Batch_RemovesListedPairsOnly()
    {
        HistoryTable history = HistoryTable.Empty(256)
            .ApplyMoves([new BucketMove(1, 7, 8), new BucketMove(2, 7, 8), new BucketMove(3, 6, 8)], T0);

        HistoryTable removed = history.RemoveEntries([(1, 7), (3, 6), (4, 1)]);

        Assert.Equal(1, removed.EntryCount);
        Assert.Equal([7], removed.PredecessorsOf(2).ToArray());
    }

    [Fact]
    public void RemoveNode_FailedNode_AllItsEntriesGoAndDeeperOnesMoveUp()
    {
        HistoryTable history = HistoryTable.Empty(256)
            .ApplyMoves([new BucketMove(1, 7, 8), new BucketMove(2, 7, 8), new BucketMove(3, 6, 8)], T0)
            .ApplyMoves([new BucketMove(1, 8, 9)], T0);

        HistoryTable removed = history.RemoveNode(8);

        Assert.Equal([7], removed.PredecessorsOf(1).ToArray());
        Assert.Equal([7], removed.PredecessorsOf(2).ToArray());
        Assert.Equal([6], removed.PredecessorsOf(3).ToArray());
        Assert.DoesNotContain(removed.Entries, e => e.Node == 8);
    }

    [Fact]
    public void PruneOlderThan_MaxIdleTimeout_DropsEntriesMovedAtLeastThatLongAgo()
    {
        HistoryTable history = HistoryTable.Empty(256)
            .ApplyMoves([new BucketMove(1, 7, 8), new BucketMove(2, 7, 8)], T0)
            .ApplyMoves([new BucketMove(1, 8, 9)], T0.AddMinutes(10));

        HistoryTable pruned = history.PruneOlderThan(T0.AddMinutes(30), TimeSpan.FromMinutes(30));

        Assert.Equal([8], pruned.PredecessorsOf(1).ToArray());
        Assert.Empty(pruned.PredecessorsOf(2).ToArray());
        Assert.True(pruned.TryGetMovedAt(1, 8, out DateTimeOffset movedAt));
        Assert.Equal(T0.AddMinutes(10), movedAt);
        Assert.False(pruned.TryGetMovedAt(1, 7, out _));
        Assert.Same(pruned, pruned.PruneOlderThan(T0.AddMinutes(30), TimeSpan.FromMinutes(30)));
    }

    [Fact]
    public void PredecessorsOf_BucketOutOfRange_IsEmpty()
    {
        HistoryTable history = HistoryTable.Empty(256).ApplyMoves([new BucketMove(255, 1, 2)], T0);

        Assert.Empty(history.PredecessorsOf(-1).ToArray());
        Assert.Empty(history.PredecessorsOf(256).ToArray());
        Assert.Equal([1], history.PredecessorsOf(255).ToArray());
    }

    [Fact]
    public void ApplyMoves_InvalidMoves_Throw()
    {
        HistoryTable history = HistoryTable.Empty(256);

        Assert.Throws<ArgumentException>(() => history.ApplyMoves([new BucketMove(3, 1, 2), new BucketMove(2, 1, 2)], T0));
        Assert.Throws<ArgumentException>(() => history.ApplyMoves([new BucketMove(256, 1, 2)], T0));
        Assert.Throws<ArgumentException>(() => history.ApplyMoves([new BucketMove(1, 1, 1)], T0));
        Assert.Throws<ArgumentException>(() => history.ApplyMoves([new BucketMove(1, 0, 1)], T0));
    }
}
