using System.Net;
using Dva.Node.Config;
using Dva.Node.DataPlane;
using Dva.Node.Dispatcher;
using Dva.Node.Engine;
using Dva.Node.Io;
using Dva.Node.Shortcut;
using Dva.Shared.Security;
using Dva.Shared.Tables;

namespace Dva.Node.Agent;

/// <summary>What the control API asks of the running role, whichever it is.</summary>
internal sealed record RoleView(
    Func<Task<object>> Flows,
    Func<Task<object?>> Buckets,
    Func<Task<object?>> Neighbours);

/// <summary>
/// Runs one node from its validated settings: the buffer pool, the epoll engines (a data plane may run on several,
/// <see cref="NodeSettings.Engines"/>; a dispatcher on one), the tunnel socket (a <see cref="TunnelSocketGroup"/> of one
/// socket per engine), the frame sources of a dispatcher, the role, the static table and the control API.
/// <see cref="DisposeAsync"/> stops the engines before any port is closed (an engine may be inside a receive call on one).
/// </summary>
internal sealed class NodeHost : IAsyncDisposable
{
    /// <summary>Packet buffers of one node: 64 per port batch many times over, about 17 MB at 2 KiB + headroom.</summary>
    public const int PoolBuffers = 8192;

    /// <summary>
    /// Packet buffers of a <c>superFrames</c> node: fewer (about 67 MB at most, created only as needed) but each holds a
    /// whole GSO super-frame or tunnel datagram (<see cref="SuperFrameSize"/>).
    /// </summary>
    public const int SuperFramePoolBuffers = 1024;

    /// <summary>An IPv4 packet of 65 535 bytes in an 802.1Q-tagged Ethernet frame (65 553), rounded up; a tunnel datagram is at most 65 507.</summary>
    public const int SuperFrameSize = 65536 + 64;

    /// <summary>
    /// Socket buffers of a <c>superFrames</c> node (tunnel, flow-port sender, frame sources): 4 MB holds only some sixty
    /// 64 KiB datagrams, and TCP through the DVA lost segments there (tools/perf-iperf, docs/benchmarks.md).
    /// </summary>
    public const int SuperFrameSocketBufferBytes = 32 << 20;

    private int SocketBufferBytes => Settings.SuperFrames ? SuperFrameSocketBufferBytes : UdpSockets.DefaultSocketBufferBytes;

    private readonly List<PacketPort> _ports = [];
    private readonly List<IDisposable> _disposables = [];
    private readonly EpollEngine[] _engines;
    private ControlApi? _control;
    private int _disposed;

    private NodeHost(NodeSettings settings, TableStore tables, TunnelKeyRing keys, TimeProvider time)
    {
        Settings = settings;
        Tables = tables;
        Keys = keys;
        Time = time;
        Pool = settings.SuperFrames ? new BufferPool(SuperFramePoolBuffers, SuperFrameSize) : new BufferPool(PoolBuffers);

        // One pool for all engines: a buffer is rented and returned on one engine thread, and the pool is lock-free.
        _engines = new EpollEngine[settings.Engines];
        for (var i = 0; i < _engines.Length; i++)
        {
            _engines[i] = new EpollEngine(Pool, time);
        }
    }

    public NodeSettings Settings { get; }

    public TimeProvider Time { get; }

    public BufferPool Pool { get; }

    public TableStore Tables { get; }

    /// <summary>The tunnel keys (secure mode): from the configuration file, or installed by the manager over the hub.</summary>
    public TunnelKeyRing Keys { get; }

    /// <summary>The tunnel's secure layer, null in plain mode.</summary>
    public SecureTunnel? Security { get; private set; }

    public NodeCounters Counters { get; } = new();

    public IReadOnlyList<PacketPort> Ports => _ports;

    /// <summary>The roles' drops by reason plus the frames the ports dropped themselves (<see cref="PacketPort.AddOwnDrops"/>).</summary>
    public IReadOnlyDictionary<string, long> DropsWithPorts(CounterSnapshot snapshot)
    {
        var drops = new Dictionary<string, long>(snapshot.Drops);
        foreach (var port in _ports)
        {
            port.AddOwnDrops(drops);
        }

        return drops;
    }

    /// <summary><paramref name="roles"/>' drops plus each port's own (already read), summed by reason.</summary>
    internal static Dictionary<string, long> WithPortDrops(IReadOnlyDictionary<string, long> roles, IEnumerable<IReadOnlyDictionary<string, long>> ports)
    {
        var drops = new Dictionary<string, long>(roles);
        foreach (var port in ports)
        {
            foreach (var (reason, count) in port)
            {
                drops[reason] = drops.GetValueOrDefault(reason) + count;
            }
        }

        return drops;
    }

    /// <summary>The tunnel endpoint actually bound (port 0 in the settings picks a free one).</summary>
    public IPEndPoint TunnelEndPoint { get; private set; } = new(IPAddress.None, 0);

    /// <summary>Why tunnel sends leave from the tunnel port for every flow despite tunnel.flowSourcePorts; null when they do not.</summary>
    public string? FlowSourcePortsOff { get; private set; }

    /// <summary>The control API endpoint actually bound.</summary>
    public IPEndPoint ControlEndPoint => _control?.EndPoint ?? Settings.Control;

    /// <summary>The first engine (the only one of a dispatcher).</summary>
    public EpollEngine Engine => _engines[0];

    public IReadOnlyList<EpollEngine> Engines => _engines;

    /// <summary>Handler exceptions caught by every engine.</summary>
    public long HandlerFaults => _engines.Sum(e => e.HandlerFaults);

    /// <summary>
    /// The data plane role, when this node is one (the agent reads bucket counts and flows for its heartbeat): the first
    /// engine's, which answers snapshots and service updates for every engine (<see cref="DataPlaneRole.Group"/>).
    /// </summary>
    public DataPlaneRole? DataPlane { get; private set; }

    /// <summary>A dispatcher's role of every engine, in engine order (empty on a data plane).</summary>
    internal IReadOnlyList<DispatcherRole> Dispatchers { get; private set; } = [];

    /// <summary>A dispatcher's kernel shortcut (<c>shortcuts</c>); null otherwise.</summary>
    internal DispatcherShortcuts? Shortcuts { get; private set; }

    public RoleView Role { get; private set; } = new(() => Task.FromResult<object>(Array.Empty<object>()), () => Task.FromResult<object?>(null), () => Task.FromResult<object?>(null));

    /// <summary>Opens everything, installs the static table, starts the engine and the control API. Throws a readable error when the system refuses.</summary>
    public static Task<NodeHost> StartAsync(NodeSettings settings, TimeProvider? time = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var keys = new TunnelKeyRing();
        settings.Security.InstallInto(keys);
        return StartAsync(settings, new TableStore(), keys, time, cancellationToken);
    }

    /// <summary>As above, with <paramref name="tables"/> and <paramref name="keys"/> that outlive the host (the agent's manager client installs into them).</summary>
    public static async Task<NodeHost> StartAsync(NodeSettings settings, TableStore tables, TunnelKeyRing keys, TimeProvider? time = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(tables);
        ArgumentNullException.ThrowIfNull(keys);
        var host = new NodeHost(settings, tables, keys, time ?? TimeProvider.System);
        try
        {
            host.Open();
            await host.StartControlAsync(cancellationToken);
            return host;
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }
    }

    /// <summary>The static table of the configuration file as the first installed version.</summary>
    public static TableVersion? StaticTable(NodeSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.Table is not { } t)
        {
            return null;
        }

        var peers = t.DataPlanes.Select(p => new PeerInfo(p.NodeId, PeerRole.DataPlane, p.Endpoint, p.Weight))
            .Concat(t.Dispatchers.Select(p => new PeerInfo(p.NodeId, PeerRole.Dispatcher, p.Endpoint)));
        return TableVersion.CreateFirst(t.DvaId, t.Seed, t.BucketCount, peers, "static configuration", t.Version);
    }

    private void Open()
    {
        if (StaticTable(Settings) is { } table && !Tables.Install(table, out var error))
        {
            throw new InvalidOperationException($"the static table was refused: {error}");
        }

        if (_engines.Length > 1)
        {
            if (Settings.Role == NodeRole.Dispatcher)
            {
                OpenDispatcherEngines();
            }
            else
            {
                OpenDataPlaneEngines();
            }

            return;
        }

        var tunnel = UdpTunnelSocket.Open(Settings.TunnelListen, SocketBufferBytes);
        _ports.Add(tunnel);
        if (Settings.Security.Mode != TunnelSecurityMode.Plain)
        {
            // One replay window per sender and one SEQ counter for the node; the socket's engine thread owns the ciphers.
            Security = new SecureTunnel(Settings.Security.Mode, Keys, new ReplayGuard(), TunnelSequence.StartingNow(Time), Counters.CreateBlock());
            tunnel.Security = Security;
        }

        TunnelEndPoint = tunnel.LocalEndPoint;
        if (Settings.FlowSourcePorts && !tunnel.EnableFlowSourcePorts(SocketBufferBytes, out var why, Settings.TunnelMtu))
        {
            FlowSourcePortsOff = why;
        }

        if (Settings.Role == NodeRole.Dispatcher)
        {
            var shortcuts = OpenShortcuts();
            var sources = new Dictionary<byte, PacketPort>();
            foreach (var (shared, spec) in SourceSpecs())
            {
                // afpacket:, afxdp: the shared MAC is not the interface's own, so the device must pass every frame up.
                var source = spec.Open(promiscuous: spec.Kind is FrameSourceKind.AfPacket or FrameSourceKind.AfXdp, SocketBufferBytes);
                _ports.Add(source);
                sources[shared.Ifid] = source;
                AttachShortcut(shortcuts, source);
            }

            var role = new DispatcherRole(Settings, Tables, Counters, Time);
            if (shortcuts is not null)
            {
                role.UseShortcuts(shortcuts);
            }

            role.Attach(_engines[0], tunnel, sources);
            shortcuts?.Start();
            Dispatchers = [role];
            UseDispatcher(role);
        }
        else
        {
            var role = new DataPlaneRole(Settings, Tables, Counters, Time);
            role.Attach(_engines[0], tunnel);
            UseDataPlane(role);
        }

        _engines[0].Start();
    }

    /// <summary>
    /// A dispatcher on several engines: per engine one socket of the tunnel group (the data planes' EGRESS split by
    /// source port), one source per shared interface: an <c>afpacket:</c> one that joined the interface's PACKET_FANOUT
    /// group (its frames split by flow hash), or an <c>afxdp:</c> one reading the engine's receive queue (split by the
    /// device's queue choice); and one role; the roles share the neighbour table. Each socket sends from
    /// per-flow ports, as a data plane of several engines needs from its dispatchers.
    /// </summary>
    private void OpenDispatcherEngines()
    {
        var group = OpenTunnelGroup();
        var specs = SourceSpecs().Select(s => (s.Shared, s.Spec,
            Fanout: s.Spec.Kind == FrameSourceKind.AfPacket ? new AfPacketFanout() : null,
            Queues: s.Spec.Kind == FrameSourceKind.AfXdp ? new XdpQueueGroup(_engines.Length) : null)).ToList();

        var roles = DispatcherRole.CreateGroup(Settings, Tables, Counters, Time, _engines.Length);
        var shortcuts = OpenShortcuts();
        for (var i = 0; i < roles.Length; i++)
        {
            var sources = new Dictionary<byte, PacketPort>();
            foreach (var (shared, spec, fanout, queues) in specs)
            {
                // The shared MAC is not the interface's own, so every socket must see every frame (promiscuous).
                var source = spec.Open(promiscuous: true, SocketBufferBytes, fanout, queues);
                _ports.Add(source);
                sources[shared.Ifid] = source;
                AttachShortcut(shortcuts, source);
            }

            if (shortcuts is not null)
            {
                roles[i].UseShortcuts(shortcuts);
            }

            roles[i].Attach(_engines[i], group.Sockets[i], sources);
        }

        shortcuts?.Start();
        Dispatchers = roles;
        UseDispatcher(roles[0]);
        foreach (var engine in _engines)
        {
            engine.Start();
        }
    }

    /// <summary>The kernel shortcut of a dispatcher with <c>shortcuts</c> (disposed with the host, which closes its programs' links).</summary>
    private DispatcherShortcuts? OpenShortcuts()
    {
        if (!Settings.Shortcuts)
        {
            return null;
        }

        var shortcuts = DispatcherShortcuts.Create(Settings.ShortcutCapacity, Counters);
        Shortcuts = shortcuts;
        _disposables.Add(shortcuts);
        return shortcuts;
    }

    /// <summary>An afpacket: source's socket gets the verdict program and its interface the forward program; other kinds have no shortcut.</summary>
    private static void AttachShortcut(DispatcherShortcuts? shortcuts, PacketPort source)
    {
        if (shortcuts is not null && DispatcherShortcuts.InterfaceIndexOf(source) is { } ifIndex && source is FrameSource frames)
        {
            shortcuts.AttachSocket(frames.Fd, ifIndex, frames.Spec.InterfaceName!);
        }
    }

    /// <summary>Each shared interface with its parsed frame source (validated with the settings; a bad one throws here too).</summary>
    private List<(SharedInterface Shared, FrameSourceSpec Spec)> SourceSpecs() =>
        [.. Settings.Interfaces.Select(shared => FrameSourceSpec.TryParse(shared.Source, out var spec, out var error)
            ? (shared, spec)
            : throw new InvalidOperationException($"interface {shared.Ifid}: {error}"))];

    private TunnelSocketGroup OpenTunnelGroup()
    {
        var group = TunnelSocketGroup.Open(Settings.TunnelListen, _engines.Length, SocketBufferBytes);
        _ports.AddRange(group.Sockets);
        TunnelEndPoint = group.LocalEndPoint;
        foreach (var socket in group.Sockets)
        {
            if (!socket.EnableFlowSourcePorts(SocketBufferBytes, out var why, Settings.TunnelMtu))
            {
                throw new InvalidOperationException($"engines: {_engines.Length} engines need per-flow source ports, which this node cannot open: {why}");
            }
        }

        return group;
    }

    private void UseDispatcher(DispatcherRole role) =>
        Role = new RoleView(
            () => Task.FromResult<object>(Array.Empty<object>()),
            () => Task.FromResult<object?>(null),
            async () => (await role.SnapshotNeighboursAsync()).Select(n => new { n.Ifid, Address = n.Address.ToString(), n.Mac, n.Vlan }).ToList());

    /// <summary>
    /// A data plane on several engines: one socket of the tunnel group and one role per engine. Each socket sends from
    /// per-flow ports, which the other nodes' steering relies on as much as this node's does, so a node that cannot
    /// open them does not start (rather than break flows at its peers).
    /// </summary>
    private void OpenDataPlaneEngines()
    {
        var group = OpenTunnelGroup();
        var roles = DataPlaneRole.CreateGroup(Settings, Tables, Counters, Time, DataPlaneOptions.Default, _engines.Length);
        for (var i = 0; i < roles.Length; i++)
        {
            roles[i].Attach(_engines[i], group.Sockets[i]);
            if (i > 0)
            {
                _disposables.Add(roles[i]);
            }
        }

        UseDataPlane(roles[0]);
        foreach (var engine in _engines)
        {
            engine.Start();
        }
    }

    private void UseDataPlane(DataPlaneRole role)
    {
        _disposables.Add(role);
        DataPlane = role;
        Role = new RoleView(
            async () => await role.SnapshotFlowsAsync(),
            async () => BucketSummary(await role.SnapshotBucketCountsAsync()),
            () => Task.FromResult<object?>(null));
    }

    /// <summary>Live flows per bucket, summarised: the operator wants totals, the manager the empty buckets.</summary>
    private static object BucketSummary(BucketFlowCounts counts) => new
    {
        counts.TableVersion,
        counts.BucketCount,
        LiveFlows = counts.Counts.Sum(),
        BucketsWithFlows = counts.Counts.Count(c => c > 0),
        MaxPerBucket = counts.Counts.Length == 0 ? 0 : counts.Counts.Max(),
    };

    private async Task StartControlAsync(CancellationToken cancellationToken)
    {
        _control = new ControlApi(this);
        await _control.StartAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (_control is not null)
        {
            await _control.DisposeAsync();
        }

        // A dispatcher's last words (final router advertisements), queued before its engine stops and sends them.
        foreach (var dispatcher in Dispatchers)
        {
            _ = await Task.WhenAny(dispatcher.RetireAsync(), Task.Delay(TimeSpan.FromSeconds(1)));
        }

        // Engines first: one may be inside recvmmsg on a port; closing the fd under it would be a use-after-close.
        foreach (var engine in _engines)
        {
            engine.Dispose();
        }

        foreach (var disposable in _disposables)
        {
            disposable.Dispose();
        }

        foreach (var port in _ports)
        {
            port.Dispose();
        }
    }
}
