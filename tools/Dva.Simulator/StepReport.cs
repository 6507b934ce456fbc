namespace Dva.Simulator;

/// <summary>
/// Figures of one scenario step, measured right after its table change, when every flow that was live
/// before the change is still live (the worst moment for punts).
/// </summary>
internal sealed record StepReport
{
    public required int Step { get; init; }

    public required string Change { get; init; }

    /// <summary>Version of our table after the step (prunes are versions too).</summary>
    public required ulong TableVersion { get; init; }

    public required int ActiveUnits { get; init; }

    /// <summary>Units with weight 0 that still hold flows, so still peers.</summary>
    public required int DrainingUnits { get; init; }

    public required long Flows { get; init; }

    // ---- Our table ----

    public required int MovedBuckets { get; init; }

    /// <summary>Fewest moves to DESIGN.md §4's largest-remainder targets (<see cref="MoveBounds.Minimum"/>).</summary>
    public required int MinimumMoves { get; init; }

    /// <summary>Fewest moves for any table within one bucket of every share (<see cref="MoveBounds.LowerBound"/>).</summary>
    public required int LowerBoundMoves { get; init; }

    /// <summary>Max over active units of buckets owned ÷ exact weighted share.</summary>
    public required double BucketBalance { get; init; }

    /// <summary>Max over active units of flows in owned buckets ÷ weighted share of all flows (the load once old flows end).</summary>
    public required double FlowBalance { get; init; }

    /// <summary>Max over active units of flows held (created there) ÷ weighted share (the load right now).</summary>
    public required double HeldFlowBalance { get; init; }

    /// <summary>Flows whose bucket changed owner in this step: what a table without history would break.</summary>
    public required long OwnerChangedFlows { get; init; }

    /// <summary>Packets (one per live flow) by punts taken to reach the flow's holder: index 0..4.</summary>
    public required long[] PuntHistogram { get; init; }

    public required double PuntsPerPacket { get; init; }

    public required int MaxPunts { get; init; }

    /// <summary>Flows whose holder is alive but no longer in history[b] (depth ≤ 4): their state is lost.</summary>
    public required long BrokenFlows { get; init; }

    /// <summary>Flows held by units that failed in this step: lost in any design.</summary>
    public required long LostFlows { get; init; }

    /// <summary>History entries removed before the change because their unit reported no live flow in the bucket.</summary>
    public required int PrunedEntries { get; init; }

    public required int HistoryEntries { get; init; }

    /// <summary>Buckets by number of predecessors, index 0..4.</summary>
    public required int[] HistoryDepthHistogram { get; init; }

    public required int HistoryMaxDepth { get; init; }

    // ---- Maglev, same units, same flows ----

    public required int MaglevChangedEntries { get; init; }

    public required int MaglevMinimumChanges { get; init; }

    /// <summary>Flows whose Maglev backend changed: broken without connection tracking.</summary>
    public required long MaglevDisruptedFlows { get; init; }

    /// <summary>Of <see cref="MaglevDisruptedFlows"/>, those that were on a unit that failed (unavoidable).</summary>
    public required long MaglevDisruptedOnFailed { get; init; }

    public required double MaglevEntryBalance { get; init; }

    public required double MaglevFlowBalance { get; init; }
}
