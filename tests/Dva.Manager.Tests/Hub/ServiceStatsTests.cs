using System.Net;
using Dva.Manager.Services;
using Microsoft.Extensions.DependencyInjection;
using System.Text.Json.Nodes;
using Dva.Shared.Contracts;

namespace Dva.Manager.Tests.Hub;

/// <summary>Data planes' service counters, from their heartbeats through the hub to <c>GET /api/v1/dvas/{id}/stats</c>.</summary>
public sealed class ServiceStatsTests : HubTestBase
{
    [Fact]
    public async Task Stats_TwoDataPlanesReportCounters_RestSumsRulesVipsAndMembers()
    {
        var dva = await Factory.CreateDvaAsync("stats", "disp-s", dataPlanes: 2);
        await StartNodeAsync("disp-s", 7400);
        var units = new[] { await StartNodeAsync("dp-s1", 7401), await StartNodeAsync("dp-s2", 7402) };
        await Factory.WaitForCommitAsync(dva, (t, _) => HubFactory.ServingDataPlanes(t) == 2);
        var live = Factory.Services.GetRequiredService<LiveState>();
        var reported = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var subscription = live.Subscribe(_ =>
        {
            if (live.RuleCounters(dva).TryGetValue(7, out var r) && r.Packets == 30 && live.Vips(dva) is [{ Members: [{ TotalConnections: 12 }, ..] }])
            {
                reported.TrySetResult();
            }
        });
        for (var i = 0; i < units.Length; i++)
        {
            var n = i + 1;
            units[i].Rules = [new RuleHitCount(7, false, n, n, 10 * n, 1000 * n), new RuleHitCount(-1, true, 1, 1, 2, 80)];
            units[i].Vips =
            [
                new VipCounters("192.0.2.1:80/tcp", n, 5 * n, 700 * n,
                    [new MemberCounters("198.51.100.11:8080", n, 4 * n, 600 * n), new MemberCounters("198.51.100.12:8080", 0, n, 100 * n)]),
            ];
        }

        await reported.Task.WaitAsync(HubFactory.Patience);
        using var client = Factory.AdminClient();
        var stats = JsonNode.Parse(await client.GetStringAsync(new Uri($"/api/v1/dvas/{dva}/stats", UriKind.Relative)));

        var rules = stats!["rules"]!.AsArray();
        Assert.Equal(2, rules.Count);
        Assert.Equal("""{"ruleId":7,"isDefault":false,"evaluations":3,"flows":3,"packets":30,"bytes":3000}""", rules[0]!.ToJsonString());
        Assert.Equal("""{"ruleId":-1,"isDefault":true,"evaluations":2,"flows":2,"packets":4,"bytes":160}""", rules[1]!.ToJsonString());
        var vip = Assert.Single(stats["vips"]!.AsArray())!;
        Assert.Equal("192.0.2.1:80/tcp", (string)vip["address"]!);
        Assert.Equal((3L, 15L, 2100L), ((long)vip["activeFlows"]!, (long)vip["totalConnections"]!, (long)vip["bytes"]!));
        Assert.Equal(
            """[{"address":"198.51.100.11:8080","activeFlows":3,"totalConnections":12,"bytes":1800},{"address":"198.51.100.12:8080","activeFlows":0,"totalConnections":3,"bytes":300}]""",
            vip["members"]!.ToJsonString());
    }

    [Fact]
    public async Task Stats_UnknownDva_NotFoundProblem()
    {
        using var client = Factory.AdminClient();

        var response = await client.GetAsync(new Uri("/api/v1/dvas/987654/stats", UriKind.Relative));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }
}
