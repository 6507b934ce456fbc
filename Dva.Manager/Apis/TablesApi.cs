using Dva.Manager.Services;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Dva.Manager.Apis;

/// <summary>Table version history of a DVA (written by the table builder and rollout).</summary>
internal static class TablesApi
{
    public static IEndpointRouteBuilder MapTablesApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapApiGroup("/dvas/{dvaId:long}/tables", "Tables");
        group.MapGet("/", List);
        group.MapGet("/{version:long}", Get);
        return app;
    }

    public static async Task<Results<Ok<PagedResult<TableVersionView>>, ValidationProblem, ProblemHttpResult>> List(
        long dvaId, int? page, int? pageSize, TableHistoryService tables, HttpResponse response, CancellationToken ct) =>
        ApiResults.Ok(await tables.ListAsync(dvaId, page ?? 1, pageSize ?? 50, ct), response);

    public static async Task<Results<Ok<TableVersionDetail>, ValidationProblem, ProblemHttpResult>> Get(
        long dvaId, long version, TableHistoryService tables, HttpResponse response, CancellationToken ct) =>
        ApiResults.Ok(await tables.GetAsync(dvaId, version, ct), response);
}
