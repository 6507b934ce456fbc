using System.Collections.Concurrent;
using Dva.Shared.Contracts;

namespace Dva.Manager.Hubs;

/// <summary>What the manager knows live about one registered node agent (not persisted).</summary>
internal sealed class NodeSession(long nodeKey, string name, NodeHello hello)
{
    public long NodeKey { get; } = nodeKey;

    public string Name { get; } = name;

    public NodeHello Hello { get; set; } = hello;

    /// <summary>The hub connection; null while the agent is away (its tables keep forwarding meanwhile).</summary>
    public string? ConnectionId { get; set; }

    /// <summary>Last registration or heartbeat; failure detection compares it with the clock.</summary>
    public DateTimeOffset LastSeen { get; set; }

    public NodeHeartbeat? LastHeartbeat { get; set; }

    public DateTimeOffset LastHeartbeatAt { get; set; }

    /// <summary>The table version the agent runs: from its hello, then from its acks.</summary>
    public ulong InstalledVersion { get; set; }

    private long _tablesSent;
    private long _tablesAcked;
    private long _tablesAckedAtHeartbeat;

    /// <summary>
    /// <see cref="TablesAcked"/> when the latest heartbeat arrived on the current connection. Hub calls of one
    /// connection run in order, so a heartbeat counted here came after those acks and its <c>RoleError</c> speaks for
    /// the assignment they confirm.
    /// </summary>
    public long TablesAckedAtHeartbeat => Interlocked.Read(ref _tablesAckedAtHeartbeat);

    /// <summary>Records a heartbeat received on <paramref name="connectionId"/> (see <see cref="TablesAckedAtHeartbeat"/>).</summary>
    public void CountHeartbeat(string connectionId)
    {
        lock (this)
        {
            if (ConnectionId == connectionId)
            {
                _tablesAckedAtHeartbeat = _tablesAcked;
            }
        }
    }

    /// <summary>Tables sent on the current connection (every one is answered by exactly one ack, in order).</summary>
    public long TablesSent => Interlocked.Read(ref _tablesSent);

    /// <summary>Table acks received on the current connection.</summary>
    public long TablesAcked => Interlocked.Read(ref _tablesAcked);

    /// <summary>Counts a table sent on <paramref name="connectionId"/>, if that is still the unit's connection.</summary>
    public void CountTableSent(string connectionId)
    {
        lock (this)
        {
            if (ConnectionId == connectionId)
            {
                _tablesSent++;
            }
        }
    }

    /// <summary>Counts an ack received on <paramref name="connectionId"/>; an ack from an older connection does not count.</summary>
    public void CountTableAcked(string connectionId)
    {
        lock (this)
        {
            if (ConnectionId == connectionId)
            {
                _tablesAcked++;
            }
        }
    }

    /// <summary>A new connection: the agent answers only what is sent on it.</summary>
    internal void ResetTableCounts()
    {
        _tablesSent = 0;
        _tablesAcked = 0;
        _tablesAckedAtHeartbeat = 0;
    }
}

/// <summary>Node agents by node key, and the connection each one is reachable on.</summary>
internal sealed class NodeSessions
{
    private readonly ConcurrentDictionary<long, NodeSession> _sessions = new();

    public NodeSession? Get(long nodeKey) => _sessions.GetValueOrDefault(nodeKey);

    public IReadOnlyCollection<NodeSession> All => [.. _sessions.Values];

    public NodeSession Connect(long nodeKey, string name, NodeHello hello, string connectionId, DateTimeOffset now)
    {
        var session = _sessions.AddOrUpdate(nodeKey, _ => new NodeSession(nodeKey, name, hello), (_, s) => s);
        lock (session)
        {
            if (session.ConnectionId != connectionId)
            {
                session.ResetTableCounts();
            }

            session.Hello = hello;
            session.ConnectionId = connectionId;
            session.LastSeen = now;
            session.InstalledVersion = hello.CurrentTableVersion;
        }

        return session;
    }

    /// <summary>The connection closed; the session stays so failure detection can time it out.</summary>
    public void Disconnect(long nodeKey, string connectionId)
    {
        if (_sessions.TryGetValue(nodeKey, out var session))
        {
            lock (session)
            {
                if (session.ConnectionId == connectionId)
                {
                    session.ConnectionId = null;
                }
            }
        }
    }
}

/// <summary>One heartbeat as received, for live views.</summary>
internal sealed record HeartbeatReceived(long NodeKey, string NodeName, DateTimeOffset At, NodeHeartbeat Heartbeat);

/// <summary>
/// Every accepted heartbeat, fanned out to subscribers (the dashboard's live state, the elasticity controller).
/// Subscribers run on the hub's thread and must be quick; they are isolated from each other's exceptions.
/// </summary>
internal sealed class HeartbeatFeed(ILogger<HeartbeatFeed> logger)
{
    private readonly Lock _lock = new();
    private Action<HeartbeatReceived>[] _subscribers = [];

    /// <summary>Subscribes; dispose the result to stop receiving.</summary>
    public IDisposable Subscribe(Action<HeartbeatReceived> subscriber)
    {
        ArgumentNullException.ThrowIfNull(subscriber);
        lock (_lock)
        {
            _subscribers = [.. _subscribers, subscriber];
        }

        return new Subscription(this, subscriber);
    }

    public void Publish(HeartbeatReceived heartbeat)
    {
        foreach (var subscriber in _subscribers)
        {
            try
            {
                subscriber(heartbeat);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                HubLog.SubscriberFailed(logger, e);
            }
        }
    }

    private void Unsubscribe(Action<HeartbeatReceived> subscriber)
    {
        lock (_lock)
        {
            _subscribers = [.. _subscribers.Where(s => s != subscriber)];
        }
    }

    private sealed class Subscription(HeartbeatFeed feed, Action<HeartbeatReceived> subscriber) : IDisposable
    {
        public void Dispose() => feed.Unsubscribe(subscriber);
    }
}
