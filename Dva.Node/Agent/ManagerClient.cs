using Dva.Shared.Contracts;
using Dva.Shared.Security;
using Dva.Shared.Tables;
using Microsoft.AspNetCore.Http.Connections.Client;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Dva.Node.Agent;

/// <summary>How a node agent reaches its manager.</summary>
internal sealed record ManagerClientOptions
{
    /// <summary>The manager's base address (<c>http://manager:5000</c>); the hub path is appended.</summary>
    public required Uri Manager { get; init; }

    public required string EnrollmentToken { get; init; }

    /// <summary>The agent's introduction; <see cref="NodeHello.NodeKey"/> is replaced by the key the manager gave last.</summary>
    public required NodeHello Hello { get; init; }

    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest wait between reconnection attempts (the waits double from 0.5 s up to this).</summary>
    public TimeSpan MaxReconnectDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>After a commit, how long a data plane keeps the previous table for packets still in flight.</summary>
    public TimeSpan CommitGrace { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Transport settings (tests give an in-memory handler; a TLS deployment a certificate check).</summary>
    public Action<HttpConnectionOptions>? ConfigureConnection { get; init; }
}

/// <summary>
/// The node agent's side of the node hub: registers (keeping its node key across reconnections), takes
/// assignments and tables, acks each table, and sends a heartbeat every second. Tables stay installed while the
/// manager is away: losing the connection never touches <see cref="Tables"/>.
/// </summary>
/// <remarks>
/// The node host calls <see cref="RunAsync"/> (or <see cref="ConnectAsync"/> once), reacts to assignments through
/// the callback (restarting its roles with <see cref="Tables"/>), and supplies heartbeats; identity fields of a
/// heartbeat (node key, DVA, node id, table version) are filled in here.
/// </remarks>
internal sealed partial class ManagerClient : IAsyncDisposable
{
    private static readonly NodeAssignment Unallocated = new(0, Guid.Empty, 0, "unallocated", "{}");

    private readonly ManagerClientOptions _options;
    private readonly Func<NodeAssignment, Task> _onAssign;
    private readonly Func<NodeHeartbeat> _heartbeat;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly HubConnection _connection;
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource _firstRegistration = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile TableStore _tables = new();
    private volatile TunnelKeyRing _keys = new();
    private volatile NodeAssignment _assignment = Unallocated;
    private Task? _heartbeats;
    private long _nodeKey;
    private volatile bool _registered;

    public ManagerClient(
        ManagerClientOptions options,
        Func<NodeAssignment, Task> onAssign,
        Func<NodeHeartbeat> heartbeat,
        TimeProvider? time = null,
        ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _onAssign = onAssign ?? throw new ArgumentNullException(nameof(onAssign));
        _heartbeat = heartbeat ?? throw new ArgumentNullException(nameof(heartbeat));
        _time = time ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
        _nodeKey = options.Hello.NodeKey ?? 0;
        _connection = new HubConnectionBuilder()
            .WithUrl(new Uri(options.Manager, NodeHubPaths.Hub), http =>
            {
                http.Headers[NodeHubPaths.EnrollmentHeader] = options.EnrollmentToken;
                options.ConfigureConnection?.Invoke(http);
            })
            .WithAutomaticReconnect(new Backoff(options.MaxReconnectDelay))
            .Build();
        _connection.On<NodeAssignment>(nameof(INodeClient.Assign), OnAssignAsync);
        _connection.On<TableUpdate>(nameof(INodeClient.InstallTable), OnInstallTableAsync);
        _connection.On<Guid, ulong>(nameof(INodeClient.Commit), OnCommit);
        _connection.On<KeyUpdate>(nameof(INodeClient.InstallKeys), OnInstallKeysAsync);
        _connection.Reconnected += _ => RegisterAsync(_stopping.Token);
        _connection.Closed += OnClosedAsync;
    }

    /// <summary>The tables the roles forward with; replaced (empty) only when an assignment moves the unit to another DVA.</summary>
    public TableStore Tables => _tables;

    /// <summary>The DVA's tunnel keys as the manager delivered them; like <see cref="Tables"/>, replaced (empty) only on a move to another DVA.</summary>
    public TunnelKeyRing Keys => _keys;

    /// <summary>The unit's current place (unallocated until the manager assigns it).</summary>
    public NodeAssignment Assignment => _assignment;

    /// <summary>The manager's id for this unit; 0 before the first registration.</summary>
    public long NodeKey => Interlocked.Read(ref _nodeKey);

    public bool IsConnected => _connection.State == HubConnectionState.Connected && _registered;

    /// <summary>Completes when the first registration succeeded.</summary>
    public Task Registered => _firstRegistration.Task;

    /// <summary>One attempt: connects and registers, or throws (wrong token, refused registration, no manager).</summary>
    public async Task ConnectAsync(CancellationToken ct)
    {
        await _connection.StartAsync(ct);
        await RegisterAsync(ct);
        _heartbeats ??= SendHeartbeatsAsync(_stopping.Token);
    }

    /// <summary>Connects with growing pauses until it works, then keeps the connection (automatic reconnects) until disposed.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        var backoff = new Backoff(_options.MaxReconnectDelay);
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await ConnectAsync(ct);
                return;
            }
            catch (Exception e) when (e is (HttpRequestException or HubException or IOException or InvalidOperationException) && !ct.IsCancellationRequested)
            {
                LogConnectFailed(_logger, e.Message);
                if (_connection.State != HubConnectionState.Disconnected)
                {
                    await _connection.StopAsync(ct);
                }

                await Task.Delay(backoff.Delay(attempt), _time, ct);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        if (_heartbeats is not null)
        {
            await _heartbeats.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        await _connection.DisposeAsync();
        _stopping.Dispose();
    }

    private async Task RegisterAsync(CancellationToken ct)
    {
        _registered = false;
        var key = NodeKey;
        var hello = _options.Hello with
        {
            NodeKey = key == 0 ? null : key,
            CurrentTableVersion = _tables.State.Current?.Version ?? 0,
        };
        var welcome = await _connection.InvokeAsync<NodeWelcome>(nameof(INodeHubServer.Register), hello, ct);
        Interlocked.Exchange(ref _nodeKey, welcome.NodeKey);
        _registered = true;
        LogRegistered(_logger, welcome.Message);
        _firstRegistration.TrySetResult();
    }

    private async Task OnAssignAsync(NodeAssignment assignment)
    {
        if (assignment.DvaId != _assignment.DvaId)
        {
            // Another DVA's tables would be refused as OtherDva, and this DVA's node ids mean nothing there; nor its keys.
            _tables = new TableStore();
            _keys = new TunnelKeyRing();
        }

        _assignment = assignment;
        await _onAssign(assignment);
    }

    private async Task OnInstallTableAsync(TableUpdate update)
    {
        var assignment = _assignment;
        string? error = null;
        var decoded = TableCodec.TryDecode(update.Encoded, out var table);
        if (decoded != TableCodecError.None || table is null)
        {
            error = $"the table does not decode: {decoded}";
        }
        else if (table.DvaId != update.DvaId || table.Version != update.Version)
        {
            error = $"the table is DVA {table.DvaId} version {table.Version}, the message says {update.DvaId} version {update.Version}";
        }
        else if (table.DvaId != assignment.DvaId)
        {
            error = $"this unit is assigned to DVA {assignment.DvaId}, not {table.DvaId}";
        }
        else if (!table.Peers.ContainsKey(assignment.NodeId))
        {
            error = $"node {assignment.NodeId} is not a peer of version {table.Version}";
        }
        else
        {
            _tables.Install(table, out error);
        }

        // Send, not invoke: waiting inside a handler for the manager's answer would stall this connection's other
        // messages, and the ack needs no answer (the manager's rollout log records it).
        await _connection.SendAsync(nameof(INodeHubServer.AckTable),
            new TableAck(update.DvaId, update.Version, assignment.NodeId, error is null, error), _stopping.Token);
    }

    private async Task OnInstallKeysAsync(KeyUpdate update)
    {
        var assignment = _assignment;
        var keys = _keys;
        var error = update.DvaId != assignment.DvaId
            ? $"this unit is assigned to DVA {assignment.DvaId}, not {update.DvaId}"
            : KeyUpdates.Apply(keys, update);
        LogKeys(_logger, update.Sequence, update.Key?.ToString() ?? "no key", update.SendPhase ?? -1, update.RetirePhase ?? -1, error ?? "applied");
        await _connection.SendAsync(nameof(INodeHubServer.AckKeys), KeyUpdates.Ack(keys, update, assignment.NodeId, error), _stopping.Token);
    }

    private void OnCommit(Guid dvaId, ulong version)
    {
        var tables = _tables;
        if (tables.State.Current is not { } current || current.DvaId != dvaId || current.Version != version)
        {
            return;
        }

        if (_options.CommitGrace <= TimeSpan.Zero)
        {
            tables.DropPrevious();
            return;
        }

        _ = DropAfterGraceAsync(tables, version);
    }

    private async Task DropAfterGraceAsync(TableStore tables, ulong version)
    {
        try
        {
            await Task.Delay(_options.CommitGrace, _time, _stopping.Token);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        // A newer version may have arrived meanwhile; its previous table is still needed.
        if (tables.State.Current?.Version == version)
        {
            tables.DropPrevious();
        }
    }

    private async Task SendHeartbeatsAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(_options.HeartbeatInterval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(ct))
            {
                if (!IsConnected)
                {
                    continue;
                }

                try
                {
                    var assignment = _assignment;
                    var beat = _heartbeat() with
                    {
                        NodeKey = NodeKey,
                        DvaId = assignment.DvaId,
                        NodeId = assignment.NodeId,
                        TableVersion = _tables.State.Current?.Version ?? 0,
                    };
                    await _connection.SendAsync(nameof(INodeHubServer.Heartbeat), beat, ct);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // A heartbeat lost to a reconnect is replaced by the next one a second later.
                    LogHeartbeatFailed(_logger, e.Message);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Disposed.
        }
    }

    private async Task OnClosedAsync(Exception? error)
    {
        // Automatic reconnection gave up (it never does with this policy) or the manager closed the connection:
        // start over, unless the agent is stopping. The tables stay as they are.
        _registered = false;
        if (!_stopping.IsCancellationRequested)
        {
            LogConnectFailed(_logger, error?.Message ?? "connection closed");
            try
            {
                await RunAsync(_stopping.Token);
            }
            catch (OperationCanceledException)
            {
                // Disposed while reconnecting.
            }
        }
    }

    [LoggerMessage(EventId = 5001, Level = LogLevel.Information, Message = "Manager: {Message}")]
    private static partial void LogRegistered(ILogger logger, string message);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Warning, Message = "Cannot reach the manager: {Reason}; forwarding on the last tables")]
    private static partial void LogConnectFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 5004, Level = LogLevel.Information, Message = "Tunnel keys update {Sequence}: {Key}, send phase {SendPhase}, retire {RetirePhase}: {Result}")]
    private static partial void LogKeys(ILogger logger, long sequence, string key, int sendPhase, int retirePhase, string result);

    [LoggerMessage(EventId = 5003, Level = LogLevel.Debug, Message = "Heartbeat not sent: {Reason}")]
    private static partial void LogHeartbeatFailed(ILogger logger, string reason);

    /// <summary>0.5 s doubling up to the maximum, forever: a unit outlives any manager outage.</summary>
    private sealed class Backoff(TimeSpan max) : IRetryPolicy
    {
        public TimeSpan Delay(int attempt) =>
            TimeSpan.FromMilliseconds(Math.Min(max.TotalMilliseconds, 500 * Math.Pow(2, Math.Min(attempt, 16))));

        public TimeSpan? NextRetryDelay(RetryContext retryContext) => Delay((int)Math.Min(retryContext.PreviousRetryCount, int.MaxValue));
    }
}
