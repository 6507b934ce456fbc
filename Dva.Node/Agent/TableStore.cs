using Dva.Node.Io;
using Dva.Shared.Tables;

namespace Dva.Node.Agent;

/// <summary>
/// What the engine reads per packet: the current table, the previous one (data planes keep it so packets a
/// one-step-behind dispatcher sent still find their owner, DESIGN.md §5), and a node-id-indexed peer array so
/// validating HNODE costs one array load. Immutable; published by one reference write.
/// </summary>
internal sealed class TableState
{
    public static readonly TableState Empty = new(EraTables.None);

    private readonly PeerInfo?[] _peers = new PeerInfo?[4096];
    private readonly PacketAddress[] _addresses = new PacketAddress[4096];

    public TableState(EraTables tables)
    {
        Tables = tables;
        var current = tables.Current;
        var previous = tables.Previous;
        // A peer of either version is accepted: a predecessor that left in v+1 may still be punted to under v.
        foreach (var t in (ReadOnlySpan<TableVersion?>)[previous, current])
        {
            if (t is null)
            {
                continue;
            }

            foreach (var p in t.PeersById)
            {
                _peers[p.NodeId] = p;
                _addresses[p.NodeId] = PacketAddress.FromEndPoint(p.Endpoint);
            }
        }
    }

    public EraTables Tables { get; }

    public TableVersion? Current => Tables.Current;

    public TableVersion? Previous => Tables.Previous;

    /// <summary>The table a packet stamped with <paramref name="era"/> was dispatched under, or null when this node has none yet.</summary>
    public TableVersion? ForEra(int era) => Tables.ForEra(era);

    public PeerInfo? Peer(ushort nodeId) => nodeId < _peers.Length ? _peers[nodeId] : null;

    /// <summary>
    /// Tunnel endpoints by node id (empty where no peer), built once per table change so the roles address
    /// and validate peers without allocating per packet. Read-only by contract: roles never write into it.
    /// </summary>
    public PacketAddress[] Addresses => _addresses;
}

/// <summary>
/// Holds a node's tables. The control side (static config, control API, manager hub) installs versions; the
/// engine thread reads <see cref="State"/> once per batch. Installing v+1 keeps v as previous (the rule lives in
/// <see cref="EraTables"/>) until <see cref="DropPrevious"/> is called after the rollout's grace period.
/// </summary>
internal sealed class TableStore
{
    private volatile TableState _state = TableState.Empty;
    private readonly Lock _lock = new();

    public TableState State => _state;

    public event Action<TableState>? Installed;

    /// <summary>Installs <paramref name="table"/> as current; a re-sent current version is accepted and changes nothing.</summary>
    public bool Install(TableVersion table, out string? error)
    {
        ArgumentNullException.ThrowIfNull(table);
        TableState next;
        lock (_lock)
        {
            var result = _state.Tables.TryInstall(table, out var installed);
            switch (result)
            {
                case InstallResult.AlreadyCurrent:
                    error = null;
                    return true;
                case InstallResult.Stale:
                    error = $"version {table.Version} is older than the installed {_state.Current?.Version}";
                    return false;
                case InstallResult.OtherDva:
                    error = $"table of DVA {table.DvaId} offered to a node of DVA {_state.Current?.DvaId}";
                    return false;
            }

            next = new TableState(installed);
            _state = next;
        }

        error = null;
        Installed?.Invoke(next);
        return true;
    }

    /// <summary>Forgets the previous version once the rollout that replaced it has committed.</summary>
    public void DropPrevious()
    {
        lock (_lock)
        {
            if (_state.Previous is not null)
            {
                _state = new TableState(_state.Tables.DropPrevious());
            }
        }
    }
}
