using Dva.Manager.Elasticity;
using Dva.Manager.Tests.Hub;
using Dva.Shared.Tables;
using Microsoft.Extensions.DependencyInjection;

namespace Dva.Manager.Tests.Elasticity;

/// <summary>The controller applied to a running DVA: its decisions land as table versions through the rollout.</summary>
public sealed class ElasticityControllerTests : HubTestBase
{
    [Fact]
    public async Task RunOnce_WeakerUnitBusier_NextVersionSplitsBucketsByCapacity()
    {
        var dva = await Factory.CreateDvaAsync("elastic-weights", "disp-1", dataPlanes: 2);
        await StartNodeAsync("disp-1", 7700);
        var strong = await StartNodeAsync("dp-strong", 7701);
        var weak = await StartNodeAsync("dp-weak", 7702);
        strong.PacketsPerBusySecond = 2e6;
        strong.CpuBusy = 0.2;
        weak.PacketsPerBusySecond = 1e6;
        weak.CpuBusy = 0.4;
        var (equal, _) = await Factory.WaitForCommitAsync(dva, (t, _) => HubFactory.ServingDataPlanes(t) == 2);
        await WaitForHeartbeatFiguresAsync(strong, weak);

        var decisions = await Factory.Services.GetRequiredService<ElasticityController>().RunOnceAsync(CancellationToken.None);
        TableVersion weighted;
        try
        {
            (weighted, _) = await Factory.WaitForCommitAsync(dva, (t, _) => t.Peers.Values.Any(p => p.Weight == 100));
        }
        catch (TimeoutException)
        {
            // Seen once in a full run: say what the controller decided and what the manager serves, for the next look.
            var current = Factory.Rollout.Current(dva);
            var peers = current is null ? "none" : string.Join(", ", current.Peers.Values.Select(p => $"{p.NodeId}:{p.Role}:w{p.Weight}"));
            throw new TimeoutException(
                $"no version with a weight of 100 committed; decisions: [{string.Join("; ", decisions.Select(d => d.Decision.Reason))}]; current version {current?.Version}: {peers}");
        }

        var decision = Assert.Single(decisions).Decision;
        Assert.NotNull(decision.Weights);
        var strongId = strong.Client.Assignment.NodeId;
        var weakId = weak.Client.Assignment.NodeId;
        Assert.Equal(2048, HubFactory.BucketsOf(equal, strongId));
        Assert.Equal(2731, HubFactory.BucketsOf(weighted, strongId));
        Assert.Equal(1365, HubFactory.BucketsOf(weighted, weakId));
        Assert.Equal(683, HubFactory.MovedBuckets(equal, weighted));
        Assert.Equal(PeerRole.DataPlane, weighted.Peers[weakId].Role);
    }

    [Fact]
    public async Task RunOnce_AllUnitsFarAboveTarget_RaisesTheWantedCountAndAPoolUnitJoins()
    {
        var dva = await Factory.CreateDvaAsync("elastic-scale", "disp-1", dataPlanes: 1, maxDataPlanes: 2);
        await StartNodeAsync("disp-1", 7710);
        var busy = await StartNodeAsync("dp-1", 7711);
        var spare = await StartNodeAsync("dp-2", 7712);
        busy.CpuBusy = 0.9;
        spare.CpuBusy = 0.9;
        await Factory.WaitForCommitAsync(dva, (t, _) => HubFactory.ServingDataPlanes(t) == 1);
        await WaitForHeartbeatFiguresAsync(busy);

        var decisions = await Factory.Services.GetRequiredService<ElasticityController>().RunOnceAsync(CancellationToken.None);
        var (scaled, _) = await Factory.WaitForCommitAsync(dva, (t, _) => HubFactory.ServingDataPlanes(t) == 2);

        Assert.Equal(2, Assert.Single(decisions).Decision.ScaleTo);
        Assert.True(scaled.Peers.ContainsKey(spare.Client.Assignment.NodeId));
    }

    /// <summary>Waits until the manager has a heartbeat carrying the figures the test set on each unit.</summary>
    private async Task WaitForHeartbeatFiguresAsync(params SimNode[] units)
    {
        var feed = Factory.Services.GetRequiredService<Dva.Manager.Hubs.HeartbeatFeed>();
        var pending = units.ToDictionary(u => u.Name);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var subscription = feed.Subscribe(h =>
        {
            lock (pending)
            {
                if (pending.TryGetValue(h.NodeName, out var unit) && h.Heartbeat.NodeId != 0
                    && h.Heartbeat.Stats.CpuBusy == unit.CpuBusy && h.Heartbeat.Stats.PacketsPerBusySecond == unit.PacketsPerBusySecond)
                {
                    pending.Remove(h.NodeName);
                }

                if (pending.Count == 0)
                {
                    done.TrySetResult();
                }
            }
        });
        await done.Task.WaitAsync(HubFactory.Patience);
    }
}
