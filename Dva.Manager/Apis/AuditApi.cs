using Dva.Manager.Services;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Dva.Manager.Apis;

internal static class AuditApi
{
    public static IEndpointRouteBuilder MapAuditApi(this IEndpointRouteBuilder app)
    {
        app.MapApiGroup("/audit", "Audit").MapGet("/", List);
        return app;
    }

    /// <summary>Newest first; <paramref name="dvaId"/> narrows to one DVA's changes.</summary>
    public static async Task<Ok<PagedResult<AuditEntryView>>> List(AuditLog audit, long? dvaId, int? page, int? pageSize, CancellationToken ct) =>
        TypedResults.Ok(await audit.ListAsync(dvaId, page ?? 1, pageSize ?? 50, ct));
}
