using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Dva.Manager.Tests.Apis;

public sealed class AuditApiTests(ManagerFixture fixture) : ApiTestBase(fixture)
{
    private async Task<JsonArray> AuditOfAsync(long dvaId) =>
        (await ReadJsonAsync(await Client.GetAsync($"/api/v1/audit?dvaId={dvaId}&pageSize=100")))["items"]!.AsArray();

    [Fact]
    public async Task Changes_AreAuditedWithActorAndBeforeAfter()
    {
        var dvaId = await CreateDvaAsync("audited");
        var ifaceId = await CreateInterfaceAsync(dvaId, 1);
        await ExpectAsync(await Client.PutAsJsonAsync($"/api/v1/dvas/{dvaId}", new { name = "audited", description = "changed" }), HttpStatusCode.OK);
        await ExpectAsync(await Client.DeleteAsync($"/api/v1/dvas/{dvaId}/interfaces/{ifaceId}"), HttpStatusCode.NoContent);
        await ExpectAsync(await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}:scale", new { dataPlanes = 3 }), HttpStatusCode.Accepted);

        var entries = await AuditOfAsync(dvaId);

        Assert.Equal(["scale", "delete", "replace", "create", "create"], entries.Select(e => (string)e!["operation"]!));
        Assert.All(entries, e => Assert.Equal("key:admin (configured)", (string)e!["actor"]!));
        var delete = entries[1]!;
        Assert.Equal(("interface", ifaceId), ((string)delete["targetType"]!, (long)delete["targetId"]!));
        Assert.Equal("if1", (string)JsonNode.Parse((string)delete["before"]!)!["spec"]!["name"]!);
        Assert.Null(delete["after"]);
        var replace = entries[2]!;
        Assert.Equal("", (string)JsonNode.Parse((string)replace["before"]!)!["spec"]!["description"]!);
        Assert.Equal("changed", (string)JsonNode.Parse((string)replace["after"]!)!["spec"]!["description"]!);
        var create = entries[3]!;
        Assert.Null(create["before"]);
        Assert.Equal(ifaceId, (long)JsonNode.Parse((string)create["after"]!)!["id"]!);
    }

    [Fact]
    public async Task DvaCreateAndDelete_AreAudited()
    {
        var dvaId = await CreateDvaAsync("audited-lifecycle");
        await ExpectAsync(await Client.DeleteAsync($"/api/v1/dvas/{dvaId}"), HttpStatusCode.NoContent);

        var all = (await ReadJsonAsync(await Client.GetAsync("/api/v1/audit?pageSize=500")))["items"]!.AsArray();

        var mine = all.Where(e => (string)e!["targetType"]! == "dva" && (long?)e["targetId"] == dvaId).ToList();
        Assert.Equal(["delete", "create"], mine.Select(e => (string)e!["operation"]!));
        Assert.Equal("audited-lifecycle", (string)JsonNode.Parse((string)mine[0]!["before"]!)!["spec"]!["name"]!);
    }

    [Fact]
    public async Task FirewallListReplace_IsAuditedAsOneEntryWithBothLists()
    {
        var dvaId = await CreateDvaAsync();
        await ExpectAsync(await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/firewall-rules", new { action = "drop" }), HttpStatusCode.Created);
        var etag = ETagOf(await Client.GetAsync($"/api/v1/dvas/{dvaId}/firewall-rules"));

        await ExpectAsync(await Client.SendAsync(Request(HttpMethod.Put, $"/api/v1/dvas/{dvaId}/firewall-rules",
            new object[] { new { action = "accept" }, new { action = "reject" } }, etag)), HttpStatusCode.OK);

        var entry = (await AuditOfAsync(dvaId))[0]!;
        Assert.Equal("replaceList", (string)entry["operation"]!);
        Assert.Single(JsonNode.Parse((string)entry["before"]!)!.AsArray());
        Assert.Equal(2, JsonNode.Parse((string)entry["after"]!)!.AsArray().Count);
    }

    [Fact]
    public async Task List_Paged_ReturnsNewestFirstWithTotal()
    {
        var dvaId = await CreateDvaAsync();
        for (var i = 1; i <= 5; i++)
        {
            await CreateInterfaceAsync(dvaId, i);
        }

        var page1 = await ReadJsonAsync(await Client.GetAsync($"/api/v1/audit?dvaId={dvaId}&page=1&pageSize=2"));
        var page3 = await ReadJsonAsync(await Client.GetAsync($"/api/v1/audit?dvaId={dvaId}&page=3&pageSize=2"));

        Assert.Equal(6, (int)page1["total"]!); // the DVA's creation and five interfaces
        Assert.Equal(2, page1["items"]!.AsArray().Count);
        Assert.True((long)page1["items"]![0]!["id"]! > (long)page1["items"]![1]!["id"]!);
        Assert.Equal("dva", (string)page3["items"]!.AsArray()[^1]!["targetType"]!);
    }

    [Fact]
    public async Task List_FailedChange_WritesNoEntry()
    {
        var dvaId = await CreateDvaAsync();
        var before = (await AuditOfAsync(dvaId)).Count;

        await ExpectFieldErrorsAsync(await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/interfaces", new { ifid = 0, name = "x", mac = "02:00:00:00:00:01" }), "ifid");

        Assert.Equal(before, (await AuditOfAsync(dvaId)).Count);
    }
}
