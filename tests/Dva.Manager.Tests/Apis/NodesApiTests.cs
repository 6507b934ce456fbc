using System.Net;
using System.Net.Http.Json;
using Dva.Manager.Infrastructure;
using Dva.Manager.Services;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Dva.Manager.Tests.Apis;

/// <summary>Nodes register through <see cref="NodeRegistry"/> (what the node hub calls) and are managed over REST.</summary>
public sealed class NodesApiTests : IAsyncLifetime
{
    private readonly TempDatabase _database = new();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 26, 9, 0, 0, TimeSpan.Zero));
    private ManagerFactory Factory { get; set; } = null!;
    private HttpClient _client = null!;

    public Task InitializeAsync()
    {
        Factory = new ManagerFactory(_database.Path, time: _time);
        _client = Factory.Admin();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await Factory.DisposeAsync();
        _database.Delete();
    }

    private async Task<long> RegisterAsync(string name) =>
        (await Factory.WithServiceAsync<NodeRegistry, ServiceResult<NodeView>>(r => r.RegisterAsync(name, "127.0.0.1:6090", 1e6, CancellationToken.None))).Value!.Id;

    private async Task<long> CreateDvaAsync(string name) =>
        (long)(await (await _client.PostAsJsonAsync("/api/v1/dvas", new { name })).Content.ReadFromJsonAsync<System.Text.Json.Nodes.JsonObject>())!["id"]!;

    [Fact]
    public async Task Register_NewNode_IsListedUnallocatedAndOnline()
    {
        var id = await RegisterAsync("n-list");

        var nodes = await _client.GetFromJsonAsync<System.Text.Json.Nodes.JsonArray>("/api/v1/nodes");
        var node = await _client.GetFromJsonAsync<System.Text.Json.Nodes.JsonObject>($"/api/v1/nodes/{id}");

        Assert.Contains(nodes!, n => (long)n!["id"]! == id);
        Assert.Equal("unallocated", (string)node!["role"]!);
        Assert.Equal(0, (int)node["nodeId"]!);
        Assert.Equal("ONLINE", (string)node["status"]!["operatingStatus"]!);
    }

    [Fact]
    public async Task Get_NodeWithoutRecentHeartbeat_IsOffline()
    {
        var id = await RegisterAsync("n-silent");

        _time.Advance(TimeSpan.FromMinutes(1));
        var node = await _client.GetFromJsonAsync<System.Text.Json.Nodes.JsonObject>($"/api/v1/nodes/{id}");

        Assert.Equal("OFFLINE", (string)node!["status"]!["operatingStatus"]!);
    }

    [Fact]
    public async Task Assign_TwoNodes_GetLowestFreeNodeIdsInTheirDva()
    {
        var dvaId = await CreateDvaAsync("nodes-assign");
        var a = await RegisterAsync("n-a");
        var b = await RegisterAsync("n-b");

        var first = await _client.PostAsJsonAsync($"/api/v1/nodes/{a}:assign", new { dvaId, role = "dispatcher" });
        var second = await _client.PostAsJsonAsync($"/api/v1/nodes/{b}:assign", new { dvaId, role = "dataPlane" });

        var nodeA = await first.Content.ReadFromJsonAsync<System.Text.Json.Nodes.JsonObject>();
        var nodeB = await second.Content.ReadFromJsonAsync<System.Text.Json.Nodes.JsonObject>();
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal((1, "dispatcher"), ((int)nodeA!["nodeId"]!, (string)nodeA["role"]!));
        Assert.Equal((2, "dataPlane"), ((int)nodeB!["nodeId"]!, (string)nodeB["role"]!));
        var inDva = await _client.GetFromJsonAsync<System.Text.Json.Nodes.JsonArray>($"/api/v1/nodes?dvaId={dvaId}");
        Assert.Equal(2, inDva!.Count);
    }

    [Fact]
    public async Task Assign_UnknownDvaOrBadRole_ReportsFields()
    {
        var id = await RegisterAsync("n-bad-assign");

        var response = await _client.PostAsJsonAsync($"/api/v1/nodes/{id}:assign", new { dvaId = 999999, role = "unallocated" });

        var problem = await response.Content.ReadFromJsonAsync<System.Text.Json.Nodes.JsonObject>();
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True(problem!["errors"]!.AsObject().ContainsKey("dvaId"));
        Assert.True(problem["errors"]!.AsObject().ContainsKey("role"));
    }

    [Fact]
    public async Task DrainEnableRemove_Node_ChangesStateAndFreesNodeId()
    {
        var dvaId = await CreateDvaAsync("nodes-actions");
        var id = await RegisterAsync("n-actions");
        (await _client.PostAsJsonAsync($"/api/v1/nodes/{id}:assign", new { dvaId, role = "dataPlane" })).EnsureSuccessStatusCode();

        var drained = await (await _client.PostAsync($"/api/v1/nodes/{id}:drain", null)).Content.ReadFromJsonAsync<System.Text.Json.Nodes.JsonObject>();
        var enabled = await (await _client.PostAsync($"/api/v1/nodes/{id}:enable", null)).Content.ReadFromJsonAsync<System.Text.Json.Nodes.JsonObject>();
        var removed = await (await _client.PostAsync($"/api/v1/nodes/{id}:remove", null)).Content.ReadFromJsonAsync<System.Text.Json.Nodes.JsonObject>();

        Assert.Equal("draining", (string)drained!["state"]!);
        Assert.Equal("DEGRADED", (string)drained["status"]!["operatingStatus"]!);
        Assert.Equal("active", (string)enabled!["state"]!);
        Assert.Equal("unallocated", (string)removed!["role"]!);
        Assert.Null(removed["dvaId"]);
        Assert.Equal(0, (int)removed["nodeId"]!);
    }

    [Fact]
    public async Task Drain_StaleIfMatch_Returns412()
    {
        var id = await RegisterAsync("n-stale");
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/nodes/{id}:drain");
        request.Headers.TryAddWithoutValidation("If-Match", "\"99\"");

        var response = await _client.SendAsync(request);

        Assert.Equal(HttpStatusCode.PreconditionFailed, response.StatusCode);
    }

    [Theory]
    [InlineData("drain")]
    [InlineData("enable")]
    [InlineData("remove")]
    public async Task Action_UnknownNode_Returns404Problem(string action)
    {
        var response = await _client.PostAsync($"/api/v1/nodes/4242:{action}", null);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Metrics_AfterAssignments_CountsNodesByRoleAndState()
    {
        var dvaId = await CreateDvaAsync("nodes-metrics");
        var id = await RegisterAsync("n-metrics");
        (await _client.PostAsJsonAsync($"/api/v1/nodes/{id}:assign", new { dvaId, role = "dispatcher" })).EnsureSuccessStatusCode();

        var text = await _client.GetStringAsync("/metrics");

        Assert.Contains("dva_nodes{role=\"dispatcher\",state=\"active\"} 1\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Heartbeat_AfterSilence_BringsNodeBackOnlineWithoutChangingItsETag()
    {
        var id = await RegisterAsync("n-beat");
        var before = await _client.GetAsync($"/api/v1/nodes/{id}");
        _time.Advance(TimeSpan.FromMinutes(1));

        var known = await Factory.WithServiceAsync<NodeRegistry, bool>(r => r.HeartbeatAsync(id, 2e6, CancellationToken.None));
        var after = await _client.GetAsync($"/api/v1/nodes/{id}");

        Assert.True(known);
        var node = await after.Content.ReadFromJsonAsync<System.Text.Json.Nodes.JsonObject>();
        Assert.Equal("ONLINE", (string)node!["status"]!["operatingStatus"]!);
        Assert.Equal(2e6, (double)node["measuredCapacity"]!);
        Assert.Equal(before.Headers.ETag, after.Headers.ETag);
    }

    [Fact]
    public async Task Heartbeat_RowWrittenBetweenItsReadAndItsWrite_SucceedsAndKeepsTheOtherWrite()
    {
        var dvaId = await CreateDvaAsync("nodes-beat-race");
        var id = await RegisterAsync("n-beat-race");
        await using var hubScope = Factory.Services.CreateAsyncScope();
        // The heartbeat's context has read the row (as a heartbeat that loaded it a moment earlier would have)...
        var stale = await hubScope.ServiceProvider.GetRequiredService<ManagerDbContext>().Nodes.FindAsync(id);
        Assert.NotNull(stale);
        // ...then the row is written elsewhere (the reconciler allocating it, here the same write through REST)...
        var assigned = await _client.PostAsJsonAsync($"/api/v1/nodes/{id}:assign", new { dvaId, role = "dataPlane" });
        assigned.EnsureSuccessStatusCode();
        _time.Advance(TimeSpan.FromMinutes(1));

        // ...and only then the heartbeat writes.
        var known = await hubScope.ServiceProvider.GetRequiredService<NodeRegistry>().HeartbeatAsync(id, 3e6, CancellationToken.None);

        Assert.True(known);
        var after = await _client.GetAsync($"/api/v1/nodes/{id}");
        var node = await after.Content.ReadFromJsonAsync<System.Text.Json.Nodes.JsonObject>();
        Assert.Equal("ONLINE", (string)node!["status"]!["operatingStatus"]!);
        Assert.Equal(3e6, (double)node["measuredCapacity"]!);
        Assert.Equal(dvaId, (long)node["dvaId"]!);
        Assert.Equal("dataPlane", (string)node["role"]!);
        Assert.Equal(assigned.Headers.ETag, after.Headers.ETag);
    }

    /// <summary>
    /// The hub notes heartbeats in the <see cref="HeartbeatWriter"/>, which writes them for all units together: the last
    /// capacity of each unit is what lands, a unit removed meanwhile is skipped, and nothing is left pending.
    /// </summary>
    [Fact]
    public async Task HeartbeatWriter_SeveralUnitsAndAGoneOne_EachUnitsLastHeartbeatWrittenTogether()
    {
        var a = await RegisterAsync("n-writer-a");
        var b = await RegisterAsync("n-writer-b");
        var writer = Factory.Services.GetRequiredService<HeartbeatWriter>();

        writer.Record(a, 1e6);
        writer.Record(b, 3e6);
        writer.Record(a, 2e6);
        writer.Record(987_654, 5e6);
        await writer.FlushAsync(CancellationToken.None);

        // The writer's own timer may have taken the batch first: wait for what it commits.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        double[] capacities = [];
        while (clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            capacities = [.. await Task.WhenAll(new[] { a, b }.Select(async id =>
                (double)(await _client.GetFromJsonAsync<System.Text.Json.Nodes.JsonObject>($"/api/v1/nodes/{id}"))!["measuredCapacity"]!))];
            if (capacities.SequenceEqual([2e6, 3e6]))
            {
                break;
            }

            await Task.Delay(50);
        }

        Assert.Equal([2e6, 3e6], capacities);
        Assert.Equal(0, writer.Pending);
    }

    [Fact]
    public async Task Heartbeat_UnknownNode_ReturnsFalse()
    {
        Assert.False(await Factory.WithServiceAsync<NodeRegistry, bool>(r => r.HeartbeatAsync(987654, 1e6, CancellationToken.None)));
    }

    [Fact]
    public async Task Register_KnownName_KeepsRecordAndAllocation()
    {
        var dvaId = await CreateDvaAsync("nodes-reregister");
        var id = await RegisterAsync("n-again");
        (await _client.PostAsJsonAsync($"/api/v1/nodes/{id}:assign", new { dvaId, role = "dataPlane" })).EnsureSuccessStatusCode();

        var again = await RegisterAsync("n-again");

        var node = await _client.GetFromJsonAsync<System.Text.Json.Nodes.JsonObject>($"/api/v1/nodes/{id}");
        Assert.Equal(id, again);
        Assert.Equal(dvaId, (long)node!["dvaId"]!);
        Assert.Equal(1, (int)node["nodeId"]!);
    }
}
