using System.Diagnostics;
using Dva.Node.Agent;
using Dva.Shared.Contracts;

namespace Dva.Benchmarks.Rollout;

/// <summary>
/// A node agent in the harness process: the real <see cref="ManagerClient"/> (SignalR over a real socket) with its real
/// <see cref="TableStore"/>, without a packet engine (nothing forwards here; a rollout only installs tables). It records
/// when each version was installed; commit (CommitGrace 0) drops the previous version at once.
/// </summary>
internal sealed class BenchUnit : IAsyncDisposable
{
    private readonly Dictionary<ulong, long> _installedAt = [];
    private TableStore? _watched;

    public BenchUnit(Uri manager, string name, int port)
    {
        Client = new ManagerClient(
            new ManagerClientOptions
            {
                Manager = manager,
                EnrollmentToken = BenchManager.Token,
                Hello = new NodeHello(name, $"127.0.0.1:{port}", ["udp:bench"], 2, "bench", null, 0),
                CommitGrace = TimeSpan.Zero,
                // Heartbeats of 32 units a second would be load of their own on 2 cores; the rollout does not need them.
                HeartbeatInterval = TimeSpan.FromSeconds(5),
                MaxReconnectDelay = TimeSpan.FromSeconds(1),
            },
            _ => Task.CompletedTask,
            () => new NodeHeartbeat(0, Guid.Empty, 0, 0,
                new NodeStats(0, 0, 0, 0, 0, 0.3, 1e6, 0, 0, 0, new Dictionary<string, long>(), new Dictionary<string, long>()),
                [], []));
    }

    public ManagerClient Client { get; }

    /// <summary>Switched to <paramref name="version"/>: it is current and the previous version is dropped (committed).</summary>
    public bool Committed(ulong version) => Client.Tables.State is { Current: { } current, Previous: null } && current.Version == version;

    /// <summary>
    /// Records install times on the unit's current table store. Called before each round: the client replaces its
    /// store when the manager assigns the unit to the DVA, after this object was made.
    /// </summary>
    public void WatchInstalls()
    {
        var tables = Client.Tables;
        if (ReferenceEquals(tables, _watched))
        {
            return;
        }

        _watched = tables;
        tables.Installed += state =>
        {
            if (state.Current is { } table)
            {
                lock (_installedAt)
                {
                    _installedAt[table.Version] = Stopwatch.GetTimestamp();
                }
            }
        };
    }

    public long? InstalledAt(ulong version)
    {
        lock (_installedAt)
        {
            return _installedAt.TryGetValue(version, out var at) ? at : null;
        }
    }

    public ValueTask DisposeAsync() => Client.DisposeAsync();
}
