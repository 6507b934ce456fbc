using System.Globalization;
using System.Text;
using Dva.Manager.Infrastructure;
using Dva.Manager.Model;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Dva.Manager.Apis;

/// <summary>Unauthenticated endpoints for probes and scrapers: /healthz and /metrics.</summary>
internal static class OperationsApi
{
    public static IEndpointRouteBuilder MapOperationsApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/healthz", Health).WithTags("Operations");
        app.MapGet("/metrics", Metrics).WithTags("Operations");
        return app;
    }

    /// <summary>Healthy when the database answers.</summary>
    public static async Task<Results<Ok<string>, ProblemHttpResult>> Health(ManagerDbContext db, CancellationToken ct) =>
        await db.Database.CanConnectAsync(ct)
            ? TypedResults.Ok("ok")
            : TypedResults.Problem("The database cannot be reached.", statusCode: StatusCodes.Status503ServiceUnavailable);

    /// <summary>Prometheus text format. No per-flow labels: cardinality stays bounded by DVAs and nodes.</summary>
    public static async Task<ContentHttpResult> Metrics(ManagerDbContext db, ApiMetrics metrics, CancellationToken ct)
    {
        var dvas = await db.Dvas.CountAsync(ct);
        var nodes = await db.Nodes.GroupBy(n => new { n.Role, n.State })
            .Select(g => new { g.Key.Role, g.Key.State, Count = g.Count() }).ToListAsync(ct);
        var text = new StringBuilder();
        text.Append("# HELP dva_dvas Configured DVAs.\n# TYPE dva_dvas gauge\n");
        text.Append(CultureInfo.InvariantCulture, $"dva_dvas {dvas}\n");
        text.Append("# HELP dva_nodes Registered nodes by role and state.\n# TYPE dva_nodes gauge\n");
        foreach (var role in Enum.GetValues<NodeRole>())
        {
            foreach (var state in Enum.GetValues<NodeState>())
            {
                var count = nodes.FirstOrDefault(n => n.Role == role && n.State == state)?.Count ?? 0;
                text.Append(CultureInfo.InvariantCulture,
                    $"dva_nodes{{role=\"{role.ToString().ToLowerInvariant()}\",state=\"{state.ToString().ToLowerInvariant()}\"}} {count}\n");
            }
        }

        text.Append("# HELP dva_api_requests_total REST API requests answered, by status class.\n# TYPE dva_api_requests_total counter\n");
        for (var statusClass = 1; statusClass <= 5; statusClass++)
        {
            text.Append(CultureInfo.InvariantCulture, $"dva_api_requests_total{{class=\"{statusClass}xx\"}} {metrics.Requests(statusClass)}\n");
        }

        return TypedResults.Text(text.ToString(), "text/plain; version=0.0.4; charset=utf-8");
    }
}
