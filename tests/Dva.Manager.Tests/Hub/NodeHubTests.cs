using System.Net;
using System.Text.Json.Nodes;
using Dva.Manager.Hubs;
using Dva.Shared.Contracts;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;

namespace Dva.Manager.Tests.Hub;

/// <summary>The node hub's door: enrollment, registration, identity and message checks.</summary>
public sealed class NodeHubTests : HubTestBase
{
    protected override IReadOnlyDictionary<string, string>? Settings => new Dictionary<string, string>
    {
        ["Dva:Hub:RegistrationsPerSecond"] = "3",
        ["Dva:Hub:MaximumReceiveMessageSize"] = "65536",
    };

    [Fact]
    public async Task Connect_WrongEnrollmentToken_IsRefusedWith401()
    {
        await using var intruder = new SimNode(Factory, "intruder", 7600, token: "not-the-token");

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => intruder.Client.ConnectAsync(CancellationToken.None));

        Assert.Equal(HttpStatusCode.Unauthorized, error.StatusCode);
        using var client = Factory.AdminClient();
        var nodes = JsonNode.Parse(await client.GetStringAsync("/api/v1/nodes"))!.AsArray();
        Assert.DoesNotContain(nodes, n => (string)n!["name"]! == "intruder");
    }

    [Fact]
    public async Task Negotiate_WithoutToken_AnswersProblemNamingTheHeader()
    {
        using var client = new HttpClient { BaseAddress = Factory.Address };

        var response = await client.PostAsync($"{NodeHubPaths.Hub}/negotiate?negotiateVersion=1", null);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains(NodeHubPaths.EnrollmentHeader, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Register_NewUnit_GetsAKeyAndIsListedUnallocated()
    {
        var unit = await StartNodeAsync("fresh-unit", 7601);

        Assert.True(unit.Client.NodeKey > 0);
        using var client = Factory.AdminClient();
        var record = JsonNode.Parse(await client.GetStringAsync($"/api/v1/nodes/{unit.Client.NodeKey}"))!;
        Assert.Equal("fresh-unit", (string)record["name"]!);
        Assert.Equal("unallocated", (string)record["role"]!);
        Assert.Equal("127.0.0.1:7601", (string)record["tunnelEndpoint"]!);
    }

    [Fact]
    public async Task Register_ClaimingAnotherUnitsKey_IsRefused()
    {
        var owner = await StartNodeAsync("owner", 7602);
        await using var thief = new SimNode(Factory, "thief", 7603, nodeKey: owner.Client.NodeKey);

        var error = await Assert.ThrowsAsync<HubException>(() => thief.Client.ConnectAsync(CancellationToken.None));

        Assert.Contains("belongs to another node", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Register_SameUnitReconnectsWithItsKey_KeepsItsIdentity()
    {
        var first = await StartNodeAsync("returning", 7604);
        var key = first.Client.NodeKey;
        await StopNodeAsync(first);
        await using var again = new SimNode(Factory, "returning", 7604, nodeKey: key);

        await again.Client.ConnectAsync(CancellationToken.None);

        Assert.Equal(key, again.Client.NodeKey);
    }

    [Fact]
    public async Task Register_BurstFromOneAddress_ExcessIsRefusedWithAClearMessage()
    {
        await using var connection = await ConnectRawAsync();
        var refusals = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            try
            {
                await connection.InvokeAsync<NodeWelcome>(nameof(INodeHubServer.Register), Hello($"burst-{i}"));
            }
            catch (HubException e)
            {
                refusals.Add(e.Message);
            }
        }

        // 3 a second: ten calls span at most two one-second windows, so at least four are refused.
        Assert.True(refusals.Count >= 4, $"{refusals.Count} refusals");
        Assert.All(refusals, m => Assert.Contains("Too many registrations", m, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Register_InvalidHello_IsRefusedNamingTheField()
    {
        await using var connection = await ConnectRawAsync();

        var error = await Assert.ThrowsAsync<HubException>(() =>
            connection.InvokeAsync<NodeWelcome>(nameof(INodeHubServer.Register), Hello("bad") with { TunnelEndpoint = "nowhere" }));

        Assert.Contains("tunnelEndpoint", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Heartbeat_BeforeRegistering_IsRefused()
    {
        await using var connection = await ConnectRawAsync();

        var error = await Assert.ThrowsAsync<HubException>(() =>
            connection.InvokeAsync(nameof(INodeHubServer.Heartbeat), Beat(1, cpuBusy: 0.2)));

        Assert.Contains("Register first", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Heartbeat_OutOfRangeOrForAnotherKey_IsRefused()
    {
        await using var connection = await ConnectRawAsync();
        var welcome = await connection.InvokeAsync<NodeWelcome>(nameof(INodeHubServer.Register), Hello("checked"));

        var busy = await Assert.ThrowsAsync<HubException>(() =>
            connection.InvokeAsync(nameof(INodeHubServer.Heartbeat), Beat(welcome.NodeKey, cpuBusy: 7)));
        var other = await Assert.ThrowsAsync<HubException>(() =>
            connection.InvokeAsync(nameof(INodeHubServer.Heartbeat), Beat(welcome.NodeKey + 100, cpuBusy: 0.2)));

        Assert.Contains("cpuBusy", busy.Message, StringComparison.Ordinal);
        Assert.Contains($"registered node key {welcome.NodeKey}", other.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Heartbeat_Valid_IsPublishedToFeedSubscribers()
    {
        var feed = Factory.Services.GetRequiredService<HeartbeatFeed>();
        var received = new TaskCompletionSource<HeartbeatReceived>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var subscription = feed.Subscribe(h =>
        {
            if (h.NodeName == "beating")
            {
                received.TrySetResult(h);
            }
        });

        var unit = await StartNodeAsync("beating", 7605);
        unit.CpuBusy = 0.42;
        var heartbeat = await received.Task.WaitAsync(HubFactory.Patience);

        Assert.Equal(unit.Client.NodeKey, heartbeat.NodeKey);
        Assert.Equal(unit.Client.NodeKey, heartbeat.Heartbeat.NodeKey);
        Assert.InRange(heartbeat.Heartbeat.Stats.CpuBusy, 0, 1);
    }

    [Fact]
    public async Task Heartbeat_LargerThanTheHubLimit_ClosesTheConnection()
    {
        await using var connection = await ConnectRawAsync();
        var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        connection.Closed += _ =>
        {
            closed.TrySetResult();
            return Task.CompletedTask;
        };
        var welcome = await connection.InvokeAsync<NodeWelcome>(nameof(INodeHubServer.Register), Hello("chatty"));
        var huge = Beat(welcome.NodeKey, 0.2) with
        {
            BucketFlows = [.. Enumerable.Range(0, 16384).Select(b => new BucketFlowCount(b, 1))],
        };

        await connection.SendAsync(nameof(INodeHubServer.Heartbeat), huge);

        await closed.Task.WaitAsync(HubFactory.Patience);
        Assert.Equal(HubConnectionState.Disconnected, connection.State);
    }

    private async Task<HubConnection> ConnectRawAsync()
    {
        var connection = new HubConnectionBuilder()
            .WithUrl(new Uri(Factory.Address, NodeHubPaths.Hub), o => o.Headers[NodeHubPaths.EnrollmentHeader] = HubFactory.Token)
            .Build();
        await connection.StartAsync();
        return connection;
    }

    private static NodeHello Hello(string name) => new(name, "127.0.0.1:7690", ["udp:test"], 2, "test", null, 0);

    private static NodeHeartbeat Beat(long key, double cpuBusy) => new(
        key, Guid.Empty, 0, 0,
        new NodeStats(0, 0, 0, 0, 0, cpuBusy, 1e6, 0, 0, 0, new Dictionary<string, long>(), new Dictionary<string, long>()),
        [], []);

}

/// <summary>A manager started without <c>Dva:EnrollmentToken</c> makes one up and keeps it.</summary>
public sealed class GeneratedEnrollmentTokenTests : HubTestBase
{
    protected override IReadOnlyDictionary<string, string>? Settings => new Dictionary<string, string> { ["Dva:EnrollmentToken"] = "" };

    [Fact]
    public async Task Start_WithoutConfiguredToken_GeneratesOneBesideTheDatabaseThatAdmitsUnits()
    {
        var path = Path.Combine(Path.GetDirectoryName(Factory.DatabasePath)!, "enrollment.token");
        var token = (await File.ReadAllTextAsync(path)).Trim();
        await using var unit = new SimNode(Factory, "enrolled", 7650, token: token);
        await using var stranger = new SimNode(Factory, "stranger", 7651);

        await unit.Client.ConnectAsync(CancellationToken.None);
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => stranger.Client.ConnectAsync(CancellationToken.None));

        Assert.True(token.Length >= 32);
        Assert.NotEqual(HubFactory.Token, token);
        Assert.True(unit.Client.NodeKey > 0);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }
    }
}
