using System.Net;
using System.Security.Claims;
using Dva.Manager.Dashboard;
using Dva.Manager.Model;
using Dva.Manager.Services;
using Dva.Shared.Tables;
using Dva.Web.Backend;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Dva.Web.Tests;

/// <summary>The real manager (REST, dashboard, live state) on a temporary SQLite file of its own.</summary>
public sealed class DashboardFactory : WebApplicationFactory<Program>
{
    public const string AdminKey = "web-test-admin-key-0123456789abcdef0123456789";

    private readonly string _databasePath = Path.Combine(Path.GetTempPath(), $"dva-web-test-{Guid.NewGuid():N}.db");
    private readonly Dictionary<string, string> _settings = new(StringComparer.Ordinal);

    /// <summary>A configuration value for the manager, as <c>--key=value</c> would give it; call before it starts.</summary>
    public DashboardFactory WithSetting(string key, string value)
    {
        _settings[key] = value;
        return this;
    }

    /// <summary>Kestrel on 127.0.0.1 with a port the OS picks, for a real browser.</summary>
    public DashboardFactory WithKestrel()
    {
        UseKestrel(options => options.Listen(IPAddress.Loopback, 0));
        return this;
    }

    /// <summary>Where Kestrel listens, once started.</summary>
    public Uri BaseAddress
    {
        get
        {
            var addresses = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
            return new Uri(addresses.First());
        }
    }

    internal LiveState Live => Services.GetRequiredService<LiveState>();

    /// <summary>Runs <paramref name="action"/> with a service from a fresh scope, as the node hub would.</summary>
    internal async Task<T> WithServiceAsync<TService, T>(Func<TService, Task<T>> action)
        where TService : notnull
    {
        await using var scope = Services.CreateAsyncScope();
        return await action(scope.ServiceProvider.GetRequiredService<TService>());
    }

    /// <summary>A new API key with <paramref name="role"/>; returns the secret.</summary>
    internal async Task<string> CreateKeyAsync(ApiRole role) =>
        (await WithServiceAsync<ApiKeyService, ServiceResult<CreatedApiKey>>(keys =>
            keys.CreateAsync(new ApiKeySpec { Name = $"{role}-{Guid.NewGuid():N}", Role = role }, CancellationToken.None))).Value!.Secret;

    internal async Task<DvaView> CreateDvaAsync(string name, int bucketCount = 4096) =>
        (await WithServiceAsync<DvaService, ServiceResult<DvaView>>(dvas =>
            dvas.CreateAsync(new DvaSpec { Name = name, BucketCount = bucketCount }, CancellationToken.None))).Value!;

    /// <summary>Registers a node agent and assigns it to <paramref name="dvaId"/>, as the hub and an operator would.</summary>
    internal async Task<NodeView> AddNodeAsync(long dvaId, string name, NodeRole role, string endpoint)
    {
        var registered = await WithServiceAsync<NodeRegistry, ServiceResult<NodeView>>(nodes =>
            nodes.RegisterAsync(name, endpoint, 250_000, CancellationToken.None));
        return (await WithServiceAsync<NodeRegistry, ServiceResult<NodeView>>(nodes =>
            nodes.AssignAsync(registered.Value!.Id, new Manager.Model.NodeAssignment { DvaId = dvaId, Role = role }, null, CancellationToken.None))).Value!;
    }

    /// <summary>The first table of a DVA over its data-plane nodes, built by the real table code.</summary>
    internal static TableVersion FirstTable(Guid dvaGuid, int bucketCount, IEnumerable<NodeView> nodes, string cause) =>
        TableVersion.CreateFirst(dvaGuid, 0x5eed, bucketCount, nodes.Select(Peer), cause);

    internal static PeerInfo Peer(NodeView node) => new(
        (ushort)node.NodeId,
        node.Role == NodeRole.Dispatcher ? PeerRole.Dispatcher : PeerRole.DataPlane,
        IPEndPoint.Parse(node.TunnelEndpoint),
        node.Role == NodeRole.DataPlane ? 1 : 0);

    /// <summary>The dashboard backend as a signed-in <paramref name="role"/> would use it.</summary>
    internal DashboardBackend BackendAs(string role, string name = "key:test")
    {
        var principal = DashboardRoles.ToPrincipal(new DashboardUser(name, "test", role));
        return new DashboardBackend(Services.GetRequiredService<IServiceScopeFactory>(), new FixedAuthentication(principal), Live);
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        builder.UseSetting("Dva:Database", _databasePath);
        builder.UseSetting("Dva:AdminKey", AdminKey);
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var suffix in new[] { "", "-wal", "-shm" })
        {
            File.Delete(_databasePath + suffix);
        }
    }

    private sealed class FixedAuthentication(ClaimsPrincipal user) : Microsoft.AspNetCore.Components.Authorization.AuthenticationStateProvider
    {
        public override Task<Microsoft.AspNetCore.Components.Authorization.AuthenticationState> GetAuthenticationStateAsync() =>
            Task.FromResult(new Microsoft.AspNetCore.Components.Authorization.AuthenticationState(user));
    }
}

/// <summary>One manager (in-memory test server) shared by the tests of a class.</summary>
public sealed class ManagerHost : IAsyncLifetime
{
    public DashboardFactory Factory { get; } = new();

    public Task InitializeAsync()
    {
        Factory.CreateClient().Dispose();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await Factory.DisposeAsync();
}
