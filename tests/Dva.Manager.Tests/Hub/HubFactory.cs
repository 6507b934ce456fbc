extern alias node;

using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Dva.Manager.Rollout;
using Dva.Shared.Contracts;
using Dva.Shared.Tables;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using node::Dva.Node.Agent;

namespace Dva.Manager.Tests.Hub;

/// <summary>
/// The real manager on Kestrel (127.0.0.1, a free port) with short hub timings, so node agents connect over a
/// real socket with the real <see cref="ManagerClient"/>.
/// </summary>
public sealed class HubFactory : WebApplicationFactory<Program>
{
    public const string Token = "test-enrollment-token-0123456789abcdef";

    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    // A directory of its own: the manager keeps a generated enrollment token beside its database.
    private readonly string _directory;
    private readonly bool _ownsDirectory;
    private readonly Dictionary<string, string> _settings = new()
    {
        ["Dva:EnrollmentToken"] = Token,
        // 3 s: with 1 s a unit that answered late in a loaded full run was failed, and its late ack logged after the
        // dispatchers had started (TwoPhaseRolloutTests saw it once).
        ["Dva:Hub:AckTimeout"] = "00:00:03",
        // 5 s, 4 s over the heartbeat interval: a loaded run stalls this process, agents and manager alike (heartbeat
        // gaps up to 1.87 s measured). With 2 s a live unit was now and then declared failed, and the table change that
        // removed it also failed the unit ChildProvisioningTests holds (the rule went ACTIVE on the 2 units left).
        ["Dva:Hub:FailureTimeout"] = "00:00:05",
        ["Dva:Hub:ReconcileInterval"] = "00:00:00.1",
        ["Dva:Hub:HistoryPruneInterval"] = "00:00:00.2",
        ["Dva:Hub:RegistrationsPerSecond"] = "100",
        ["Dva:Elasticity:Enabled"] = "false",
        ["Logging:LogLevel:Default"] = "Warning",
        ["Logging:LogLevel:Microsoft.AspNetCore.SignalR"] = "None",
    };

    /// <param name="directory">An existing database directory (a restarted manager); the caller deletes it. Null: a new one, deleted on dispose.</param>
    /// <param name="port">The port to listen on (a restarted manager takes its predecessor's, so agents reconnect); 0: a free one.</param>
    public HubFactory(IReadOnlyDictionary<string, string>? settings = null, string? directory = null, int port = 0)
    {
        _ownsDirectory = directory is null;
        _directory = directory ?? Path.Combine(Path.GetTempPath(), $"dva-hub-test-{Guid.NewGuid():N}");
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            _settings[key] = value;
        }

        UseKestrel(options => options.Listen(IPAddress.Loopback, port));
        StartServer();
        Address = new Uri(Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First());
    }

    public Uri Address { get; }

    public string Directory => _directory;

    public string DatabasePath => Path.Combine(_directory, "dva.db");

    internal RolloutCoordinator Rollout => Services.GetRequiredService<RolloutCoordinator>();

    public HttpClient AdminClient()
    {
        var client = new HttpClient { BaseAddress = Address };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ManagerFactory.AdminKey);
        return client;
    }

    /// <summary>A DVA wanting <paramref name="dataPlanes"/> data planes, with one interface attached to <paramref name="dispatcher"/>.</summary>
    public async Task<long> CreateDvaAsync(
        string name, string dispatcher, int dataPlanes, int maxDataPlanes = 8, string tunnelSecurity = "plain", string serviceKind = "firewall",
        int dataPlaneEngines = 1, int dispatcherEngines = 1, bool superFrames = false, bool shortcuts = false, string frameSource = "udp:LOCAL=127.0.0.1:7001,PEER=127.0.0.1:7002")
    {
        using var client = AdminClient();
        var created = await client.PostAsJsonAsync("/api/v1/dvas", new
        {
            name,
            serviceKind,
            tunnelSecurity,
            dataPlaneEngines,
            dispatcherEngines,
            superFrames,
            shortcuts,
            scaling = new { minDataPlanes = 1, maxDataPlanes, targetUtilizationPercent = 30 },
        });
        created.EnsureSuccessStatusCode();
        var id = (long)JsonNode.Parse(await created.Content.ReadAsStringAsync())!["id"]!;
        var iface = await client.PostAsJsonAsync($"/api/v1/dvas/{id}/interfaces", new
        {
            ifid = 1,
            name = "outside",
            mac = "02:00:5e:00:00:01",
            addresses = new[] { "192.0.2.1/24" },
            attachment = new { nodeName = dispatcher, frameSource },
        });
        iface.EnsureSuccessStatusCode();
        await ScaleAsync(id, dataPlanes);
        return id;
    }

    public async Task ScaleAsync(long dvaId, int dataPlanes)
    {
        using var client = AdminClient();
        (await client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}:scale", new { dataPlanes })).EnsureSuccessStatusCode();
    }

    /// <summary>A second interface of the DVA (ifid 2, "inside"), attached to <paramref name="dispatcher"/> through <paramref name="frameSource"/>.</summary>
    public async Task AddInsideInterfaceAsync(long dvaId, string dispatcher, string frameSource)
    {
        using var client = AdminClient();
        using var added = await client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/interfaces", new
        {
            ifid = 2,
            name = "inside",
            mac = "02:00:5e:00:00:02",
            addresses = new[] { "198.51.100.1/24" },
            attachment = new { nodeName = dispatcher, frameSource },
        });
        Assert.Equal(HttpStatusCode.Created, added.StatusCode);
    }

    /// <summary>Reads the DVA's spec, sets <paramref name="field"/> to <paramref name="value"/> and PUTs it back.</summary>
    public async Task ChangeDvaSpecAsync(long dvaId, string field, JsonNode value)
    {
        using var client = AdminClient();
        var spec = JsonNode.Parse(await client.GetStringAsync(new Uri($"/api/v1/dvas/{dvaId}", UriKind.Relative)))!["spec"]!.AsObject();
        spec[field] = value;
        using var request = new HttpRequestMessage(HttpMethod.Put, new Uri($"/api/v1/dvas/{dvaId}", UriKind.Relative)) { Content = JsonContent.Create(spec) };
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    /// <summary>Waits for a committed version of the DVA that satisfies <paramref name="predicate"/> (the current one counts).</summary>
    internal async Task<(TableVersion Table, RolloutLogView Log)> WaitForCommitAsync(
        long dvaId, Func<TableVersion, RolloutLogView, bool> predicate)
    {
        var coordinator = Rollout;
        var found = new TaskCompletionSource<(TableVersion, RolloutLogView)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var seen = new System.Collections.Concurrent.ConcurrentQueue<string>();
        void OnCommitted(TableVersion table, RolloutLogView log)
        {
            if (log.DvaId != dvaId)
            {
                return;
            }

            seen.Enqueue($"v{table.Version} ({log.Cause}; peers {string.Join(",", table.Peers.Keys)}; history {table.History.EntryCount}; failed {string.Join(",", log.Failed)})");
            if (predicate(table, log))
            {
                found.TrySetResult((table, log));
            }
        }

        coordinator.Committed += OnCommitted;
        try
        {
            if (coordinator.Current(dvaId) is { } now && coordinator.GetLog(dvaId, now.Version) is { } log && predicate(now, log))
            {
                return (now, log);
            }

            try
            {
                return await found.Task.WaitAsync(Patience);
            }
            catch (TimeoutException)
            {
                // Say what did commit meanwhile, so a timeout under load shows whether the rollouts stalled or went elsewhere.
                var current = coordinator.Current(dvaId);
                throw new TimeoutException(
                    $"no committed version matched within {Patience.TotalSeconds:F0} s; current v{current?.Version} (history {current?.History.EntryCount}); committed meanwhile: {(seen.IsEmpty ? "none" : string.Join("; ", seen))}");
            }
        }
        finally
        {
            coordinator.Committed -= OnCommitted;
        }
    }

    /// <summary>The DVA's audit entries, newest first.</summary>
    public async Task<JsonArray> AuditAsync(long dvaId)
    {
        using var client = AdminClient();
        return JsonNode.Parse(await client.GetStringAsync(new Uri($"/api/v1/audit?dvaId={dvaId}&pageSize=500", UriKind.Relative)))!["items"]!.AsArray();
    }

    /// <summary>Waits for an audit entry of <paramref name="operation"/> and returns its "after" text.</summary>
    public async Task<string> WaitForAuditAsync(long dvaId, string operation)
    {
        var deadline = DateTimeOffset.UtcNow + Patience;
        while (true)
        {
            var items = await AuditAsync(dvaId);
            if (items.FirstOrDefault(e => (string)e!["operation"]! == operation) is { } entry)
            {
                return (string?)entry["after"] ?? "";
            }

            Assert.True(DateTimeOffset.UtcNow < deadline,
                $"no '{operation}' in the audit log: {string.Join(" | ", items.Reverse().Select(e => $"{e!["operation"]} {e["after"]}"))}");
            await Task.Delay(100);
        }
    }

    public static int ServingDataPlanes(TableVersion table) =>
        table.Peers.Values.Count(p => p.Role == PeerRole.DataPlane && p.Weight > 0);

    public static int Dispatchers(TableVersion table) => table.Peers.Values.Count(p => p.Role == PeerRole.Dispatcher);

    public static int BucketsOf(TableVersion table, ushort node)
    {
        var count = 0;
        foreach (var owner in table.Owners)
        {
            count += owner == node ? 1 : 0;
        }

        return count;
    }

    public static int MovedBuckets(TableVersion from, TableVersion to)
    {
        var moved = 0;
        for (var b = 0; b < from.BucketCount; b++)
        {
            moved += from.OwnerOf(b) == to.OwnerOf(b) ? 0 : 1;
        }

        return moved;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        builder.UseSetting("Dva:Database", DatabasePath);
        builder.UseSetting("Dva:AdminKey", ManagerFactory.AdminKey);
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (_ownsDirectory)
        {
            System.IO.Directory.Delete(_directory, recursive: true);
        }
    }
}

/// <summary>
/// A node agent in the test process: the real <see cref="ManagerClient"/> with its real <see cref="TableStore"/>,
/// heartbeats made from figures the test sets. <see cref="HoldAssignments"/> makes the agent hang in its
/// assignment handler, so it never gets to ack a table.
/// </summary>
internal sealed class SimNode : IAsyncDisposable
{
    private readonly List<NodeAssignment> _assignments = [];
    private volatile TaskCompletionSource? _hold;

    public SimNode(HubFactory factory, string name, int port, string token = HubFactory.Token, bool holdAssignments = false, long? nodeKey = null)
    {
        Name = name;
        _hold = holdAssignments ? new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) : null;
        Client = new ManagerClient(
            new ManagerClientOptions
            {
                Manager = factory.Address,
                EnrollmentToken = token,
                Hello = new NodeHello(name, $"127.0.0.1:{port}", ["udp:test"], 2, "test", nodeKey, 0),
                CommitGrace = TimeSpan.Zero,
                MaxReconnectDelay = TimeSpan.FromSeconds(1),
            },
            OnAssignAsync,
            Heartbeat);
    }

    public string Name { get; }

    public ManagerClient Client { get; }

    public TableStore Tables => Client.Tables;

    /// <summary>From now on the agent hangs in its next assignment handler (and so acks no table) until <see cref="Release"/>.</summary>
    public void HoldAssignments() => _hold ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Lets a held assignment handler finish; later assignments are handled at once.</summary>
    public void Release() => Interlocked.Exchange(ref _hold, null)?.TrySetResult();

    public volatile IReadOnlyList<BucketFlowCount> BucketFlows = [];

    public double CpuBusy { get; set; } = 0.3;

    public double PacketsPerBusySecond { get; set; } = 1e6;

    /// <summary>Firewall rule counters the unit reports, as a data plane would (null: none, as a dispatcher).</summary>
    public volatile IReadOnlyList<RuleHitCount>? Rules;

    /// <summary>Load balancer counters the unit reports (null: none).</summary>
    public volatile IReadOnlyList<VipCounters>? Vips;

    /// <summary>What the unit reports when its role did not start (null: the role runs).</summary>
    public volatile string? RoleError;

    public IReadOnlyList<NodeAssignment> Assignments
    {
        get
        {
            lock (_assignments)
            {
                return [.. _assignments];
            }
        }
    }

    public static async Task<SimNode> StartAsync(HubFactory factory, string name, int port, bool holdAssignments = false)
    {
        var node = new SimNode(factory, name, port, holdAssignments: holdAssignments);
        await node.Client.ConnectAsync(CancellationToken.None).WaitAsync(HubFactory.Patience);
        return node;
    }

    public async ValueTask DisposeAsync()
    {
        _hold?.TrySetResult();
        await Client.DisposeAsync();
    }

    private async Task OnAssignAsync(NodeAssignment assignment)
    {
        lock (_assignments)
        {
            _assignments.Add(assignment);
        }

        if (_hold is { } hold && assignment.Role != "unallocated")
        {
            await hold.Task;
        }
    }

    private NodeHeartbeat Heartbeat() => new(
        0, Guid.Empty, 0, 0,
        new NodeStats(0, 0, 0, 0, 0, CpuBusy, PacketsPerBusySecond, BucketFlows.Sum(b => b.Flows), 0, 0,
            new Dictionary<string, long>(), new Dictionary<string, long>()),
        BucketFlows,
        [],
        Rules,
        Vips,
        RoleError);
}
