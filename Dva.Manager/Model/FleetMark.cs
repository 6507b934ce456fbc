namespace Dva.Manager.Model;

/// <summary>What a <see cref="FleetMark"/> records the start of.</summary>
internal enum FleetMarkKind
{
    /// <summary>The reconciler set a data plane to weight 0; it leaves when its flows are gone or the idle timeout passed.</summary>
    DrainStarted,

    /// <summary>The reconciler first saw a data plane an operator drained; it leaves on the same terms, but is never brought back by scaling.</summary>
    DrainSeen,

    /// <summary>A table change of the DVA is held back because it would drop predecessors that still have live flows.</summary>
    ChangeHeld,
}

/// <summary>
/// A start time the fleet reconciler measures a bound from. Kept in the database, not in memory, so that a manager
/// restart neither forgets a drain (the unit would never leave) nor restarts the clock of a held change.
/// </summary>
internal sealed class FleetMark
{
    public long Id { get; set; }

    public long DvaId { get; set; }

    /// <summary>The unit (database key) a drain mark is about; null for a mark about the whole DVA.</summary>
    public long? NodeKey { get; set; }

    public FleetMarkKind Kind { get; set; }

    public DateTimeOffset Since { get; set; }
}
