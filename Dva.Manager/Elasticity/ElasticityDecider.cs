namespace Dva.Manager.Elasticity;

/// <summary>Tuning of the elasticity controller (section <c>Dva:Elasticity</c>).</summary>
internal sealed class ElasticityOptions
{
    /// <summary>Off switch: with false, weights and data-plane counts change only by hand.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>How often the controller looks at the heartbeats.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Weights change only when the busiest and idlest data planes differ by more than this share of the mean.</summary>
    public double ImbalanceThreshold { get; set; } = 0.2;

    /// <summary>Scale out above target × (1 + band), in below target × (1 − band).</summary>
    public double ScaleBand { get; set; } = 0.2;

    /// <summary>At most one weight change, and one scale step, per this period: each costs bucket moves.</summary>
    public TimeSpan MinChangeInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Below this mean CPU share the busy figures are noise; weights are left alone.</summary>
    public double MinBusyForRebalance { get; set; } = 0.05;
}

/// <summary>One data plane as the controller sees it: its weight in the tables and its last heartbeat's figures.</summary>
internal readonly record struct DataPlaneSample(ushort NodeId, int Weight, double CpuBusy, double PacketsPerBusySecond);

/// <summary>Everything a decision depends on; no clock or database behind it.</summary>
internal sealed record ElasticityInput(
    IReadOnlyList<DataPlaneSample> DataPlanes,
    int MinDataPlanes,
    int MaxDataPlanes,
    int TargetUtilizationPercent,
    int DesiredDataPlanes,
    DateTimeOffset Now,
    DateTimeOffset LastWeightChange,
    DateTimeOffset LastScaleChange);

/// <summary>What to change: new weights by node id, a new data-plane count, or nothing (both null).</summary>
internal sealed record ElasticityDecision(IReadOnlyDictionary<ushort, int>? Weights, int? ScaleTo, string Reason)
{
    public static ElasticityDecision None(string reason) => new(null, null, reason);
}

/// <summary>
/// The elasticity rules (DESIGN.md §4), as a pure function so they can be tested with synthetic heartbeats:
/// weights follow measured capacity so every data plane is equally busy relative to what it can carry, and the
/// data-plane count follows the mean CPU share against the policy's target. Both have hysteresis: a threshold
/// and a minimum interval, because every change moves buckets.
/// </summary>
internal static class ElasticityDecider
{
    /// <summary>Weights are scaled so the most capable data plane gets this; finer than needed, coarse enough to be stable.</summary>
    public const int MaxWeight = 100;

    public static ElasticityDecision Decide(ElasticityInput input, ElasticityOptions options)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(options);
        var planes = input.DataPlanes.Where(p => p.Weight > 0).ToList();
        if (planes.Count == 0)
        {
            return ElasticityDecision.None("no serving data plane reports yet");
        }

        var meanBusy = planes.Average(p => p.CpuBusy);
        var target = input.TargetUtilizationPercent / 100.0;
        var scaleTo = ScaleStep(input, options, planes.Count, meanBusy, target);
        if (scaleTo is { } count)
        {
            return new ElasticityDecision(null, count,
                $"mean CPU {meanBusy:P0} against a target of {target:P0}: {(count > input.DesiredDataPlanes ? "scale out" : "scale in")} to {count} data planes");
        }

        return Rebalance(input, options, planes, meanBusy) ?? ElasticityDecision.None($"mean CPU {meanBusy:P0}, balanced");
    }

    private static int? ScaleStep(ElasticityInput input, ElasticityOptions options, int serving, double meanBusy, double target)
    {
        if (input.Now - input.LastScaleChange < options.MinChangeInterval || serving != input.DesiredDataPlanes)
        {
            // Too soon, or the last step has not landed yet: judge the load only once the new units carry it.
            return null;
        }

        if (meanBusy > target * (1 + options.ScaleBand) && input.DesiredDataPlanes < input.MaxDataPlanes)
        {
            // Enough units to bring the mean back to target, at least one more.
            var needed = (int)Math.Ceiling(serving * meanBusy / target);
            return Math.Clamp(needed, input.DesiredDataPlanes + 1, input.MaxDataPlanes);
        }

        if (meanBusy < target * (1 - options.ScaleBand) && input.DesiredDataPlanes > input.MinDataPlanes
            && (serving - 1) * target * (1 - options.ScaleBand) >= serving * meanBusy)
        {
            // One at a time, and only when the rest stay below the band: draining takes a while.
            return input.DesiredDataPlanes - 1;
        }

        return null;
    }

    private static ElasticityDecision? Rebalance(ElasticityInput input, ElasticityOptions options, List<DataPlaneSample> planes, double meanBusy)
    {
        if (planes.Count < 2 || meanBusy < options.MinBusyForRebalance || input.Now - input.LastWeightChange < options.MinChangeInterval
            || planes.Any(p => !(p.PacketsPerBusySecond > 0)))
        {
            return null;
        }

        var imbalance = (planes.Max(p => p.CpuBusy) - planes.Min(p => p.CpuBusy)) / meanBusy;
        if (imbalance <= options.ImbalanceThreshold)
        {
            return null;
        }

        var weights = Scaled(planes, p => p.PacketsPerBusySecond);
        var present = Scaled(planes, p => p.Weight);
        if (weights.All(w => present[w.Key] == w.Value))
        {
            // The weights already follow capacity (the imbalance is the traffic's, not the table's).
            return null;
        }

        return new ElasticityDecision(weights, null, $"CPU differs by {imbalance:P0} of the mean: weights follow measured capacity");
    }

    /// <summary>Proportional to <paramref name="measure"/>, the largest at <see cref="MaxWeight"/>, none below 1.</summary>
    private static Dictionary<ushort, int> Scaled(List<DataPlaneSample> planes, Func<DataPlaneSample, double> measure)
    {
        var largest = planes.Max(measure);
        return planes.ToDictionary(p => p.NodeId, p => Math.Clamp((int)Math.Round(MaxWeight * measure(p) / largest), 1, MaxWeight));
    }
}
