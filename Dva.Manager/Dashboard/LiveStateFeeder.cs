using Dva.Manager.Hubs;
using Dva.Manager.Rollout;
using Dva.Manager.Services;
using Dva.Shared.Tables;

namespace Dva.Manager.Dashboard;

/// <summary>
/// Feeds the dashboard's <see cref="LiveState"/> from the node hub: every accepted heartbeat, and every table
/// version when its rollout commits (with the rollout's duration and the buckets it moved).
/// </summary>
internal sealed class LiveStateFeeder(LiveState live, HeartbeatFeed heartbeats, RolloutCoordinator rollouts) : IHostedService
{
    private IDisposable? _subscription;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _subscription = heartbeats.Subscribe(h => live.Record(h.Heartbeat, h.At));
        rollouts.Committed += OnCommitted;
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        rollouts.Committed -= OnCommitted;
        _subscription?.Dispose();
        return Task.CompletedTask;
    }

    private void OnCommitted(TableVersion table, RolloutLogView log)
    {
        var duration = (log.Committed ?? log.Started) - log.Started;
        live.SetTable(log.DvaId, table, duration, MovedBuckets(live.Table(log.DvaId), table));
    }

    private static int MovedBuckets(TableVersion? previous, TableVersion next)
    {
        if (previous is null || previous.BucketCount != next.BucketCount)
        {
            return next.BucketCount;
        }

        var moved = 0;
        var a = previous.Owners;
        var b = next.Owners;
        for (var i = 0; i < a.Length; i++)
        {
            if (a[i] != b[i])
            {
                moved++;
            }
        }

        return moved;
    }
}
