using Dva.Shared.Tables;
using Dva.Simulator;

namespace Dva.Shared.Tests.Simulation;

public class ClusterSimulationTests
{
    private static ClusterSimulation Simulation(int flows = 20_000, int buckets = 1024, double churn = 0) =>
        new(new SimulationOptions { Flows = flows, BucketCount = buckets, MaglevSize = 5003, Churn = churn, Seed = 7 });

    private static StepReport StartThen(ClusterSimulation simulation, int units, ScenarioStep step)
    {
        simulation.Apply(new ScenarioStep(StepKind.Start, units));
        return simulation.Apply(step);
    }

    [Fact]
    public void Apply_ScaleOutFourToEight_MovesHalfTheBuckets()
    {
        StepReport step = StartThen(Simulation(buckets: 256), 4, new ScenarioStep(StepKind.Add, 4));

        // Each of 4 units held 64 buckets and keeps 32: 4 × 32 must move.
        Assert.Equal(128, step.MovedBuckets);
        Assert.Equal(128, step.MinimumMoves);
    }

    [Fact]
    public void Apply_ScaleOutEightToTwelve_MovesExactlyTheIndependentMinimum()
    {
        ClusterSimulation simulation = Simulation();
        simulation.Apply(new ScenarioStep(StepKind.Start, 8));
        ushort[] before = simulation.Table.Owners.ToArray();

        StepReport step = simulation.Apply(new ScenarioStep(StepKind.Add, 4));

        // 1024 / 12 = 85.33: units 1..4 keep 86, units 5..8 keep 85 of their 128; 1024 − 684 move.
        ushort[] after = simulation.Table.Owners.ToArray();
        Assert.Equal(340, step.MinimumMoves);
        Assert.Equal(340, step.MovedBuckets);
        Assert.Equal(340, before.Zip(after).Count(p => p.First != p.Second));
        Assert.Equal(340, step.LowerBoundMoves);
    }

    [Fact]
    public void Run_MixedSequence_EveryStepMovesTheMinimum()
    {
        ClusterSimulation simulation = Simulation(churn: 0.2);

        IReadOnlyList<StepReport> steps = simulation.Run(ScenarioScript.Parse("start 5; add 3; weight 2 250; drain 2; fail 1; replace 2; weight all 100"));

        Assert.All(steps, s => Assert.Equal(s.MinimumMoves, s.MovedBuckets));
        Assert.All(steps, s => Assert.True(s.MinimumMoves >= s.LowerBoundMoves, $"step {s.Step}: minimum below the lower bound"));
        Assert.All(steps, s => Assert.InRange(s.BucketBalance, 1.0, 1.0 + (6.0 / 1024)));
    }

    [Fact]
    public void Apply_NoTableChange_NoPunts()
    {
        ClusterSimulation simulation = Simulation();
        StepReport start = simulation.Apply(new ScenarioStep(StepKind.Start, 10));

        StepReport same = simulation.Apply(new ScenarioStep(StepKind.Weight, 0, 1.0, ScenarioScript.BaseWeight));

        Assert.Equal(0, start.PuntsPerPacket);
        Assert.Equal(0, same.MovedBuckets);
        Assert.Equal(0, same.PuntsPerPacket);
        Assert.Equal(20_000, same.PuntHistogram[0]);
        Assert.Equal(0, same.MaglevDisruptedFlows);
    }

    [Fact]
    public void Apply_SingleScaleOut_NoBrokenFlowAndOnePuntForMovedFlows()
    {
        StepReport step = StartThen(Simulation(), 8, new ScenarioStep(StepKind.Add, 8));

        Assert.Equal(0, step.BrokenFlows);
        Assert.Equal(1, step.MaxPunts);
        Assert.Equal(step.OwnerChangedFlows, step.PuntHistogram[1]);
        Assert.InRange(step.PuntsPerPacket, 0.45, 0.55);
        Assert.Equal(1, step.HistoryMaxDepth);
    }

    [Fact]
    public void Apply_Drain_DrainedUnitKeepsItsFlowsWhileMaglevMovesThem()
    {
        StepReport step = StartThen(Simulation(), 10, new ScenarioStep(StepKind.Drain, 1));

        Assert.Equal(1, step.DrainingUnits);
        Assert.Equal(0, step.BrokenFlows);
        Assert.Equal(step.OwnerChangedFlows, step.PuntHistogram[1]);
        Assert.True(step.MaglevDisruptedFlows >= step.OwnerChangedFlows * 9 / 10, "Maglev breaks at least the drained unit's flows");
    }

    [Fact]
    public void Apply_Fail_LosesExactlyTheFailedUnitsFlows()
    {
        ClusterSimulation simulation = Simulation();
        simulation.Apply(new ScenarioStep(StepKind.Start, 10));
        ushort[] holdersBefore = simulation.Holders.ToArray();

        StepReport step = simulation.Apply(new ScenarioStep(StepKind.Fail, 2));

        var alive = simulation.Table.PeersById.ToArray().Select(p => p.NodeId).ToHashSet();
        Assert.Equal(holdersBefore.LongCount(h => !alive.Contains(h)), step.LostFlows);
        Assert.Equal(0, step.BrokenFlows);
        Assert.Equal(0, step.PuntsPerPacket);
        Assert.True(step.MaglevDisruptedOnFailed > 0 && step.MaglevDisruptedOnFailed <= step.MaglevDisruptedFlows);
        Assert.All(simulation.Holders.ToArray(), h => Assert.Contains(h, alive));
    }

    [Fact]
    public void Apply_PruneOn_EntriesWithoutLiveFlowsAreRemoved()
    {
        ClusterSimulation simulation = Simulation(flows: 2_000, churn: 1.0);
        simulation.Apply(new ScenarioStep(StepKind.Start, 4));
        simulation.Apply(new ScenarioStep(StepKind.Add, 4));
        int entriesAfterMove = simulation.Table.History.EntryCount;

        // Every flow ended and restarted at its owner, so the units report every entry empty.
        StepReport next = simulation.Apply(new ScenarioStep(StepKind.Weight, 0, 1.0, ScenarioScript.BaseWeight));

        Assert.True(entriesAfterMove > 0);
        Assert.Equal(entriesAfterMove, next.PrunedEntries);
        Assert.Equal(0, next.HistoryEntries);
        Assert.Equal(TableLimits.MinBucketCount * 4, next.HistoryDepthHistogram[0]);
    }
}
