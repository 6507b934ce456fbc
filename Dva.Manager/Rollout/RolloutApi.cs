using Dva.Manager.Apis;
using Dva.Manager.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;

namespace Dva.Manager.Rollout;

/// <summary>
/// The rollout log of a DVA (who acked which version when) and a way to ask for a reconcile pass now. Changes
/// themselves come from the configuration (scale, interfaces), the units (join, failure) and the elasticity controller.
/// </summary>
internal static class RolloutApi
{
    public static IEndpointRouteBuilder MapRolloutApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapApiGroup("/dvas/{dvaId:long}/rollouts", "Rollouts");
        group.MapGet("/", List);
        group.MapGet("/{version:long}", Get);
        // Not marked RunAgainOnLostRace: it writes nothing, it asks the fleet loop for a pass.
        group.MapPost("/", Reconcile);
        return app;
    }

    public static async Task<Results<Ok<IReadOnlyList<RolloutLogView>>, NotFound<ProblemDetails>>> List(
        long dvaId, RolloutCoordinator rollout, ManagerDbContext db, CancellationToken ct) =>
        await db.Dvas.AnyAsync(d => d.Id == dvaId, ct)
            ? TypedResults.Ok(rollout.GetLogs(dvaId))
            : NotFound($"DVA {dvaId} does not exist.");

    public static Results<Ok<RolloutLogView>, NotFound<ProblemDetails>> Get(long dvaId, long version, RolloutCoordinator rollout) =>
        version > 0 && rollout.GetLog(dvaId, (ulong)version) is { } log
            ? TypedResults.Ok(log)
            : NotFound($"No rollout of table version {version} is kept for DVA {dvaId}.");

    /// <summary>Asks the fleet loop for a pass now; 409 while a version of this DVA is rolling out.</summary>
    public static async Task<Results<Accepted, NotFound<ProblemDetails>, Conflict<ProblemDetails>>> Reconcile(
        long dvaId, RolloutCoordinator rollout, FleetReconciler fleet, ManagerDbContext db, CancellationToken ct)
    {
        if (!await db.Dvas.AnyAsync(d => d.Id == dvaId, ct))
        {
            return NotFound($"DVA {dvaId} does not exist.");
        }

        if (rollout.InFlight(dvaId) is { } version)
        {
            return TypedResults.Conflict(new ProblemDetails
            {
                Status = StatusCodes.Status409Conflict,
                Title = "Rollout in flight",
                Detail = $"Table version {version} of DVA {dvaId} is rolling out; one change at a time. Ask again when it has committed.",
            });
        }

        fleet.Kick();
        return TypedResults.Accepted($"/api/v1/dvas/{dvaId}/rollouts");
    }

    private static NotFound<ProblemDetails> NotFound(string detail) =>
        TypedResults.NotFound(new ProblemDetails { Status = StatusCodes.Status404NotFound, Title = "Not found", Detail = detail });
}
