using Dva.Manager.Hubs;
using Microsoft.Extensions.Options;

namespace Dva.Manager.Rollout;

/// <summary>
/// Runs <see cref="FleetReconciler"/> every <see cref="NodeHubOptions.ReconcileInterval"/>, or sooner when kicked.
/// Stops as soon as the manager starts stopping: the web server drains its connections first (up to the host's
/// shutdown timeout), and heartbeats stop arriving meanwhile, so a pass in that window would declare every unit
/// failed and release it in the database, and the next manager would find its DVAs without units (seen in the
/// netns lab, tests/Dva.EndToEnd.Tests/Lab).
/// </summary>
internal sealed class FleetService(
    FleetReconciler fleet, IHostApplicationLifetime lifetime, IOptions<NodeHubOptions> options, ILogger<FleetService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken serviceStopping)
    {
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(serviceStopping, lifetime.ApplicationStopping);
        var stoppingToken = stopping.Token;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await fleet.ReconcileAllAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // One bad pass (a database hiccup, a node that vanished mid-send) must not stop the loop.
                FleetServiceLog.PassFailed(logger, e);
            }

            await fleet.WaitAsync(options.Value.ReconcileInterval, stoppingToken);
        }
    }
}

internal static partial class FleetServiceLog
{
    [LoggerMessage(EventId = 4301, Level = LogLevel.Error, Message = "A reconcile pass failed")]
    public static partial void PassFailed(ILogger logger, Exception exception);
}
