using Dva.Manager.Model;
using Dva.Manager.Services;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Dva.Manager.Apis;

/// <summary>
/// Handlers of the five routes every DVA-owned object has: list, get, create, replace, delete. Mapped from
/// each resource's Map…Api with the type arguments closed there: the route handler analyzer cannot
/// analyse handlers whose parameter types are still type parameters.
/// </summary>
internal static class DvaChildApi<TService, TEntity, TSpec>
    where TService : DvaChildService<TEntity, TSpec>
    where TEntity : DvaChildEntity<TSpec>, new()
    where TSpec : class
{
    public static async Task<Results<Ok<IReadOnlyList<ResourceView<TSpec>>>, ValidationProblem, ProblemHttpResult>> List(
        long dvaId, TService service, HttpResponse response, CancellationToken ct) =>
        ApiResults.Ok(await service.ListAsync(dvaId, ct), response);

    public static async Task<Results<Ok<ResourceView<TSpec>>, ValidationProblem, ProblemHttpResult>> Get(
        long dvaId, long id, TService service, HttpResponse response, CancellationToken ct) =>
        ApiResults.Ok(await service.GetAsync(dvaId, id, ct), response);

    public static async Task<Results<Created<ResourceView<TSpec>>, ValidationProblem, ProblemHttpResult>> Create(
        long dvaId, TSpec spec, TService service, HttpRequest request, CancellationToken ct) =>
        ApiResults.Created(await service.CreateAsync(dvaId, spec, ct), request.HttpContext.Response, v => $"{request.Path.Value!.TrimEnd('/')}/{v.Id}");

    public static async Task<Results<Ok<ResourceView<TSpec>>, ValidationProblem, ProblemHttpResult>> Replace(
        long dvaId, long id, TSpec spec, TService service, HttpRequest request, CancellationToken ct) =>
        ApiResults.Ok(await service.ReplaceAsync(dvaId, id, spec, ApiResults.IfMatch(request), ct), request.HttpContext.Response);

    public static async Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> Delete(
        long dvaId, long id, TService service, HttpRequest request, CancellationToken ct) =>
        ApiResults.NoContent(await service.DeleteAsync(dvaId, id, ApiResults.IfMatch(request), ct));
}
