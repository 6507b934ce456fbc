extern alias manager;

using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Reflection;
using System.Text.Json.Nodes;
using Dva.Shared.Tables;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using ManagerProgram = manager::Program;

namespace Dva.Benchmarks.Rollout;

/// <summary>
/// The real manager in this process on Kestrel (127.0.0.1, a free port) with its own SQLite database, and a handle on
/// its rollout coordinator. The coordinator is internal to Dva.Manager and this harness may not change it, so it is
/// reached through reflection — only to start a rollout and read the current version; everything it does is its own.
/// </summary>
internal sealed class BenchManager : WebApplicationFactory<ManagerProgram>
{
    public const string Token = "bench-enrollment-token-0123456789abcdef";
    private const string AdminKey = "bench-admin-key-0123456789abcdef0123456789";

    private readonly string _directory;
    private readonly object _coordinator;
    private readonly MethodInfo _rollout;
    private readonly MethodInfo _current;
    private readonly MethodInfo _inFlight;
    private readonly MethodInfo _log;
    private readonly Type _memberType;

    /// <param name="databaseDirectory">Where the manager's own directory (its SQLite database) is made.</param>
    public BenchManager(string databaseDirectory)
    {
        _directory = Path.Combine(databaseDirectory, $"dva-rollout-bench-{Guid.NewGuid():N}");
        UseKestrel(options => options.Listen(IPAddress.Loopback, 0));
        StartServer();
        Address = new Uri(Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First());
        var assembly = typeof(ManagerProgram).Assembly;
        var coordinatorType = assembly.GetType("Dva.Manager.Rollout.RolloutCoordinator", throwOnError: true)!;
        _memberType = assembly.GetType("Dva.Manager.Rollout.RolloutMember", throwOnError: true)!;
        _coordinator = Services.GetRequiredService(coordinatorType);
        _rollout = coordinatorType.GetMethod("RolloutAsync")!;
        _current = coordinatorType.GetMethod("Current")!;
        _inFlight = coordinatorType.GetMethod("InFlight")!;
        _log = coordinatorType.GetMethod("GetLog")!;
    }

    public Uri Address { get; }

    public TableVersion? Current(long dva) => (TableVersion?)_current.Invoke(_coordinator, [dva]);

    public bool RolloutInFlight(long dva) => _inFlight.Invoke(_coordinator, [dva]) is not null;

    /// <summary>The coordinator's log of a rollout: when it started (after recording the version), the last data plane ack, the last ack (the dispatcher's), and the commit.</summary>
    public RolloutTimes Log(long dva, ulong version)
    {
        var log = _log.Invoke(_coordinator, [dva, version]) ?? throw new InvalidOperationException($"no log of version {version}");
        T Get<T>(object o, string name) => (T)o.GetType().GetProperty(name)!.GetValue(o)!;
        var acks = Get<System.Collections.IEnumerable>(log, "Acks").Cast<object>()
            .Select(a => (At: Get<DateTimeOffset>(a, "At"), Role: Get<PeerRole>(a, "Role"))).ToList();
        var started = Get<DateTimeOffset>(log, "Started");
        return new RolloutTimes(
            started,
            acks.Where(a => a.Role == PeerRole.DataPlane).Select(a => a.At).DefaultIfEmpty(started).Max(),
            acks.Select(a => a.At).DefaultIfEmpty(started).Max(),
            (DateTimeOffset?)log.GetType().GetProperty("Committed")!.GetValue(log) ?? started);
    }

    /// <summary>RolloutCoordinator.RolloutAsync; returns its outcome (Committed, Busy, Rejected) and the failed units.</summary>
    public async Task<(string Outcome, int Failed)> RolloutAsync(long dva, TableVersion next, IReadOnlyList<(long NodeKey, ushort NodeId, PeerRole Role)> members)
    {
        var typed = Array.CreateInstance(_memberType, members.Count);
        for (var i = 0; i < members.Count; i++)
        {
            typed.SetValue(Activator.CreateInstance(_memberType, members[i].NodeKey, members[i].NodeId, members[i].Role), i);
        }

        var task = (Task)_rollout.Invoke(_coordinator, [dva, next, typed, CancellationToken.None])!;
        await task;
        var result = task.GetType().GetProperty("Result")!.GetValue(task)!;
        var outcome = result.GetType().GetProperty("Outcome")!.GetValue(result)!.ToString()!;
        var failed = ((System.Collections.ICollection)result.GetType().GetProperty("Failed")!.GetValue(result)!).Count;
        return (outcome, failed);
    }

    /// <summary>A DVA of one dispatcher (<paramref name="dispatcher"/>) and <paramref name="dataPlanes"/> data planes.</summary>
    public async Task<long> CreateDvaAsync(string dispatcher, int dataPlanes)
    {
        using var client = AdminClient();
        var created = await client.PostAsJsonAsync("/api/v1/dvas", new
        {
            name = "rollout-bench",
            tunnelSecurity = "plain",
            scaling = new { minDataPlanes = 1, maxDataPlanes = dataPlanes, targetUtilizationPercent = 30 },
        });
        created.EnsureSuccessStatusCode();
        var id = (long)JsonNode.Parse(await created.Content.ReadAsStringAsync())!["id"]!;
        (await client.PostAsJsonAsync($"/api/v1/dvas/{id}/interfaces", new
        {
            ifid = 1,
            name = "outside",
            mac = "02:00:5e:00:00:01",
            addresses = new[] { "192.0.2.1/24" },
            attachment = new { nodeName = dispatcher, frameSource = "udp:LOCAL=127.0.0.1:7001,PEER=127.0.0.1:7002" },
        })).EnsureSuccessStatusCode();
        (await client.PostAsJsonAsync($"/api/v1/dvas/{id}:scale", new { dataPlanes })).EnsureSuccessStatusCode();
        return id;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        builder.UseSetting("Dva:Database", Path.Combine(_directory, "dva.db"));
        builder.UseSetting("Dva:AdminKey", AdminKey);
        builder.UseSetting("Dva:EnrollmentToken", Token);
        builder.UseSetting("Dva:Hub:ReconcileInterval", "00:00:00.2");
        // Units heartbeat every 5 s (BenchUnit); on a loaded machine a short failure timeout would fail them mid-run.
        builder.UseSetting("Dva:Hub:FailureTimeout", "00:01:00");
        builder.UseSetting("Dva:Hub:RegistrationsPerSecond", "1000");
        builder.UseSetting("Dva:Elasticity:Enabled", "false");
        builder.UseSetting("Logging:LogLevel:Default", "Warning");
        builder.UseSetting("Logging:LogLevel:Microsoft.AspNetCore.SignalR", "None");
        builder.UseSetting("Logging:LogLevel:Microsoft.EntityFrameworkCore", "Warning");
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    private HttpClient AdminClient()
    {
        var client = new HttpClient { BaseAddress = Address };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
        return client;
    }
}

/// <summary>Manager-side moments of one rollout (RolloutLog), on the manager's clock (the system clock here).</summary>
internal readonly record struct RolloutTimes(
    DateTimeOffset Started, DateTimeOffset LastDataPlaneAck, DateTimeOffset LastAck, DateTimeOffset Committed);
