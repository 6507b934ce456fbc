using Dva.Shared.Tables;

namespace Dva.Manager.Rollout;

internal enum PacingDecision
{
    /// <summary>The change drops no predecessor with live flows (or is forced): roll it out.</summary>
    Go,

    /// <summary>The change would drop predecessors that still have live flows: wait for history prunes.</summary>
    Hold,

    /// <summary>It was held for the whole pacing limit: roll it out anyway; the flows of the dropped predecessors break.</summary>
    GoAtLimit,
}

/// <summary>What <see cref="RolloutPacing.Decide"/> concluded, with the figures the audit log records.</summary>
internal sealed record PacingVerdict(PacingDecision Decision, int LivePredecessorsDropped, TimeSpan HeldFor);

/// <summary>
/// Paces table changes so that back-to-back moves do not push a predecessor that still holds flows out of a
/// bucket's history (depth 4): such flows could not be punted any more and would break (docs/simulation.md,
/// "Pacing rule"). Every history entry still in the current version has live flows, or history pruning would
/// have removed it, so each entry <see cref="TableVersion.LivePredecessorsDroppedBy"/> counts is a live holder.
/// A failure is not paced: the unit is gone whatever the manager does, and its entries go with it.
/// </summary>
internal static class RolloutPacing
{
    /// <param name="current">The committed version.</param>
    /// <param name="candidate">The change the reconciler would roll out next.</param>
    /// <param name="forced">The change removes a failed unit and must go out now.</param>
    /// <param name="heldSince">When this DVA's change was first held, or null if it is not being held.</param>
    /// <param name="now">The reconciler's clock.</param>
    /// <param name="limit">The longest a change is held; at the limit it goes out and breaks what it breaks.</param>
    public static PacingVerdict Decide(TableVersion current, TableVersion candidate, bool forced, DateTimeOffset? heldSince, DateTimeOffset now, TimeSpan limit)
    {
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(candidate);
        var heldFor = heldSince is { } since && now > since ? now - since : TimeSpan.Zero;
        var dropped = current.LivePredecessorsDroppedBy(candidate);
        var decision = forced || dropped == 0 ? PacingDecision.Go
            : heldFor >= limit ? PacingDecision.GoAtLimit
            : PacingDecision.Hold;
        return new PacingVerdict(decision, dropped, heldFor);
    }
}
