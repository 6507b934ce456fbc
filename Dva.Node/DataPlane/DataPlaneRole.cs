using System.Diagnostics;
using System.Globalization;
using Dva.Node.Agent;
using Dva.Node.Config;
using Dva.Node.Engine;
using Dva.Node.Io;
using Dva.Node.Routing;
using Dva.Node.Services.LoadBalancer;
using Dva.Shared.Flows;
using Dva.Shared.Packets;
using Dva.Shared.Tables;
using Dva.Shared.Wire;

namespace Dva.Node.DataPlane;

/// <summary>What <see cref="DataPlaneRole.Process"/> did with one tunnel datagram.</summary>
internal enum Verdict : byte
{
    /// <summary>Rewritten in place; send it on the tunnel to <see cref="PacketBuffer.Peer"/>.</summary>
    Send,

    /// <summary>Dropped, counted under <see cref="DataPlaneRole.LastDrop"/>.</summary>
    Drop,

    /// <summary>No table serves its ERA yet: hold it (DESIGN.md §5).</summary>
    Hold,

    /// <summary>Handled, nothing to send (a broadcast at the end of the chain, a probe reply).</summary>
    Consumed,
}

/// <summary>
/// The data plane (DESIGN.md §1, §5–§8): receives tunnel datagrams, validates them, picks the table their ERA
/// names, applies keep-or-punt, and for the flows it keeps runs the pipeline (PREROUTING → routing → FORWARD or
/// INPUT → POSTROUTING) and sends the result as EGRESS to the dispatcher of the egress interface. Every forwarded
/// packet reuses the buffer it arrived in; the header is rewritten in place. All state (flows, neighbours, held
/// packets) belongs to the engine thread the tunnel port is registered with.
/// </summary>
internal sealed partial class DataPlaneRole : IDisposable
{
    private readonly TableStore _tables;
    private readonly TimeProvider _time;

    /// <summary>The ICMP errors this role (one engine) sends, limited as a router's are.</summary>
    private readonly IcmpRateLimiter _icmpLimit;
    private readonly DataPlaneOptions _options;
    private readonly ushort _self;

    // shortcuts: established flows that need nothing per packet offer their dispatcher the kernel shortcut.
    private readonly bool _shortcuts;
    private readonly CounterBlock _counters;
    private readonly FlowTable _flows;
    private readonly HoldQueue _hold;
    private readonly RouteTable _routes;
    private readonly NeighbourTable _neighbours;
    private readonly SharedInterface?[] _interfaces = new SharedInterface?[256];
    private readonly byte[]?[] _interfaceMacs = new byte[]?[256];

    // The packet in the pipeline has its transport checksum left to the device (OFFLOAD C): NAT updates the pseudo-header
    // sum in its field instead of a checksum. Engine thread only; set by RunPipeline for the packet it runs.
    private bool _partialChecksum;

    // The payload bytes of the packet being processed that wait at its dispatcher (a PARK word), counted with it.
    private int _parkedBytes;

    // Answers (ping replies, ICMP errors) are built here, then copied over the request in its own buffer.
    private readonly byte[] _scratch = new byte[BufferPool.DefaultFrameSize + BufferPool.DefaultHeadroom];

    // Tunnel address of every peer of the installed tables, so HNODE and source checks cost no allocation.
    private PacketAddress[] _peerAddresses = TableState.Empty.Addresses;
    private readonly long _holdTicks;
    private readonly Action _releaseHeld;
    private readonly Action<TableState> _onInstalled;
    private TableState? _addressesOf;
    private EpollEngine? _engine;
    private PacketPort? _tunnel;
    private EngineTimer[] _timers = [];

    public DataPlaneRole(NodeSettings settings, TableStore tables, NodeCounters counters, TimeProvider time)
        : this(settings, tables, counters, time, DataPlaneOptions.Default)
    {
    }

    internal DataPlaneRole(NodeSettings settings, TableStore tables, NodeCounters counters, TimeProvider time, DataPlaneOptions options)
        : this(settings, tables, counters, time, options, EngineSlot.Single, null)
    {
    }

    /// <summary>The role of one engine; <paramref name="sharesServicesOf"/> is the group's first role (null for the first itself).</summary>
    private DataPlaneRole(NodeSettings settings, TableStore tables, NodeCounters counters, TimeProvider time, DataPlaneOptions options,
        EngineSlot engineSlot, DataPlaneRole? sharesServicesOf)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(tables);
        ArgumentNullException.ThrowIfNull(counters);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(options);
        _tables = tables;
        _time = time;
        _icmpLimit = new IcmpRateLimiter(time);
        _options = options;
        _self = settings.NodeId;
        _shortcuts = settings.Shortcuts;
        _engineSlot = engineSlot;
        _group = [this];
        _counters = counters.CreateBlock();
        _flows = new FlowTable(options.FlowCapacity, settings.Timeouts, time.TimestampFrequency);
        _nat = new NatTable(options.NatCapacity);
        _flows.Nat = _nat;
        _hold = new HoldQueue(options.HoldCapacity);
        _holdTicks = (long)(options.HoldMaxAge.TotalSeconds * time.TimestampFrequency);
        _routes = new RouteTable(settings.Interfaces, settings.Routes);
        _neighbours = new NeighbourTable(time, NeighbourTable.DefaultLifetime);
        foreach (var i in settings.Interfaces)
        {
            _interfaces[i.Ifid] = i;
            _interfaceMacs[i.Ifid] = i.Mac.GetAddressBytes();
        }

        _loadBalancer = sharesServicesOf?._loadBalancer ?? new LoadBalancerState();
        _snatPorts = sharesServicesOf?._snatPorts ?? new SnatPortAllocator();
        ConfigureServices(settings, sharesServicesOf);
        _releaseHeld = ReleaseHeld;
        _onInstalled = _ => _engine?.Post(_releaseHeld);
    }

    public ushort NodeId => _self;

    /// <summary>Flows and their per-bucket counts; engine thread only.</summary>
    internal FlowTable Flows => _flows;

    /// <summary>Neighbours learned from broadcast ARP; engine thread only.</summary>
    internal NeighbourTable Neighbours => _neighbours;

    internal RouteTable Routes => _routes;

    internal int HeldPackets => _hold.Count;

    /// <summary>The reason of the most recent <see cref="Verdict.Drop"/> (for tests and diagnostics).</summary>
    internal DropReason LastDrop { get; private set; }

    /// <summary>
    /// Registers the tunnel handler and the timers (hold timeout, flow expiry, neighbour expiry) on
    /// <paramref name="engine"/>, and releases held packets there whenever <see cref="TableStore.Installed"/> fires.
    /// Call before <see cref="EpollEngine.Start"/> or on the engine thread; once per role.
    /// </summary>
    public void Attach(EpollEngine engine, PacketPort tunnel)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(tunnel);
        if (_engine is not null)
        {
            throw new InvalidOperationException("The data plane is already attached to an engine.");
        }

        engine.Register(tunnel, OnBatch);
        _engine = engine;
        _tunnel = tunnel;
        _timers =
        [
            engine.AddTimer(_options.HoldCheckPeriod, ExpireHeld),
            engine.AddTimer(_options.SweepPeriod, SweepFlows),
            engine.AddTimer(_options.NeighbourExpiryPeriod, () => _neighbours.Expire()),
        ];
        _tables.Installed += _onInstalled;
    }

    /// <summary>Stops the timers and the table subscription and returns held buffers; call after the engine stopped.</summary>
    public void Dispose()
    {
        _tables.Installed -= _onInstalled;
        foreach (var timer in _timers)
        {
            timer.Cancel();
        }

        while (_hold.TryDequeue(out var buffer, out _))
        {
            buffer.Release();
        }
    }

    /// <summary>The tunnel port's batch handler.</summary>
    internal void OnBatch(PacketBatch batch)
    {
        var started = Stopwatch.GetTimestamp();
        Prefetch(batch);
        for (var i = 0; i < batch.Count; i++)
        {
            var buffer = batch[i];
            if (buffer is null)
            {
                continue;
            }

            _counters.In(buffer.FrameLength);
            _batchIndex = i;
            var verdict = Process(buffer);
            _batchIndex = -1;
            switch (verdict)
            {
                case Verdict.Send:
                    var length = buffer.FrameLength;
                    if (batch.Send(i, _tunnel!))
                    {
                        _counters.Out(length);
                    }
                    else
                    {
                        _counters.Drop(DropReason.SendFailed);
                    }

                    break;
                case Verdict.Hold:
                    Hold(batch.Take(i)!);
                    break;
            }
        }

        _counters.BusyTicks += Stopwatch.GetTimestamp() - started;
    }

    /// <summary>
    /// Decides one datagram (header in <see cref="PacketBuffer.Frame"/>, sender in <see cref="PacketBuffer.Peer"/>):
    /// validation, table selection, then the handling of its TYPE. On <see cref="Verdict.Send"/> the buffer holds the
    /// next datagram and its peer the next hop. Never throws, never allocates.
    /// </summary>
    internal Verdict Process(PacketBuffer buffer)
    {
        var error = TunnelHeader.TryRead(buffer.Frame, out var rx);
        if (error != WireError.None)
        {
            return Drop(WireDrops.ToDropReason(error));
        }

        if (rx.IsSecure)
        {
            return Drop(DropReason.SecureInPlainMode);
        }

        if (rx.DNode != _self)
        {
            return Drop(DropReason.WrongDestinationNode);
        }

        var state = _tables.State;
        if (state.Current is null)
        {
            // Peers are not known before the first table either: validate them once it is here.
            return Verdict.Hold;
        }

        RefreshPeerAddresses(state);
        ref readonly var sender = ref _peerAddresses[rx.HNode];
        if (sender.IsEmpty)
        {
            return Drop(DropReason.UnknownPeer);
        }

        if (!buffer.Peer.IsFromTunnelPeer(sender))
        {
            return Drop(DropReason.WrongSourceAddress);
        }

        switch (rx.Type)
        {
            case TunnelType.Control:
                return AnswerProbe(buffer, rx);
            case TunnelType.Egress:
                _counters.Count(TunnelCounter.EgressReceived);
                return Drop(DropReason.UnexpectedType);
        }

        var table = state.ForEra(rx.Era);
        if (table is null)
        {
            return Verdict.Hold;
        }

        _counters.Count(ReceivedCounter(rx));
        return rx.Handoff == Handoff.Broadcast
            ? PassBroadcast(buffer, rx, table)
            : KeepOrPunt(buffer, rx, table, state.Current);
    }

    private static TunnelCounter ReceivedCounter(in TunnelHeader rx) => rx.Handoff switch
    {
        Handoff.Punt => TunnelCounter.PuntReceived,
        Handoff.Claim => TunnelCounter.ClaimReceived,
        Handoff.Broadcast => TunnelCounter.BroadcastReceived,
        Handoff.Steer => TunnelCounter.SteerReceived,
        _ => TunnelCounter.DispatchReceived,
    };

    /// <summary>The IP packet's length as the flow, the member and the rule count it: with a payload parked at its dispatcher.</summary>
    private int PacketBytes(in PacketInfo info) => info.IpPacketLength + _parkedBytes;

    private Verdict Drop(DropReason reason)
    {
        _counters.Drop(reason);
        LastDrop = reason;
        return Verdict.Drop;
    }

    private void RefreshPeerAddresses(TableState state)
    {
        if (ReferenceEquals(state, _addressesOf))
        {
            return;
        }

        // TableState built the addresses of both versions' peers once, at install.
        _peerAddresses = state.Addresses;
        _addressesOf = state;
    }

    // A CONTROL probe is answered from the same buffer, back to the address it came from.
    private Verdict AnswerProbe(PacketBuffer buffer, in TunnelHeader rx)
    {
        _counters.Count(TunnelCounter.ControlReceived);
        var error = ControlProbe.TryReadPayload(buffer.Frame, rx, out var probe);
        if (error != WireError.None)
        {
            return Drop(WireDrops.ToDropReason(error));
        }

        if (probe.Kind != ControlKind.Probe)
        {
            // This role sends no probes; a reply here is someone else's and is simply absorbed.
            return Verdict.Consumed;
        }

        var fields = new TunnelFields { Type = TunnelType.Control, DNode = rx.HNode, HNode = _self, Ttl = TunnelFields.InitialTtl };
        error = ControlProbe.TryWrite(buffer.Writable, fields, probe.ToReply(), out var length);
        if (error != WireError.None || !buffer.SetFrameLength(length))
        {
            return Drop(WireDrops.ToDropReason(error));
        }

        _counters.Count(TunnelCounter.ControlSent);
        return Verdict.Send;
    }

    private void Hold(PacketBuffer buffer)
    {
        if (!_hold.TryEnqueue(buffer, _time.GetTimestamp()))
        {
            Drop(DropReason.HoldQueueFull);
            buffer.Release();
        }
    }

    /// <summary>Re-runs every held packet after a table was installed; those still without a table keep waiting.</summary>
    internal void ReleaseHeld()
    {
        var now = _time.GetTimestamp();
        for (var n = _hold.Count; n > 0 && _hold.TryDequeue(out var buffer, out var heldAt); n--)
        {
            if (now - heldAt >= _holdTicks)
            {
                Drop(DropReason.HoldTimeout);
                buffer.Release();
                continue;
            }

            switch (Process(buffer))
            {
                case Verdict.Send:
                    var length = buffer.FrameLength;
                    if (_engine is not null && _engine.Send(_tunnel!, buffer))
                    {
                        _counters.Out(length);
                    }
                    else
                    {
                        _counters.Drop(DropReason.SendFailed);
                        buffer.Release();
                    }

                    break;
                case Verdict.Hold:
                    _hold.TryEnqueue(buffer, heldAt);
                    break;
                default:
                    buffer.Release();
                    break;
            }
        }
    }

    /// <summary>Drops held packets that waited longer than the hold limit (timer).</summary>
    internal void ExpireHeld()
    {
        var cutoff = _time.GetTimestamp() - _holdTicks;
        while (_hold.OldestHeldBy(cutoff) && _hold.TryDequeue(out var buffer, out _))
        {
            Drop(DropReason.HoldTimeout);
            buffer.Release();
        }
    }

    /// <summary>One incremental step of flow expiry (timer).</summary>
    internal void SweepFlows()
    {
        var expired = _flows.Sweep(_time.GetTimestamp(), _options.SweepSlotsPerTick);
        _counters.FlowsExpired += expired;
        _counters.FlowsActive = _flows.Count;
    }

    internal IReadOnlyList<FlowInfo> CollectFlows(int limit)
    {
        var list = new List<FlowInfo>(Math.Min(_flows.Count, limit));
        var now = _time.GetTimestamp();
        var wallNow = _time.GetUtcNow();
        for (var slot = 0; slot < _flows.Capacity && list.Count < limit; slot++)
        {
            ref readonly var e = ref _flows[slot];
            if (!e.Used || e.IsAlias)
            {
                continue;
            }

            var key = e.Key;
            var lowerIsSource = e.OriginIsForward;
            var lower = Endpoint(key, key.LowerAddress, key.LowerPort);
            var higher = Endpoint(key, key.HigherAddress, key.HigherPort);
            list.Add(new FlowInfo(
                ProtocolName(key.Protocol),
                lowerIsSource ? lower : higher,
                lowerIsSource ? higher : lower,
                e.Bucket,
                key.Protocol == PacketConstants.ProtocolTcp ? e.Tcp.State.ToString().ToLowerInvariant() : "active",
                e.PacketsOriginal,
                e.BytesOriginal,
                e.PacketsReply,
                e.BytesReply,
                wallNow - _time.GetElapsedTime(e.Created, now),
                wallNow - _time.GetElapsedTime(e.LastSeen, now),
                key.Protocol == PacketConstants.ProtocolTcp && e.Tcp.State is Services.Conntrack.TcpState.Closed or Services.Conntrack.TcpState.TimeWait,
                _self,
                _engineSlot.Index));
        }

        return list;
    }

    internal BucketFlowCounts CollectBucketCounts()
    {
        var current = _tables.State.Current;
        var counts = new int[current?.BucketCount ?? 0];
        _flows.CopyBucketCounts(counts);
        return new BucketFlowCounts(_self, current?.Version ?? 0, counts);
    }

    private Task<T> OnEngineAsync<T>(Func<T> work)
    {
        if (_engine is null || _engine.IsEngineThread)
        {
            return Task.FromResult(work());
        }

        var result = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _engine.Post(() =>
        {
            try
            {
                result.SetResult(work());
            }
#pragma warning disable CA1031 // The caller awaits the failure; the engine loop must not see it.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                result.SetException(ex);
            }
        });
        return result.Task;
    }

    private static string Endpoint(in FlowKey key, IpAddr address, ushort port) => key.Kind switch
    {
        FlowKeyKind.Ports when address.IsV6 => $"[{address}]:{port}",
        FlowKeyKind.Ports => $"{address}:{port}",
        _ => address.ToString(),
    };

    internal static string ProtocolName(byte protocol) => protocol switch
    {
        PacketConstants.ProtocolTcp => "tcp",
        PacketConstants.ProtocolUdp => "udp",
        PacketConstants.ProtocolSctp => "sctp",
        PacketConstants.ProtocolIcmp => "icmp",
        PacketConstants.ProtocolIcmpv6 => "icmpv6",
        _ => protocol.ToString(CultureInfo.InvariantCulture),
    };
}
