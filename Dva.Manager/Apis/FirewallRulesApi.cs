using Dva.Manager.Infrastructure;
using Dva.Manager.Model;
using Dva.Manager.Services;
using Microsoft.AspNetCore.Http.HttpResults;
using Handlers = Dva.Manager.Apis.DvaChildApi<Dva.Manager.Services.FirewallRuleService, Dva.Manager.Model.FirewallRule, Dva.Manager.Model.FirewallRuleSpec>;

namespace Dva.Manager.Apis;

internal static class FirewallRulesApi
{
    public static IEndpointRouteBuilder MapFirewallRulesApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapDvaChildApi("firewall-rules", "Firewall rules", null, Handlers.Get, Handlers.Create, Handlers.Replace, Handlers.Delete);
        group.MapGet("/", GetList);
        group.MapPut("/", ReplaceList).RunAgainOnLostRace();
        group.MapPatch("/{id:long}", Patch).RunAgainOnLostRace();
        return app;
    }

    /// <summary>The ordered rule list; its ETag is what a whole-list PUT must send as If-Match.</summary>
    public static async Task<Results<Ok<FirewallRuleListView>, ValidationProblem, ProblemHttpResult>> GetList(
        long dvaId, FirewallRuleService service, HttpResponse response, CancellationToken ct) =>
        ApiResults.Ok(await service.GetListAsync(dvaId, ct), response);

    /// <summary>Replaces every rule at once, in array order; needs If-Match (428 without, 412 when stale).</summary>
    public static async Task<Results<Ok<FirewallRuleListView>, ValidationProblem, ProblemHttpResult>> ReplaceList(
        long dvaId, List<FirewallRuleSpec> rules, FirewallRuleService service, HttpRequest request, CancellationToken ct) =>
        ApiResults.Ok(await service.ReplaceListAsync(dvaId, rules, ApiResults.IfMatch(request), ct), request.HttpContext.Response);

    public static async Task<Results<Ok<ResourceView<FirewallRuleSpec>>, ValidationProblem, ProblemHttpResult>> Patch(
        long dvaId, long id, FirewallRulePatch patch, FirewallRuleService service, HttpRequest request, CancellationToken ct) =>
        ApiResults.Ok(await service.PatchAsync(dvaId, id, patch, ApiResults.IfMatch(request), ct), request.HttpContext.Response);
}
