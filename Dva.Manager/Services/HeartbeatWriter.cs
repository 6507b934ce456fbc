using System.Collections.Concurrent;
using Dva.Manager.Infrastructure;

namespace Dva.Manager.Services;

/// <summary>
/// Writes the heartbeats' liveness and capacity columns (<see cref="NodeRegistry.HeartbeatAsync"/>) once every
/// <see cref="Interval"/> for all units together, in one transaction, instead of once per heartbeat on the hub
/// connection. SignalR handles one connection's messages one after another, so a heartbeat that waited for a slow disk
/// held up the table acks queued behind it on that connection, and a rollout could fail a live unit. The hub notes a
/// heartbeat in the unit's session at once (liveness is judged from there); only this record lags, by at most an
/// interval, and the last heartbeat of each unit in an interval is the one written.
/// </summary>
internal sealed class HeartbeatWriter(IServiceScopeFactory scopes, ILogger<HeartbeatWriter> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<long, double> _pending = new();

    /// <summary>Heartbeats noted and not yet written.</summary>
    public int Pending => _pending.Count;

    /// <summary>Notes a unit's heartbeat with its measured capacity; the next flush writes it.</summary>
    public void Record(long nodeKey, double measuredCapacity) => _pending[nodeKey] = measuredCapacity;

    /// <summary>Writes what was noted since the last flush; returns how many units' rows were written.</summary>
    public async Task<int> FlushAsync(CancellationToken ct)
    {
        if (_pending.IsEmpty)
        {
            return 0;
        }

        var batch = new List<(long NodeKey, double Capacity)>(_pending.Count);
        foreach (var nodeKey in _pending.Keys)
        {
            if (_pending.TryRemove(nodeKey, out var capacity))
            {
                batch.Add((nodeKey, capacity));
            }
        }

        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ManagerDbContext>();
        var registry = scope.ServiceProvider.GetRequiredService<NodeRegistry>();
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        var written = 0;
        foreach (var (nodeKey, capacity) in batch)
        {
            // A unit removed meanwhile has no row left: nothing to write, not an error.
            written += await registry.HeartbeatAsync(nodeKey, capacity, ct) ? 1 : 0;
        }

        await transaction.CommitAsync(ct);
        return written;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await FlushLoggedAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: StopAsync writes what is left.
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await FlushLoggedAsync(cancellationToken);
    }

    private async Task FlushLoggedAsync(CancellationToken ct)
    {
        try
        {
            await FlushAsync(ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A database hiccup loses one interval's record of liveness, which the next heartbeats write again.
            HeartbeatWriterLog.FlushFailed(logger, e);
        }
    }
}

internal static partial class HeartbeatWriterLog
{
    [LoggerMessage(EventId = 4010, Level = LogLevel.Warning, Message = "Writing the units' heartbeats to the database failed")]
    public static partial void FlushFailed(ILogger logger, Exception exception);
}
