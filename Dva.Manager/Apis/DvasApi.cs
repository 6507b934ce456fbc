using Dva.Manager.Infrastructure;
using Dva.Manager.Model;
using Dva.Manager.Security.Keys;
using Dva.Manager.Services;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Dva.Manager.Apis;

internal static class DvasApi
{
    public static IEndpointRouteBuilder MapDvasApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapApiGroup("/dvas", "DVAs");
        group.MapGet("/", List);
        group.MapGet("/{id:long}", Get);
        group.MapPost("/", Create).RunAgainOnLostRace();
        group.MapPut("/{id:long}", Replace).RunAgainOnLostRace();
        group.MapDelete("/{id:long}", Delete).RunAgainOnLostRace();
        group.MapPost("/{id:long}:scale", Scale).RunAgainOnLostRace();
        // Not run again: a rotation sends key steps to the units between its saves; a lost race is a 412.
        group.MapPost("/{id:long}:rotate-keys", RotateKeys);
        return app;
    }

    public static async Task<Ok<IReadOnlyList<DvaView>>> List(DvaService service, CancellationToken ct) =>
        TypedResults.Ok(await service.ListAsync(ct));

    public static async Task<Results<Ok<DvaView>, ValidationProblem, ProblemHttpResult>> Get(
        long id, DvaService service, HttpResponse response, CancellationToken ct) =>
        ApiResults.Ok(await service.GetAsync(id, ct), response);

    public static async Task<Results<Created<DvaView>, ValidationProblem, ProblemHttpResult>> Create(
        DvaSpec spec, DvaService service, HttpResponse response, CancellationToken ct) =>
        ApiResults.Created(await service.CreateAsync(spec, ct), response, v => $"{ApiGroups.Prefix}/dvas/{v.Id}");

    public static async Task<Results<Ok<DvaView>, ValidationProblem, ProblemHttpResult>> Replace(
        long id, DvaSpec spec, DvaService service, HttpRequest request, CancellationToken ct) =>
        ApiResults.Ok(await service.ReplaceAsync(id, spec, ApiResults.IfMatch(request), ct), request.HttpContext.Response);

    public static async Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> Delete(
        long id, DvaService service, HttpRequest request, CancellationToken ct) =>
        ApiResults.NoContent(await service.DeleteAsync(id, ApiResults.IfMatch(request), ct));

    /// <summary>Stores the wanted number of data planes; answers 202 because nodes follow later.</summary>
    public static async Task<Results<Accepted<ScaleView>, ValidationProblem, ProblemHttpResult>> Scale(
        long id, ScaleRequest body, DvaService service, HttpRequest request, CancellationToken ct) =>
        ApiResults.Accepted(await service.ScaleAsync(id, body, ApiResults.IfMatch(request), ct), request.HttpContext.Response,
            $"{ApiGroups.Prefix}/dvas/{id}");

    /// <summary>
    /// Rotates the DVA's tunnel key on every connected unit (install in the spare phase, switch, retire; each step
    /// acked by all). Answers key ids only; the key bytes never leave the manager except to the units.
    /// </summary>
    public static async Task<Results<Ok<KeyRotationView>, ValidationProblem, ProblemHttpResult>> RotateKeys(
        long id, TunnelKeyService keys, HttpResponse response, CancellationToken ct) =>
        ApiResults.Ok(await keys.RotateAsync(id, ct), response);
}
