using Dva.Manager.Model;
using Dva.Manager.Security;
using Dva.Manager.Services;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Dva.Manager.Apis;

internal static class KeysApi
{
    public static IEndpointRouteBuilder MapKeysApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapApiGroup("/keys", "API keys").RequireAuthorization(ApiRoles.AdminPolicy);
        group.MapGet("/", List);
        // Not marked RunAgainOnLostRace: admin actions on keys are rare, and the admin gets a lost race as a 412.
        group.MapPost("/", Create);
        group.MapDelete("/{id:long}", Delete);
        return app;
    }

    public static async Task<Ok<IReadOnlyList<ApiKeyView>>> List(ApiKeyService keys, CancellationToken ct) =>
        TypedResults.Ok(await keys.ListAsync(ct));

    /// <summary>The response carries the key's secret; it is never shown again.</summary>
    public static async Task<Results<Created<CreatedApiKey>, ValidationProblem, ProblemHttpResult>> Create(
        ApiKeySpec spec, ApiKeyService keys, HttpResponse response, CancellationToken ct) =>
        ApiResults.Created(await keys.CreateAsync(spec, ct), response, v => $"{ApiGroups.Prefix}/keys/{v.Key.Id}");

    public static async Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> Delete(
        long id, ApiKeyService keys, CancellationToken ct) =>
        ApiResults.NoContent(await keys.DeleteAsync(id, ct));
}
