using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Dva.Manager.Tests.Apis;

public sealed class OperationsApiTests(ManagerFixture fixture) : ApiTestBase(fixture)
{
    [Fact]
    public async Task OpenApi_Document_DescribesTheResources()
    {
        var document = JsonNode.Parse(await Factory.CreateClient().GetStringAsync("/openapi/v1.json"))!;

        var paths = document["paths"]!.AsObject();
        foreach (var path in new[]
        {
            "/api/v1/dvas", "/api/v1/dvas/{id}", "/api/v1/dvas/{id}:scale", "/api/v1/dvas/{dvaId}/interfaces",
            "/api/v1/dvas/{dvaId}/routes/{id}", "/api/v1/dvas/{dvaId}/firewall-rules", "/api/v1/dvas/{dvaId}/vips",
            "/api/v1/dvas/{dvaId}/pools/{poolId}/members", "/api/v1/nodes/{id}:drain", "/api/v1/audit",
            "/api/v1/dvas/{dvaId}/tables/{version}", "/api/v1/keys",
        })
        {
            Assert.True(paths.ContainsKey(path), $"missing {path}");
        }

        Assert.NotNull(paths["/api/v1/dvas/{dvaId}/firewall-rules"]!["put"]);
        Assert.NotNull(document["components"]!["schemas"]!["DvaSpec"]);
    }

    [Fact]
    public async Task Metrics_CountsDvasAndRequestsByStatusClass()
    {
        await CreateDvaAsync();
        await Client.GetAsync("/api/v1/dvas/123456789");

        var text = await Factory.CreateClient().GetStringAsync("/metrics");

        Assert.Matches(@"(?m)^dva_dvas [1-9]\d*$", text);
        Assert.Matches(@"(?m)^dva_api_requests_total\{class=""2xx""\} [1-9]\d*$", text);
        Assert.Matches(@"(?m)^dva_api_requests_total\{class=""4xx""\} [1-9]\d*$", text);
        Assert.Contains("# TYPE dva_nodes gauge", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Healthz_WithDatabase_ReturnsOk()
    {
        Assert.Equal("\"ok\"", await Factory.CreateClient().GetStringAsync("/healthz"));
    }

    [Fact]
    public async Task UnknownRoute_Returns404Problem()
    {
        await ExpectProblemAsync(await Client.GetAsync("/api/v1/nothing-here"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Body_LargerThanTheLimit_Returns413Problem()
    {
        var database = new TempDatabase();
        try
        {
            await using var factory = new ManagerFactory(database.Path, maxBodyBytes: 1024);
            var client = factory.Admin();

            var response = await client.PostAsync("/api/v1/dvas", RawJson($"{{\"name\": \"big\", \"description\": \"{new string('x', 2000)}\"}}"));
            var small = await client.PostAsJsonAsync("/api/v1/dvas", new { name = "small" });

            await ExpectProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
            await ExpectAsync(small, HttpStatusCode.Created);
        }
        finally
        {
            database.Delete();
        }
    }
}
