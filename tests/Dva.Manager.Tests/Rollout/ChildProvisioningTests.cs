using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Dva.Manager.Tests.Hub;

namespace Dva.Manager.Tests.Rollout;

/// <summary>
/// The provisioning status of a DVA's child objects follows the configuration to the units: PENDING_CREATE or
/// PENDING_UPDATE until every unit acked a table sent after the assignment that holds the change, then ACTIVE; ERROR
/// when it cannot be applied. Real manager on Kestrel, real node agent clients.
/// </summary>
public sealed class ChildProvisioningTests : HubTestBase
{
    [Fact]
    public async Task FirewallRule_CreatedThenUpdated_PendingUntilEveryUnitAckedThenActiveWithTheSameETag()
    {
        var (dva, units) = await StartDvaAsync("rule-status", dataPlanes: 2, port: 7900);
        using var client = Factory.AdminClient();

        var created = await client.PostAsJsonAsync($"/api/v1/dvas/{dva}/firewall-rules", new { action = "accept", protocol = "tcp", destinationPorts = "80" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var rule = JsonNode.Parse(await created.Content.ReadAsStringAsync())!;
        var id = (long)rule["id"]!;
        var etag = created.Headers.ETag!.Tag;
        Assert.Equal("PENDING_CREATE", Provisioning(rule));

        var active = await WaitForStatusAsync(client, $"/api/v1/dvas/{dva}/firewall-rules/{id}", "ACTIVE");
        // Both data planes were assigned the rule before it went ACTIVE.
        Assert.All(units, u => Assert.Contains($"\"id\":{id},", u.Assignments[^1].ConfigJson, StringComparison.Ordinal));
        Assert.Equal(1L, (long)active["observedGeneration"]!);
        Assert.Equal("ONLINE", (string)active["status"]!["operatingStatus"]!);
        Assert.Equal("True", Condition(active, "Applied"));
        Assert.Equal(etag, await ETagAsync(client, $"/api/v1/dvas/{dva}/firewall-rules/{id}"));

        // The reconciler's status writes left the ETag alone: the operator's If-Match from the create still works.
        var patched = await client.SendAsync(Patch($"/api/v1/dvas/{dva}/firewall-rules/{id}", new { destinationPorts = "443" }, etag));
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        Assert.Equal("PENDING_UPDATE", Provisioning(JsonNode.Parse(await patched.Content.ReadAsStringAsync())!));
        var updated = await WaitForStatusAsync(client, $"/api/v1/dvas/{dva}/firewall-rules/{id}", "ACTIVE");
        Assert.Equal(2L, (long)updated["observedGeneration"]!);
        Assert.All(units, u => Assert.Contains("\"destinationPorts\":\"443\"", u.Assignments[^1].ConfigJson, StringComparison.Ordinal));
    }

    [Fact]
    public async Task FirewallRule_ADataPlaneHangsInItsAssignment_ErrorNamesTheUnitUntilItAcks()
    {
        var (dva, units) = await StartDvaAsync("rule-hang", dataPlanes: 2, port: 7910);
        var (healthy, stuck) = (units[0], units[1]);
        // No table change may come while the unit hangs (it would fail the unit and take it out of the DVA): wait until
        // the history of the joins is pruned (the units report no flows), by a version every unit acked (the next pass
        // removes a unit that did not).
        await Factory.WaitForCommitAsync(dva, (t, log) => HubFactory.ServingDataPlanes(t) == 2 && t.History.EntryCount == 0 && log.Failed.Count == 0);
        using var client = Factory.AdminClient();
        stuck.HoldAssignments();

        var created = await client.PostAsJsonAsync($"/api/v1/dvas/{dva}/firewall-rules", new { action = "drop", source = "198.51.100.0/24" });
        var id = (long)JsonNode.Parse(await created.Content.ReadAsStringAsync())!["id"]!;
        var error = await WaitForStatusAsync(client, $"/api/v1/dvas/{dva}/firewall-rules/{id}", "ERROR");

        Assert.Equal("NotConfirmed", Reason(error, "Applied"));
        Assert.Contains($"node {stuck.Client.Assignment.NodeId} has not confirmed", Message(error, "Applied"), StringComparison.Ordinal);
        Assert.Contains($"\"id\":{id},", healthy.Assignments[^1].ConfigJson, StringComparison.Ordinal);

        stuck.Release();
        await WaitForStatusAsync(client, $"/api/v1/dvas/{dva}/firewall-rules/{id}", "ACTIVE");
        // ACTIVE because the unit confirmed, not because it left the DVA.
        Assert.True(Factory.Rollout.Current(dva)!.Peers.ContainsKey(stuck.Client.Assignment.NodeId),
            $"node {stuck.Client.Assignment.NodeId} left the DVA; table versions: {await TablesAsync(client, dva)}");
        Assert.Contains($"\"id\":{id},", stuck.Assignments[^1].ConfigJson, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FirewallRule_AUnitSaysItsRoleDidNotStart_ErrorCarriesItsReasonUntilTheRoleRuns()
    {
        var (dva, units) = await StartDvaAsync("rule-role-error", dataPlanes: 2, port: 7970);
        var broken = units[1];
        // The agent keeps acking tables (it keeps them when its role fails), so only its heartbeat tells.
        broken.RoleError = "the DataPlane role did not start: interface eth9 does not exist";
        using var client = Factory.AdminClient();

        var created = await client.PostAsJsonAsync($"/api/v1/dvas/{dva}/firewall-rules", new { action = "accept", protocol = "udp", destinationPorts = "53" });
        var id = (long)JsonNode.Parse(await created.Content.ReadAsStringAsync())!["id"]!;
        var error = await WaitForStatusAsync(client, $"/api/v1/dvas/{dva}/firewall-rules/{id}", "ERROR");

        Assert.Equal("NotConfirmed", Reason(error, "Applied"));
        Assert.Contains($"node {broken.Client.Assignment.NodeId}: the DataPlane role did not start: interface eth9 does not exist",
            Message(error, "Applied"), StringComparison.Ordinal);

        broken.RoleError = null;
        await WaitForStatusAsync(client, $"/api/v1/dvas/{dva}/firewall-rules/{id}", "ACTIVE");
    }

    [Fact]
    public async Task Vip_InAFirewallOnlyDva_ErrorSaysTheServiceKindRunsNoLoadBalancer()
    {
        var (dva, _) = await StartDvaAsync("vip-kind", dataPlanes: 1, port: 7920, serviceKind: "firewall");
        using var client = Factory.AdminClient();
        var pool = await client.PostAsJsonAsync($"/api/v1/dvas/{dva}/pools", new { name = "web", method = "roundRobin" });
        Assert.Equal(HttpStatusCode.Created, pool.StatusCode);
        var poolId = (long)JsonNode.Parse(await pool.Content.ReadAsStringAsync())!["id"]!;
        var vip = await client.PostAsJsonAsync($"/api/v1/dvas/{dva}/vips", new { name = "www", address = "192.0.2.80", port = 80, protocol = "tcp", poolId });
        Assert.Equal(HttpStatusCode.Created, vip.StatusCode);
        var vipId = (long)JsonNode.Parse(await vip.Content.ReadAsStringAsync())!["id"]!;

        var error = await WaitForStatusAsync(client, $"/api/v1/dvas/{dva}/vips/{vipId}", "ERROR");

        Assert.Equal("CannotApply", Reason(error, "Applied"));
        Assert.Contains("runs no load balancer", Message(error, "Applied"), StringComparison.Ordinal);
        Assert.Equal("OFFLINE", (string)error["status"]!["operatingStatus"]!);
    }

    [Fact]
    public async Task Interface_AttachedDispatcherRuns_ActiveOnceTheUnitsAcked()
    {
        var dva = await Factory.CreateDvaAsync("iface-status", "disp-1", dataPlanes: 1);
        using var client = Factory.AdminClient();
        var path = $"/api/v1/dvas/{dva}/interfaces";
        var iface = JsonNode.Parse(await client.GetStringAsync(new Uri(path, UriKind.Relative)))!.AsArray().Single()!;
        Assert.Equal("PENDING_CREATE", Provisioning(iface));

        await StartNodeAsync("disp-1", 7930);
        await StartNodeAsync("dp-1", 7931);
        await Factory.WaitForCommitAsync(dva, (t, _) => HubFactory.ServingDataPlanes(t) == 1);

        await WaitForStatusAsync(client, $"{path}/{(long)iface["id"]!}", "ACTIVE");
    }

    private static async Task<JsonNode> WaitForStatusAsync(HttpClient client, string path, string status)
    {
        var deadline = DateTimeOffset.UtcNow + HubFactory.Patience;
        while (true)
        {
            var item = JsonNode.Parse(await client.GetStringAsync(new Uri(path, UriKind.Relative)))!;
            if (Provisioning(item) == status)
            {
                return item;
            }

            if (DateTimeOffset.UtcNow >= deadline)
            {
                // The DVA's table versions say whether a table change (which fails a hanging unit) came meanwhile.
                var tables = await TablesAsync(client, long.Parse(path.Split('/')[4], CultureInfo.InvariantCulture));
                Assert.Fail($"{path} did not become {status}: {item["status"]!.ToJsonString()}\ntable versions: {tables}");
            }

            await Task.Delay(50);
        }
    }

    private static Task<string> TablesAsync(HttpClient client, long dva) =>
        client.GetStringAsync(new Uri($"/api/v1/dvas/{dva}/tables", UriKind.Relative));

    private static async Task<string> ETagAsync(HttpClient client, string path)
    {
        using var response = await client.GetAsync(new Uri(path, UriKind.Relative));
        return response.Headers.ETag!.Tag;
    }

    private static HttpRequestMessage Patch(string path, object body, string ifMatch)
    {
        var request = new HttpRequestMessage(HttpMethod.Patch, new Uri(path, UriKind.Relative)) { Content = JsonContent.Create(body) };
        request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        return request;
    }

    private static string Provisioning(JsonNode item) => (string)item["status"]!["provisioningStatus"]!;

    private static JsonNode? Applied(JsonNode item, string type) =>
        item["status"]!["conditions"]!.AsArray().FirstOrDefault(c => (string)c!["type"]! == type);

    private static string? Condition(JsonNode item, string type) => (string?)Applied(item, type)?["status"];

    private static string? Reason(JsonNode item, string type) => (string?)Applied(item, type)?["reason"];

    private static string Message(JsonNode item, string type) => (string?)Applied(item, type)?["message"] ?? "";
}
