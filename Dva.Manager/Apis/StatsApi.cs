using Dva.Manager.Services;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Dva.Manager.Apis;

/// <summary>Live service counters of a DVA, summed over its data planes from their latest heartbeats.</summary>
internal static class StatsApi
{
    public static IEndpointRouteBuilder MapStatsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapApiGroup("/dvas/{dvaId:long}/stats", "Stats");
        group.MapGet("/", Get);
        return app;
    }

    /// <summary>
    /// Firewall rule counters (by rule id; the default policy as <c>ruleId</c> -1) and load balancer counters per VIP
    /// and member. Nothing is stored: the numbers are the data planes' own cumulative counters as last reported, so
    /// they restart from the next heartbeats after a manager restart and go back to zero when a data plane restarts.
    /// </summary>
    public static async Task<Results<Ok<DvaStatsView>, ValidationProblem, ProblemHttpResult>> Get(
        long dvaId, DvaService dvas, LiveState live, HttpResponse response, CancellationToken ct)
    {
        var dva = await dvas.GetAsync(dvaId, ct);
        ServiceResult<DvaStatsView> result = dva.Failure is { } failure ? failure : Stats(dvaId, live);
        return ApiResults.Ok(result, response);
    }

    private static DvaStatsView Stats(long dvaId, LiveState live) => new(
        [.. live.RuleCounters(dvaId).OrderBy(r => r.Key == LiveState.DefaultPolicyRule ? long.MaxValue : r.Key)
            .Select(r => new RuleStatsView(r.Key, r.Key == LiveState.DefaultPolicyRule, r.Value.Evaluations, r.Value.Flows, r.Value.Packets, r.Value.Bytes))],
        [.. live.Vips(dvaId).Select(v => new VipStatsView(v.Address, v.ActiveFlows, v.TotalConnections, v.Bytes,
            [.. v.Members.Select(m => new MemberStatsView(m.Address, m.ActiveFlows, m.TotalConnections, m.Bytes))]))]);
}

internal sealed record DvaStatsView(IReadOnlyList<RuleStatsView> Rules, IReadOnlyList<VipStatsView> Vips);

internal sealed record RuleStatsView(long RuleId, bool IsDefault, long Evaluations, long Flows, long Packets, long Bytes);

internal sealed record VipStatsView(string Address, long ActiveFlows, long TotalConnections, long Bytes, IReadOnlyList<MemberStatsView> Members);

internal sealed record MemberStatsView(string Address, long ActiveFlows, long TotalConnections, long Bytes);
