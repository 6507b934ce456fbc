using Dva.Manager.Infrastructure;
using Dva.Manager.Model;
using Dva.Manager.Services;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Dva.Manager.Apis;

/// <summary>Nodes register through the node hub; here operators list them and act on them with colon-actions.</summary>
internal static class NodesApi
{
    public static IEndpointRouteBuilder MapNodesApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapApiGroup("/nodes", "Nodes");
        group.MapGet("/", List);
        group.MapGet("/{id:long}", Get);
        // Each action is one save of the node row with its audit entry; the agents hear of it from the fleet
        // reconciler's next pass, not from the handler, so a run lost to a race may run again.
        group.MapPost("/{id:long}:assign", Assign).RunAgainOnLostRace();
        group.MapPost("/{id:long}:drain", Drain).RunAgainOnLostRace();
        group.MapPost("/{id:long}:enable", Enable).RunAgainOnLostRace();
        group.MapPost("/{id:long}:remove", Remove).RunAgainOnLostRace();
        return app;
    }

    public static async Task<Ok<IReadOnlyList<NodeView>>> List(long? dvaId, NodeRegistry nodes, CancellationToken ct) =>
        TypedResults.Ok(await nodes.ListAsync(dvaId, ct));

    public static async Task<Results<Ok<NodeView>, ValidationProblem, ProblemHttpResult>> Get(
        long id, NodeRegistry nodes, HttpResponse response, CancellationToken ct) =>
        ApiResults.Ok(await nodes.GetAsync(id, ct), response);

    public static async Task<Results<Ok<NodeView>, ValidationProblem, ProblemHttpResult>> Assign(
        long id, NodeAssignment body, NodeRegistry nodes, HttpRequest request, CancellationToken ct) =>
        ApiResults.Ok(await nodes.AssignAsync(id, body, ApiResults.IfMatch(request), ct), request.HttpContext.Response);

    public static async Task<Results<Ok<NodeView>, ValidationProblem, ProblemHttpResult>> Drain(
        long id, NodeRegistry nodes, HttpRequest request, CancellationToken ct) =>
        ApiResults.Ok(await nodes.DrainAsync(id, ApiResults.IfMatch(request), ct), request.HttpContext.Response);

    public static async Task<Results<Ok<NodeView>, ValidationProblem, ProblemHttpResult>> Enable(
        long id, NodeRegistry nodes, HttpRequest request, CancellationToken ct) =>
        ApiResults.Ok(await nodes.EnableAsync(id, ApiResults.IfMatch(request), ct), request.HttpContext.Response);

    public static async Task<Results<Ok<NodeView>, ValidationProblem, ProblemHttpResult>> Remove(
        long id, NodeRegistry nodes, HttpRequest request, CancellationToken ct) =>
        ApiResults.Ok(await nodes.RemoveAsync(id, ApiResults.IfMatch(request), ct), request.HttpContext.Response);
}
