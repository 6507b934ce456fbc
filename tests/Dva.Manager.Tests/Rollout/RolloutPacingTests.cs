using Dva.Manager.Rollout;
using Dva.Shared.Tables;

namespace Dva.Manager.Tests.Rollout;

/// <summary>The pacing rule on real tables: the fifth drain in a row of a bucket would push out a predecessor with live flows.</summary>
public sealed class RolloutPacingTests
{
    private static readonly Guid DvaId = Guid.Parse("0d5e8c1a-2b3c-4d5e-8f70-112233445566");
    private static readonly DateTimeOffset T0 = new(2026, 11, 26, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(5);

    [Fact]
    public void Decide_ChangeDropsNoPredecessor_Go()
    {
        var (current, _) = FourDrainsInARow();
        var candidate = current.Next(current.Peers.Values, T0, "same peers", out int _);

        var verdict = RolloutPacing.Decide(current, candidate, forced: false, heldSince: null, T0, Limit);

        Assert.Equal(PacingDecision.Go, verdict.Decision);
        Assert.Equal(0, verdict.LivePredecessorsDropped);
    }

    [Fact]
    public void Decide_FifthDrainDropsLivePredecessors_HoldsAndCountsThem()
    {
        var (current, fifth) = FourDrainsInARow();

        var verdict = RolloutPacing.Decide(current, fifth, forced: false, heldSince: null, T0, Limit);

        Assert.Equal(PacingDecision.Hold, verdict.Decision);
        Assert.Equal(current.LivePredecessorsDroppedBy(fifth), verdict.LivePredecessorsDropped);
        Assert.True(verdict.LivePredecessorsDropped > 0);
    }

    [Fact]
    public void Decide_HeldJustUnderTheLimit_StillHolds()
    {
        var (current, fifth) = FourDrainsInARow();

        var verdict = RolloutPacing.Decide(current, fifth, forced: false, heldSince: T0, T0 + Limit - TimeSpan.FromSeconds(1), Limit);

        Assert.Equal(PacingDecision.Hold, verdict.Decision);
        Assert.Equal(Limit - TimeSpan.FromSeconds(1), verdict.HeldFor);
    }

    [Fact]
    public void Decide_HeldForTheWholeLimit_GoesOutAtTheLimit()
    {
        var (current, fifth) = FourDrainsInARow();

        var verdict = RolloutPacing.Decide(current, fifth, forced: false, heldSince: T0, T0 + Limit, Limit);

        Assert.Equal(PacingDecision.GoAtLimit, verdict.Decision);
        Assert.True(verdict.LivePredecessorsDropped > 0);
    }

    [Fact]
    public void Decide_ForcedByAFailure_GoesOutAtOnce()
    {
        var (current, fifth) = FourDrainsInARow();

        var verdict = RolloutPacing.Decide(current, fifth, forced: true, heldSince: null, T0, Limit);

        Assert.Equal(PacingDecision.Go, verdict.Decision);
    }

    [Fact]
    public void Decide_PruneRemovedTheOldestPredecessors_TheReplannedChangeGoes()
    {
        var (current, _) = FourDrainsInARow();
        // The unit drained first reports no live flow: its entries are pruned, then the fifth drain is planned again.
        var pruned = current.WithHistory(current.History.RemoveEntries([.. current.History.Entries.Where(e => e.Node == 1).Select(e => (e.Bucket, e.Node))]), "prune");
        var replanned = pruned.Next(Drained(5), T0, "drain 5", out int _);

        var verdict = RolloutPacing.Decide(pruned, replanned, forced: false, heldSince: T0, T0 + TimeSpan.FromSeconds(3), Limit);

        Assert.Equal(PacingDecision.Go, verdict.Decision);
        Assert.Equal(TimeSpan.FromSeconds(3), verdict.HeldFor);
    }

    /// <summary>Six data planes; 1, 2, 3, 4 drained one after the other; the candidate drains 5 as well.</summary>
    private static (TableVersion Current, TableVersion Fifth) FourDrainsInARow()
    {
        var table = TableVersion.CreateFirst(DvaId, 42, 4096, Drained(0), "first");
        for (var drained = 1; drained <= 4; drained++)
        {
            table = table.Next(Drained(drained), T0, $"drain {drained}", out int _);
        }

        return (table, table.Next(Drained(5), T0, "drain 5", out int _));
    }

    private static PeerInfo[] Drained(int upTo) =>
        [.. Enumerable.Range(1, 6).Select(i => new PeerInfo((ushort)i, PeerRole.DataPlane, new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 7000 + i), i <= upTo ? 0 : 1))];
}
