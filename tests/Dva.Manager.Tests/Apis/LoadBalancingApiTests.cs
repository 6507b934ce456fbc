using System.Net;
using System.Net.Http.Json;

namespace Dva.Manager.Tests.Apis;

public sealed class LoadBalancingApiTests(ManagerFixture fixture) : ApiTestBase(fixture)
{
    private async Task<long> CreatePoolAsync(long dvaId, string name = "web") =>
        (long)(await ExpectAsync(await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/pools", new { name, method = "weightedRoundRobin" }), HttpStatusCode.Created))["id"]!;

    [Fact]
    public async Task Pools_Crud_RoundTrips()
    {
        var dvaId = await CreateDvaAsync();
        var id = await CreatePoolAsync(dvaId);

        var replaced = await Client.PutAsJsonAsync($"/api/v1/dvas/{dvaId}/pools/{id}", new { name = "web", method = "sourceHash" });

        Assert.Equal("sourceHash", (string)(await ExpectAsync(replaced, HttpStatusCode.OK))["spec"]!["method"]!);
        Assert.Single((await ReadJsonAsync(await Client.GetAsync($"/api/v1/dvas/{dvaId}/pools"))).AsArray());
        await ExpectAsync(await Client.GetAsync($"/api/v1/dvas/{dvaId}/pools/{id}"), HttpStatusCode.OK);
        await ExpectAsync(await Client.DeleteAsync($"/api/v1/dvas/{dvaId}/pools/{id}"), HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task Pools_DuplicateName_IsRejected()
    {
        var dvaId = await CreateDvaAsync();
        await CreatePoolAsync(dvaId, "dup");

        await ExpectFieldErrorsAsync(await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/pools", new { name = "dup" }), "name");
    }

    [Fact]
    public async Task Vips_Crud_RoundTrips()
    {
        var dvaId = await CreateDvaAsync();
        var poolId = await CreatePoolAsync(dvaId);

        var created = await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/vips", new { name = "www", address = "192.0.2.80", port = 443, protocol = "tcp", poolId });
        var id = (long)(await ExpectAsync(created, HttpStatusCode.Created))["id"]!;
        var replaced = await Client.PutAsJsonAsync($"/api/v1/dvas/{dvaId}/vips/{id}", new { name = "www", address = "2001:db8::80", port = 443, protocol = "tcp", poolId });

        Assert.Equal("2001:db8::80", (string)(await ExpectAsync(replaced, HttpStatusCode.OK))["spec"]!["address"]!);
        Assert.Single((await ReadJsonAsync(await Client.GetAsync($"/api/v1/dvas/{dvaId}/vips"))).AsArray());
        await ExpectAsync(await Client.DeleteAsync($"/api/v1/dvas/{dvaId}/vips/{id}"), HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task Vips_InvalidFieldsAndUnknownPool_AreReported()
    {
        var dvaId = await CreateDvaAsync();
        var otherDva = await CreateDvaAsync();
        var foreignPool = await CreatePoolAsync(otherDva);

        var response = await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/vips", new { name = "", address = "192.0.2", port = 0, poolId = foreignPool });

        await ExpectFieldErrorsAsync(response, "name", "address", "port", "poolId");
    }

    [Fact]
    public async Task Vips_SameAddressPortProtocol_IsRejected()
    {
        var dvaId = await CreateDvaAsync();
        var poolId = await CreatePoolAsync(dvaId);
        await ExpectAsync(await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/vips", new { name = "a", address = "192.0.2.80", port = 80, poolId }), HttpStatusCode.Created);

        var again = await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/vips", new { name = "b", address = "192.0.2.80", port = 80, poolId });

        await ExpectFieldErrorsAsync(again, "address");
    }

    [Fact]
    public async Task Pools_DeleteWhileUsedByVip_Returns409()
    {
        var dvaId = await CreateDvaAsync();
        var poolId = await CreatePoolAsync(dvaId);
        await ExpectAsync(await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/vips", new { name = "www", address = "192.0.2.80", port = 80, poolId }), HttpStatusCode.Created);

        await ExpectProblemAsync(await Client.DeleteAsync($"/api/v1/dvas/{dvaId}/pools/{poolId}"), HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task Members_BatchReplace_KeepsUnchangedMembersAndBumpsPoolVersion()
    {
        var dvaId = await CreateDvaAsync();
        var poolId = await CreatePoolAsync(dvaId);
        var members = $"/api/v1/dvas/{dvaId}/pools/{poolId}/members";
        var firstResponse = await Client.SendAsync(Request(HttpMethod.Put, members, new object[]
        {
            new { address = "198.51.100.10", port = 8080, weight = 2 },
            new { address = "198.51.100.11", port = 8080 },
        }, "\"1\""));
        var first = await ExpectAsync(firstResponse, HttpStatusCode.OK);
        var keptId = (long)first["members"]![0]!["id"]!;

        var secondResponse = await Client.SendAsync(Request(HttpMethod.Put, members, new object[]
        {
            new { address = "198.51.100.10", port = 8080, weight = 2 },
            new { address = "198.51.100.12", port = 8080, adminState = "draining" },
        }, ETagOf(firstResponse)));

        var second = await ExpectAsync(secondResponse, HttpStatusCode.OK);
        Assert.Equal(keptId, (long)second["members"]![0]!["id"]!);
        Assert.Equal("draining", (string)second["members"]![1]!["spec"]!["adminState"]!);
        Assert.Equal("unknown", (string)second["members"]![1]!["health"]!);
        var listed = await ReadJsonAsync(await Client.GetAsync(members));
        Assert.Equal(["198.51.100.10", "198.51.100.12"], listed["members"]!.AsArray().Select(m => (string)m!["spec"]!["address"]!));
        var pool = await ReadJsonAsync(await Client.GetAsync($"/api/v1/dvas/{dvaId}/pools/{poolId}"));
        Assert.Equal(3, (int)pool["generation"]!);
    }

    [Fact]
    public async Task Members_BatchReplaceWithStaleETag_Returns412()
    {
        var dvaId = await CreateDvaAsync();
        var poolId = await CreatePoolAsync(dvaId);
        var members = $"/api/v1/dvas/{dvaId}/pools/{poolId}/members";
        await ExpectAsync(await Client.PostAsJsonAsync(members, new { address = "198.51.100.10", port = 80 }), HttpStatusCode.Created);

        var response = await Client.SendAsync(Request(HttpMethod.Put, members, Array.Empty<object>(), "\"1\""));

        await ExpectProblemAsync(response, HttpStatusCode.PreconditionFailed);
    }

    [Fact]
    public async Task Members_InvalidBatch_ReportsFieldsByIndex()
    {
        var dvaId = await CreateDvaAsync();
        var poolId = await CreatePoolAsync(dvaId);

        var response = await Client.PutAsJsonAsync($"/api/v1/dvas/{dvaId}/pools/{poolId}/members", new object[]
        {
            new { address = "198.51.100.10", port = 80 },
            new { address = "198.51.100.10", port = 80 },
            new { address = "nowhere", port = 70000, weight = 0 },
        });

        await ExpectFieldErrorsAsync(response, "[1].address", "[2].address", "[2].port", "[2].weight");
    }

    [Fact]
    public async Task Members_AddGetDelete_RoundTrips()
    {
        var dvaId = await CreateDvaAsync();
        var poolId = await CreatePoolAsync(dvaId);
        var members = $"/api/v1/dvas/{dvaId}/pools/{poolId}/members";

        var created = await ExpectAsync(await Client.PostAsJsonAsync(members, new { address = "2001:db8::10", port = 80, weight = 5 }), HttpStatusCode.Created);
        var id = (long)created["id"]!;

        Assert.Equal(5, (int)(await ExpectAsync(await Client.GetAsync($"{members}/{id}"), HttpStatusCode.OK))["spec"]!["weight"]!);
        await ExpectFieldErrorsAsync(await Client.PostAsJsonAsync(members, new { address = "2001:db8::10", port = 80 }), "address");
        await ExpectAsync(await Client.DeleteAsync($"{members}/{id}"), HttpStatusCode.NoContent);
        await ExpectProblemAsync(await Client.GetAsync($"{members}/{id}"), HttpStatusCode.NotFound);
        await ExpectProblemAsync(await Client.GetAsync($"/api/v1/dvas/{dvaId}/pools/999/members"), HttpStatusCode.NotFound);
    }
}
