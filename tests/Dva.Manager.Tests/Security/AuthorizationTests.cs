using System.Net;
using System.Net.Http.Json;
using Dva.Manager.Model;

namespace Dva.Manager.Tests.Security;

public sealed class AuthorizationTests(ManagerFixture fixture) : ApiTestBase(fixture)
{
    [Theory]
    [InlineData(null)]
    [InlineData("Bearer dva_000000000000_not-a-real-secret")]
    [InlineData("Bearer test-admin-key-0123456789abcdef012345678X")]
    [InlineData("Basic YWRtaW46YWRtaW4=")]
    public async Task Request_WithoutValidKey_Returns401Problem(string? authorization)
    {
        var client = Factory.CreateClient();
        if (authorization is not null)
        {
            client.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", authorization);
        }

        var response = await client.GetAsync("/api/v1/dvas");

        await ExpectProblemAsync(response, HttpStatusCode.Unauthorized);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
    }

    [Fact]
    public async Task Viewer_CanReadButNotChange()
    {
        var viewer = await Factory.ClientWithRoleAsync(ApiRole.Viewer);

        var read = await viewer.GetAsync("/api/v1/dvas");
        var write = await viewer.PostAsJsonAsync("/api/v1/dvas", new { name = "by-viewer" });
        var action = await viewer.PostAsync("/api/v1/nodes/1:drain", null);

        await ExpectAsync(read, HttpStatusCode.OK);
        await ExpectProblemAsync(write, HttpStatusCode.Forbidden);
        await ExpectProblemAsync(action, HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task Operator_CanChangeButNotManageKeys()
    {
        var op = await Factory.ClientWithRoleAsync(ApiRole.Operator);

        var write = await op.PostAsJsonAsync("/api/v1/dvas", new { name = "by-operator" });
        var keys = await op.GetAsync("/api/v1/keys");
        var newKey = await op.PostAsJsonAsync("/api/v1/keys", new { name = "sneaky", role = "admin" });

        await ExpectAsync(write, HttpStatusCode.Created);
        await ExpectProblemAsync(keys, HttpStatusCode.Forbidden);
        await ExpectProblemAsync(newKey, HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task Admin_CreatesListsAndRevokesKeys()
    {
        var created = await ExpectAsync(await Client.PostAsJsonAsync("/api/v1/keys", new { name = "ci", role = "operator" }), HttpStatusCode.Created);
        var secret = (string)created["secret"]!;
        var id = (long)created["key"]!["id"]!;
        var keyClient = Factory.CreateClient(secret);
        await ExpectAsync(await keyClient.GetAsync("/api/v1/dvas"), HttpStatusCode.OK);

        var list = await ReadJsonAsync(await Client.GetAsync("/api/v1/keys"));
        Assert.Contains(list.AsArray(), k => (string)k!["name"]! == "ci" && (string)k["role"]! == "operator");
        Assert.DoesNotContain(secret, list.ToJsonString(), StringComparison.Ordinal);

        await ExpectAsync(await Client.DeleteAsync($"/api/v1/keys/{id}"), HttpStatusCode.NoContent);
        await ExpectProblemAsync(await keyClient.GetAsync("/api/v1/dvas"), HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Keys_InvalidBodyAndUnknownId_AreReported()
    {
        await ExpectFieldErrorsAsync(await Client.PostAsJsonAsync("/api/v1/keys", new { name = "" }), "name");
        await ExpectProblemAsync(await Client.DeleteAsync("/api/v1/keys/987654"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Keys_DeleteLastAdmin_Returns409()
    {
        var keys = await ReadJsonAsync(await Client.GetAsync("/api/v1/keys"));
        var admins = keys.AsArray().Where(k => (string)k!["role"]! == "admin").ToList();
        Assert.Single(admins);

        await ExpectProblemAsync(await Client.DeleteAsync($"/api/v1/keys/{admins[0]!["id"]}"), HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task OpenApiHealthAndMetrics_NeedNoKey()
    {
        var anonymous = Factory.CreateClient();

        await ExpectAsync(await anonymous.GetAsync("/healthz"), HttpStatusCode.OK);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/metrics")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/openapi/v1.json")).StatusCode);
    }
}
