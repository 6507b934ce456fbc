using System.Collections.Concurrent;
using Dva.Manager.Hubs;
using Dva.Manager.Infrastructure;
using Dva.Manager.Model;
using Dva.Manager.Rollout;
using Dva.Manager.Services;
using Dva.Shared.Tables;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Dva.Manager.Elasticity;

/// <summary>
/// Applies <see cref="ElasticityDecider"/> to every DVA with tables: new weights are written to the data planes
/// (the next table version moves buckets), a new count goes through <see cref="DvaService.ScaleAsync"/> like an
/// operator's request (audited), and the fleet loop does the rest through the era rollout.
/// </summary>
internal sealed class ElasticityController(
    IServiceScopeFactory scopes,
    NodeSessions sessions,
    RolloutCoordinator rollout,
    FleetReconciler fleet,
    TimeProvider time,
    IOptions<ElasticityOptions> options,
    ILogger<ElasticityController> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<long, DateTimeOffset> _lastWeightChange = new();
    private readonly ConcurrentDictionary<long, DateTimeOffset> _lastScaleChange = new();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.Enabled)
        {
            return;
        }

        using var timer = new PeriodicTimer(options.Value.Interval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await RunOnceAsync(stoppingToken);
            }
            catch (DbUpdateConcurrencyException)
            {
                // A concurrent write; the next tick decides again from fresh figures.
            }
            catch (Exception e) when (e is not (OperationCanceledException or OutOfMemoryException))
            {
                ElasticityLog.Failed(logger, e);
            }
        }
    }

    /// <summary>One look at every DVA; returns the decisions that changed something.</summary>
    public async Task<IReadOnlyList<(long DvaKey, ElasticityDecision Decision)>> RunOnceAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ManagerDbContext>();
        var applied = new List<(long, ElasticityDecision)>();
        foreach (var dva in await db.Dvas.AsNoTracking().ToListAsync(ct))
        {
            if (rollout.Current(dva.Id) is not { } table)
            {
                continue;
            }

            var nodes = await db.Nodes.Where(n => n.DvaId == dva.Id && n.Role == NodeRole.DataPlane).ToListAsync(ct);
            var samples = new List<DataPlaneSample>();
            foreach (var node in nodes)
            {
                if (table.Peers.TryGetValue((ushort)node.NodeId, out var peer) && sessions.Get(node.Id)?.LastHeartbeat is { } beat)
                {
                    samples.Add(new DataPlaneSample(peer.NodeId, peer.Weight, beat.Stats.CpuBusy, beat.Stats.PacketsPerBusySecond));
                }
            }

            var now = time.GetUtcNow();
            var decision = ElasticityDecider.Decide(
                new ElasticityInput(samples, dva.MinDataPlanes, dva.MaxDataPlanes, dva.TargetUtilizationPercent, dva.DesiredDataPlanes, now,
                    _lastWeightChange.GetValueOrDefault(dva.Id, DateTimeOffset.MinValue), _lastScaleChange.GetValueOrDefault(dva.Id, DateTimeOffset.MinValue)),
                options.Value);
            if (decision.ScaleTo is { } count)
            {
                var scaled = await scope.ServiceProvider.GetRequiredService<DvaService>()
                    .ScaleAsync(dva.Id, new ScaleRequest { DataPlanes = count }, null, ct);
                if (scaled.Failure is null)
                {
                    _lastScaleChange[dva.Id] = now;
                    applied.Add((dva.Id, decision));
                }
            }
            else if (decision.Weights is { } weights)
            {
                var audit = scope.ServiceProvider.GetRequiredService<AuditLog>();
                foreach (var node in nodes.Where(n => weights.ContainsKey((ushort)n.NodeId)))
                {
                    node.Weight = weights[(ushort)node.NodeId];
                    node.TouchSpec();
                }

                await audit.SaveAsync("reweight", AuditLog.DvaTargetType, dva.Id, null, () => dva.Id, () => new { decision.Reason, Weights = weights }, ct);
                _lastWeightChange[dva.Id] = now;
                applied.Add((dva.Id, decision));
            }
            else
            {
                continue;
            }

            ElasticityLog.Decided(logger, dva.Id, decision.Reason);
            fleet.Kick();
        }

        return applied;
    }
}

internal static partial class ElasticityLog
{
    [LoggerMessage(EventId = 4401, Level = LogLevel.Information, Message = "DVA {DvaKey}: {Reason}")]
    public static partial void Decided(ILogger logger, long dvaKey, string reason);

    [LoggerMessage(EventId = 4402, Level = LogLevel.Error, Message = "Elasticity pass failed")]
    public static partial void Failed(ILogger logger, Exception exception);
}
