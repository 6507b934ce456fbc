using Dva.Manager.Elasticity;
using Microsoft.Extensions.Time.Testing;

namespace Dva.Manager.Tests.Elasticity;

/// <summary>The elasticity rules as a pure function: synthetic heartbeats and a fake clock in, a decision out.</summary>
public sealed class ElasticityDeciderTests
{
    private static readonly ElasticityOptions Options = new();
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero));

    [Fact]
    public void Decide_EqualCapacityAndEqualLoadNearTarget_ChangesNothing()
    {
        var decision = Decide([Plane(1, 1, 0.30, 1e6), Plane(2, 1, 0.31, 1e6)], desired: 2);

        Assert.Null(decision.Weights);
        Assert.Null(decision.ScaleTo);
    }

    [Fact]
    public void Decide_WeakerUnitTwiceAsBusy_WeightsFollowMeasuredCapacity()
    {
        var decision = Decide([Plane(1, 1, 0.20, 2e6), Plane(2, 1, 0.40, 1e6)], desired: 2);

        Assert.NotNull(decision.Weights);
        Assert.Equal(100, decision.Weights[1]);
        Assert.Equal(50, decision.Weights[2]);
        Assert.Null(decision.ScaleTo);
    }

    [Fact]
    public void Decide_ImbalanceWithinThreshold_KeepsWeights()
    {
        // 0.33 vs 0.28: 16 % of the mean, under the 20 % threshold.
        var decision = Decide([Plane(1, 1, 0.33, 2e6), Plane(2, 1, 0.28, 1e6)], desired: 2);

        Assert.Null(decision.Weights);
    }

    [Fact]
    public void Decide_WeightsAlreadyProportionalToCapacity_KeepsThem()
    {
        // The imbalance is the traffic's (a heavy flow), not the table's: new weights would be the same.
        var decision = Decide([Plane(1, 100, 0.20, 2e6), Plane(2, 50, 0.40, 1e6)], desired: 2);

        Assert.Null(decision.Weights);
    }

    [Fact]
    public void Decide_ImbalanceSoonAfterTheLastWeightChange_Waits()
    {
        var lastChange = _clock.GetUtcNow();
        _clock.Advance(TimeSpan.FromSeconds(10));
        var soon = Decide([Plane(1, 1, 0.20, 2e6), Plane(2, 1, 0.40, 1e6)], desired: 2, lastWeightChange: lastChange);
        _clock.Advance(TimeSpan.FromSeconds(25));
        var later = Decide([Plane(1, 1, 0.20, 2e6), Plane(2, 1, 0.40, 1e6)], desired: 2, lastWeightChange: lastChange);

        Assert.Null(soon.Weights);
        Assert.NotNull(later.Weights);
    }

    [Fact]
    public void Decide_MeanWellAboveTarget_ScalesOutToBringItBack()
    {
        // Two units at 60 % against 30 %: four carry the same load at 30 %.
        var decision = Decide([Plane(1, 1, 0.60, 1e6), Plane(2, 1, 0.60, 1e6)], desired: 2);

        Assert.Equal(4, decision.ScaleTo);
        Assert.Null(decision.Weights);
    }

    [Fact]
    public void Decide_ScaleOutBeyondPolicyMaximum_IsClamped()
    {
        var decision = Decide([Plane(1, 1, 0.90, 1e6), Plane(2, 1, 0.90, 1e6)], desired: 2, max: 3);

        Assert.Equal(3, decision.ScaleTo);
    }

    [Fact]
    public void Decide_AtPolicyMaximum_DoesNotScaleOut()
    {
        var decision = Decide([Plane(1, 1, 0.90, 1e6), Plane(2, 1, 0.90, 1e6)], desired: 2, max: 2);

        Assert.Null(decision.ScaleTo);
    }

    [Fact]
    public void Decide_MeanWellBelowTarget_ScalesInOneUnitAtATime()
    {
        var decision = Decide([.. Enumerable.Range(1, 4).Select(i => Plane((ushort)i, 1, 0.05, 1e6))], desired: 4);

        Assert.Equal(3, decision.ScaleTo);
    }

    [Fact]
    public void Decide_ScaleInWouldPushTheRestAboveTheBand_Stays()
    {
        // 2 × 0.23 = 0.46 on one unit would be far above 30 %: below the band now, but scaling in would overshoot.
        var decision = Decide([Plane(1, 1, 0.23, 1e6), Plane(2, 1, 0.23, 1e6)], desired: 2);

        Assert.Null(decision.ScaleTo);
    }

    [Fact]
    public void Decide_AtPolicyMinimum_DoesNotScaleIn()
    {
        var decision = Decide([Plane(1, 1, 0.01, 1e6)], desired: 1, min: 1);

        Assert.Null(decision.ScaleTo);
    }

    [Fact]
    public void Decide_PreviousScaleStepNotServingYet_Waits()
    {
        // Four wanted, two serve: the new units' load is not in the figures yet.
        var decision = Decide([Plane(1, 1, 0.90, 1e6), Plane(2, 1, 0.90, 1e6)], desired: 4);

        Assert.Null(decision.ScaleTo);
    }

    [Fact]
    public void Decide_DrainingUnitsAndNoReports_AreIgnored()
    {
        var none = Decide([], desired: 2);
        var drainingOnly = Decide([Plane(1, 0, 0.9, 1e6)], desired: 1);

        Assert.Null(none.ScaleTo);
        Assert.Null(drainingOnly.ScaleTo);
        Assert.Null(drainingOnly.Weights);
    }

    private static DataPlaneSample Plane(ushort id, int weight, double busy, double capacity) => new(id, weight, busy, capacity);

    private ElasticityDecision Decide(
        IReadOnlyList<DataPlaneSample> planes, int desired, int min = 1, int max = 8, DateTimeOffset? lastWeightChange = null)
    {
        var longAgo = _clock.GetUtcNow() - TimeSpan.FromHours(1);
        return ElasticityDecider.Decide(
            new ElasticityInput(planes, min, max, 30, desired, _clock.GetUtcNow(), lastWeightChange ?? longAgo, longAgo),
            Options);
    }
}
