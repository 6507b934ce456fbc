using System.Buffers.Binary;
using System.Net.Sockets;
using Dva.Node.Agent;
using Dva.Node.Config;
using Dva.Node.Engine;
using Dva.Node.Io;
using Dva.Node.Shortcut;
using Dva.Node.Routing;
using Dva.Shared.Flows;
using Dva.Shared.Packets;
using Dva.Shared.Tables;
using Dva.Shared.Wire;

namespace Dva.Node.Dispatcher;

/// <summary>
/// The dispatcher (DESIGN.md §1, §7): faces the outside network on its shared interfaces, answers ARP for
/// the shared IPs, hashes every IP frame's flow to a bucket of the current table and sends it encapsulated
/// to the bucket's owner, passes broadcast/multicast down the broadcast chain, and transmits EGRESS frames
/// from data planes with the shared MAC (resolving the destination MAC when asked). It keeps no per-flow
/// state: a table change is one reference read per batch.
/// </summary>
/// <remarks>
/// Everything of one role runs on its engine thread: the resolve queue and the peer address cache are touched only
/// there, so neither takes a lock. A node may run N roles, one per engine (<see cref="CreateGroup"/>): their
/// <c>afpacket:</c> sources share each interface's frames by PACKET_FANOUT and their tunnel sockets the data planes'
/// datagrams by source port; the roles share the neighbour table (with a lock) and hand an address learned on one
/// engine to the others' resolve queues. An IPv4 frame without DF that would not fit the tunnel MTU once encapsulated
/// travels in a tunnel datagram whose outer packet is fragmented (<see cref="TunnelCounter.OversizeCarried"/>); IPv4
/// with DF and IPv6 get ICMP too-big.
/// </remarks>
internal sealed class DispatcherRole
{
    /// <summary>Frames queued per unresolved address (RESOLVE), then <see cref="DropReason.ResolveQueueFull"/>.</summary>
    public const int MaxPendingPerAddress = 32;

    /// <summary>Addresses being resolved at once; a flood of unknown destinations cannot hold every buffer.</summary>
    public const int MaxPendingAddresses = 256;

    /// <summary>How long a frame waits for its neighbour before <see cref="DropReason.NeighbourUnresolved"/>.</summary>
    public static readonly TimeSpan PendingLifetime = TimeSpan.FromSeconds(1);

    private static readonly TimeSpan s_pendingSweep = TimeSpan.FromMilliseconds(100);

    /// <summary>How often the shared interfaces' MTUs are read again (egress fragmentation follows an MTU change).</summary>
    private static readonly TimeSpan s_mtuRefresh = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan s_arpRetry = TimeSpan.FromMilliseconds(300);
    private static readonly TimeSpan s_neighbourSweep = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan s_parkSweep = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan s_advertiseTick = TimeSpan.FromSeconds(1);

    /// <summary>Unsolicited router advertisements after the first ones: every 200–600 s (RFC 4861 §6.2.1's defaults).</summary>
    public static readonly TimeSpan MinAdvertInterval = TimeSpan.FromSeconds(200);

    public static readonly TimeSpan MaxAdvertInterval = TimeSpan.FromSeconds(600);

    /// <summary>The first unsolicited advertisements come this often (at most 16 s, RFC 4861 §6.2.4).</summary>
    public static readonly TimeSpan InitialAdvertInterval = TimeSpan.FromSeconds(4);

    /// <summary>How many of them (MAX_INITIAL_RTR_ADVERTISEMENTS).</summary>
    public const int InitialAdverts = 3;

    /// <summary>At most one advertisement per interface this often (MIN_DELAY_BETWEEN_RAS); a solicitation waits for it.</summary>
    public static readonly TimeSpan MinDelayBetweenAdverts = TimeSpan.FromSeconds(3);

    /// <summary>How long a parked payload waits for its headers to come back before it is let go (<c>parkPayloads</c>).</summary>
    public static readonly TimeSpan ParkLifetime = TimeSpan.FromMilliseconds(500);

    /// <summary>The smallest TCP payload worth parking: below it the headers' own buffer costs about what the payload's copies would.</summary>
    public const int MinParkedPayload = 1024;

    private const int MacLength = 6;
    private const int EtherTypeOffset = 12;
    private const int VlanTciOffset = 14;
    private const int Ipv4FlagsOffset = 6;
    private const byte Ipv4DontFragment = 0x40;
    private const int ArpRequestOperation = 1;

    private readonly NodeSettings _settings;
    private readonly TableStore _tables;
    private readonly TimeProvider _time;

    /// <summary>The ICMP errors this role (one engine) sends, limited as a router's are.</summary>
    private readonly IcmpRateLimiter _icmpLimit;
    private readonly ushort _self;
    private readonly SharedPort?[] _ports = new SharedPort?[256];
    private readonly RouteTable _routes;
    private readonly NeighbourTable _neighbours;
    private readonly Dictionary<(byte Ifid, IpAddr Address), Pending> _pending = [];
    private readonly Stack<Pending> _pendingPool = new();
    private readonly List<(byte Ifid, IpAddr Address)> _expired = [];
    private readonly ParkingLot? _parking;
    private DispatcherShortcuts? _shortcuts;

    private EpollEngine? _engine;
    private PacketPort? _tunnel;
    private DispatcherRole[] _group;
    private readonly int _engineIndex;

    // _pending.Count as this role's engine last left it; the other engines read it to know whether an address they
    // learned may release frames queued here.
    private volatile int _pendingHint;

    public DispatcherRole(NodeSettings settings, TableStore tables, NodeCounters counters, TimeProvider time)
        : this(settings, tables, counters, time, new NeighbourTable(time, NeighbourTable.DefaultLifetime), settings?.ParkPayloads == true ? new ParkingLot() : null, 0)
    {
    }

    private DispatcherRole(NodeSettings settings, TableStore tables, NodeCounters counters, TimeProvider time, NeighbourTable neighbours, ParkingLot? parking,
        int engineIndex)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(tables);
        ArgumentNullException.ThrowIfNull(counters);
        ArgumentNullException.ThrowIfNull(time);
        _settings = settings;
        _tables = tables;
        _time = time;
        _icmpLimit = new IcmpRateLimiter(time);
        _self = settings.NodeId;
        Counters = counters.CreateBlock();
        _routes = new RouteTable(settings.Interfaces, settings.Routes);
        _neighbours = neighbours;
        _engineIndex = engineIndex;
        _group = [this];
        _parking = parking;

        // Outer IP + UDP + the DISPATCH header (no nid list) in front of an untagged frame, plus SEQ and TAG in secure mode.
        var outerIp = settings.TunnelListen.AddressFamily == AddressFamily.InterNetworkV6 ? PacketConstants.Ipv6HeaderLength : PacketConstants.Ipv4MinHeaderLength;
        Overhead = outerIp + PacketConstants.UdpHeaderLength + TunnelLayout.HeaderLength(TunnelFlags.None, 0) + settings.Security.Overhead;
        MaxInnerFrame = settings.TunnelMtu - Overhead;
        MaxInnerIpPacket = MaxInnerFrame - PacketConstants.EthernetHeaderLength;
    }

    public CounterBlock Counters { get; }

    /// <summary>The roles of every engine of this node, in engine order (this one alone on a one-engine node).</summary>
    internal IReadOnlyList<DispatcherRole> Group => _group;

    /// <summary>
    /// One role per engine of a dispatcher node, sharing one neighbour table; attach role i to engine i, socket i of
    /// the tunnel group and frame sources of the engine's own that joined each interface's PACKET_FANOUT group.
    /// </summary>
    internal static DispatcherRole[] CreateGroup(NodeSettings settings, TableStore tables, NodeCounters counters, TimeProvider time, int engines)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(engines, 1);
        ArgumentNullException.ThrowIfNull(time);
        var neighbours = new NeighbourTable(time, NeighbourTable.DefaultLifetime, shared: engines > 1);
        var parking = settings.ParkPayloads ? new ParkingLot() : null;
        var roles = new DispatcherRole[engines];
        for (var i = 0; i < engines; i++)
        {
            roles[i] = new DispatcherRole(settings, tables, counters, time, neighbours, parking, i);
        }

        foreach (var role in roles)
        {
            role._group = roles;
        }

        return roles;
    }

    /// <summary>Bytes the tunnel adds to an inner frame: outer IP, UDP and the DISPATCH header (and SEQ and TAG in secure mode).</summary>
    public int Overhead { get; }

    /// <summary>Largest inner Ethernet frame (untagged) whose encapsulation fits the tunnel MTU.</summary>
    public int MaxInnerFrame { get; }

    /// <summary>Largest inner IP packet that fits: the next-hop MTU reported in ICMP too-big answers.</summary>
    public int MaxInnerIpPacket { get; }

    /// <summary>The MSS a TCP SYN is clamped to so its segments fit the tunnel MTU once encapsulated.</summary>
    public ushort MaxSegmentSize(byte ipVersion) =>
        (ushort)(MaxInnerIpPacket - (ipVersion == 6 ? PacketConstants.Ipv6HeaderLength : PacketConstants.Ipv4MinHeaderLength) - PacketConstants.TcpMinHeaderLength);

    /// <summary>
    /// The node's kernel shortcut (<c>shortcuts</c>), shared by every engine's role: offers in final EGRESS frames are
    /// taken into it. Before <see cref="Attach"/>.
    /// </summary>
    internal void UseShortcuts(DispatcherShortcuts shortcuts) => _shortcuts = shortcuts;

    /// <summary>
    /// Registers the tunnel socket and every shared interface's frame source (keyed by IFID) with
    /// <paramref name="engine"/>, and the resolve and neighbour timers. Before the engine starts.
    /// </summary>
    public void Attach(EpollEngine engine, PacketPort tunnel, IReadOnlyDictionary<byte, PacketPort> frameSources)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(tunnel);
        ArgumentNullException.ThrowIfNull(frameSources);
        if (_engine is not null)
        {
            throw new InvalidOperationException("the dispatcher is already attached to an engine");
        }

        foreach (var shared in _settings.Interfaces)
        {
            if (!frameSources.TryGetValue(shared.Ifid, out var source))
            {
                throw new ArgumentException($"no frame source for shared interface {shared.Ifid} ({shared.Name})", nameof(frameSources));
            }

            _ports[shared.Ifid] = new SharedPort(shared, source);
        }

        _engine = engine;
        _tunnel = tunnel;
        PacketHandler egress = HandleEgress;
        PacketHandler frames = HandleFrame;
        engine.Register(tunnel, batch => OnBatch(null, batch, egress));
        foreach (var port in _ports)
        {
            if (port is not null)
            {
                engine.Register(port.Source, batch => OnBatch(port, batch, frames));
            }
        }

        engine.AddTimer(s_pendingSweep, SweepPending);
        engine.AddTimer(s_mtuRefresh, RefreshMtus);
        if (_engineIndex == 0 && _ports.Any(p => p is { Advertises: true }))
        {
            // Unsolicited advertisements once per interface for the node; solicited ones from the engine that got the solicitation.
            engine.AddTimer(s_advertiseTick, AdvertiseDue);
        }

        if (_parking is not null && _engineIndex == 0)
        {
            // One sweep for the group's shared lot.
            engine.AddTimer(s_parkSweep, SweepParked);
        }
        if (_engineIndex == 0)
        {
            // One sweep for the group's shared table.
            engine.AddTimer(s_neighbourSweep, () => _neighbours.Expire());
        }
    }

    /// <summary>The neighbour table as the engine sees it now (IFID, address, MAC hex, VLAN id).</summary>
    public Task<IReadOnlyList<(byte Ifid, IpAddr Address, string Mac, ushort Vlan)>> SnapshotNeighboursAsync()
    {
        var engine = _engine ?? throw new InvalidOperationException("the dispatcher is not attached");
        var done = new TaskCompletionSource<IReadOnlyList<(byte, IpAddr, string, ushort)>>(TaskCreationOptions.RunContinuationsAsynchronously);
        engine.Post(() => done.SetResult(_neighbours.Snapshot()));
        return done.Task;
    }

    // ---- outside → DVA -------------------------------------------------------------------------------

    /// <summary>One packet of a batch: null when it was sent or queued, else the reason it is dropped.</summary>
    private delegate DropReason? PacketHandler(SharedPort? port, PacketBatch batch, int index, PacketBuffer buffer, TableState state, PacketAddress[] addresses);

    /// <summary>The batch loop of both directions: one table read per batch, every packet counted in, every drop counted.</summary>
    private void OnBatch(SharedPort? port, PacketBatch batch, PacketHandler handler)
    {
        var state = _tables.State;
        var addresses = AddressesFor(state);
        for (var i = 0; i < batch.Count; i++)
        {
            var buffer = batch[i];
            if (buffer is null)
            {
                continue;
            }

            Counters.In(buffer.FrameLength);
            if (handler(port, batch, i, buffer, state, addresses) is { } drop)
            {
                Counters.Drop(drop);
            }
        }
    }

    private DropReason? HandleFrame(SharedPort? sharedPort, PacketBatch batch, int index, PacketBuffer buffer, TableState state, PacketAddress[] addresses)
    {
        var port = sharedPort!;
        var frame = buffer.Frame;
        if (frame.Length < PacketConstants.EthernetHeaderLength)
        {
            return DropReason.MalformedFrame;
        }

        var group = (frame[0] & 1) != 0;
        if (!group && !buffer.Offload.IsPresent && FlowKey.TryFromFrame(frame, out var fastKey, out _, out var tcpFlags) && (tcpFlags & TcpFlags.Syn) == 0
            && frame.Length - TaggedExtra(frame) <= MaxInnerFrame && frame[..MacLength].SequenceEqual(port.Mac))
        {
            // The commonest frame (TCP/UDP over IPv4 or IPv6 to the shared MAC, not a SYN whose MSS may need clamping, not
            // too big for the tunnel, no offload to check against its headers) needs only its flow key: no full parse.
            return DispatchKey(port, batch, index, buffer, fastKey, state, addresses);
        }

        var parsed = PacketParser.TryParse(frame, out var info);
        var neighbourDiscovery = parsed == ParseError.None && NeighbourDiscovery.Is(info);
        if (parsed == ParseError.None && info.IsArp)
        {
            OnArp(port, frame, info);
        }
        else if (neighbourDiscovery)
        {
            OnNeighbourDiscovery(port, frame, info);
        }
        else if (port.Advertises && parsed == ParseError.None && RouterAdvertisement.IsSolicitation(info))
        {
            OnRouterSolicitation(port, info);
        }

        if (group)
        {
            return Broadcast(port, batch, index, buffer, state, addresses);
        }

        if (!frame[..MacLength].SequenceEqual(port.Mac))
        {
            return DropReason.NotForSharedMac;
        }

        if (parsed != ParseError.None)
        {
            return parsed == ParseError.StackedVlanUnsupported ? DropReason.UnsupportedEtherType : DropReason.MalformedFrame;
        }

        if (info.IsArp || neighbourDiscovery)
        {
            // A unicast ARP or neighbour advertisement (a reply to our request, a refresh) also teaches the data planes.
            return Broadcast(port, batch, index, buffer, state, addresses);
        }

        return info.IsIp ? Dispatch(port, batch, index, buffer, info, state, addresses) : DropReason.UnsupportedEtherType;
    }

    private void OnArp(SharedPort port, ReadOnlySpan<byte> frame, in PacketInfo info)
    {
        if (info.ArpSenderIp != 0)
        {
            var sender = IpAddr.FromV4(info.ArpSenderIp);
            var mac = frame.Slice(info.ArpSenderMacOffset, MacLength);
            _neighbours.Learn(port.Ifid, sender, mac, info.VlanTci);
            ReleasePending(port, sender, mac, info.VlanTci);
            if (_group.Length > 1)
            {
                ReleaseOnOtherEngines(port.Ifid, sender, mac, info.VlanTci);
            }
        }

        if (info.ArpOperation != ArpRequestOperation || !port.OwnsIpv4(info.ArpTargetIp, info.VlanId) || !_engine!.Pool.TryRent(out var reply))
        {
            return;
        }

        var length = PacketBuilder.ArpReply(reply.Writable, frame, info, port.Mac);
        if (length == 0 || !reply.SetFrameLength(length))
        {
            reply.Release();
            return;
        }

        Transmit(port, reply);
    }

    /// <summary>
    /// IPv6's ARP (RFC 4861): a solicitation or an advertisement teaches who is at which MAC (and releases what waited
    /// for it, as an ARP reply does), and a solicitation for a shared address is answered with the shared MAC.
    /// </summary>
    private void OnNeighbourDiscovery(SharedPort port, ReadOnlySpan<byte> frame, in PacketInfo info)
    {
        if (NeighbourDiscovery.TryReadNeighbour(frame, info, out var neighbour, out var mac))
        {
            _neighbours.Learn(port.Ifid, neighbour, mac, info.VlanTci);
            ReleasePending(port, neighbour, mac, info.VlanTci);
            if (_group.Length > 1)
            {
                ReleaseOnOtherEngines(port.Ifid, neighbour, mac, info.VlanTci);
            }
        }

        if (!NeighbourDiscovery.TryReadSolicitedTarget(frame, info, out var target) || !port.OwnsIpv6(target.Value, info.VlanId)
            || !_engine!.Pool.TryRent(out var advertisement))
        {
            return;
        }

        var length = NeighbourDiscovery.WriteAdvertisement(advertisement.Writable, frame, info, target.Value, port.Mac);
        if (length == 0 || !advertisement.SetFrameLength(length))
        {
            advertisement.Release();
            return;
        }

        Transmit(port, advertisement);
    }

    /// <summary>
    /// PACKET_FANOUT hands an ARP reply to one engine, but the frames that wait for it may be queued on another (the
    /// RESOLVE came in on its tunnel socket): each engine with a queue releases what waits for the address on its own
    /// thread. An engine that queues just after this read finds the address at its next sweep (<see cref="SweepPending"/>).
    /// </summary>
    /// <summary>
    /// A host asks for routers (RFC 4861 §6.2.6): it gets an advertisement now, on the solicitation's VLAN, unless this
    /// interface advertised in the last <see cref="MinDelayBetweenAdverts"/>; then the next one (on every VLAN) is moved up
    /// to that delay's end.
    /// </summary>
    private void OnRouterSolicitation(SharedPort port, in PacketInfo info)
    {
        var now = _time.GetTimestamp();
        var since = _time.GetElapsedTime(port.LastAdvert, now);
        if (port.LastAdvert != 0 && since < MinDelayBetweenAdverts)
        {
            port.NextAdvert = Math.Min(port.NextAdvert, port.LastAdvert + Ticks(MinDelayBetweenAdverts));
            return;
        }

        Advertise(port, info.HasVlan ? info.VlanTci : null);
        port.LastAdvert = now;
    }

    /// <summary>Sends every advertising interface's due unsolicited advertisement, untagged and on each of its VLANs.</summary>
    private void AdvertiseDue()
    {
        var now = _time.GetTimestamp();
        foreach (var port in _ports)
        {
            if (port is not { Advertises: true } || now < port.NextAdvert)
            {
                continue;
            }

            AdvertiseOnEveryVlan(port, RouterAdvertisement.DefaultRouterLifetime);
            port.LastAdvert = now;
            var interval = port.InitialAdvertsLeft > 1
                ? InitialAdvertInterval
                : MinAdvertInterval + ((MaxAdvertInterval - MinAdvertInterval) * Random.Shared.NextDouble());
            port.InitialAdvertsLeft = Math.Max(0, port.InitialAdvertsLeft - 1);
            port.NextAdvert = now + Ticks(interval);
        }
    }

    /// <summary>
    /// Before the node stops (any thread; runs on the engine): a final advertisement with router lifetime 0 on every
    /// advertising interface and VLAN, so hosts drop the DVA as their default router at once instead of after up to 30
    /// minutes (RFC 4861 §6.2.5), and the parked payloads are let go. Completes when the engine has queued them; the
    /// engine's stop sends what is queued. A role that never started completes at once.
    /// </summary>
    public Task RetireAsync()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (_engine is null)
        {
            done.SetResult();
            return done.Task;
        }

        _engine.Post(() =>
        {
            if (_engineIndex == 0)
            {
                foreach (var port in _ports)
                {
                    if (port is { Advertises: true })
                    {
                        AdvertiseOnEveryVlan(port, routerLifetime: 0);
                    }
                }

                Counters.Tunnel[(int)TunnelCounter.ParkExpired] += _parking?.ReleaseParkedBefore(long.MaxValue) ?? 0;
            }

            done.SetResult();
        });
        return done.Task;
    }

    /// <summary>An advertisement untagged and one on each of the interface's VLANs.</summary>
    private void AdvertiseOnEveryVlan(SharedPort port, ushort routerLifetime)
    {
        Advertise(port, null, routerLifetime);
        foreach (var vlan in port.Vlans)
        {
            Advertise(port, vlan, routerLifetime);
        }
    }

    private void Advertise(SharedPort port, ushort? vlanTci, ushort routerLifetime = RouterAdvertisement.DefaultRouterLifetime)
    {
        // A link without IPv6 (a sub-interface with IPv4 addresses only) gets no advertisement.
        var prefixes = port.PrefixesFor((ushort)((vlanTci ?? 0) & 0x0FFF));
        if (prefixes.Length == 0)
        {
            return;
        }

        if (!_engine!.Pool.TryRent(out var advertisement))
        {
            Counters.Drop(DropReason.NoBuffer);
            return;
        }

        var mtu = port.Source is FrameSource { Mtu: int linkMtu } ? (uint)linkMtu : 0;
        var length = RouterAdvertisement.Write(advertisement.Writable, port.Mac, prefixes, routerLifetime, mtu, vlanTci, port.HostConfiguration);
        if (length == 0 || !advertisement.SetFrameLength(length))
        {
            advertisement.Release();
            return;
        }

        Counters.Count(TunnelCounter.RouterAdvertisementSent);
        Transmit(port, advertisement);
    }

    private long Ticks(TimeSpan span) => (long)(span.TotalSeconds * _time.TimestampFrequency);

    private void ReleaseOnOtherEngines(byte ifid, IpAddr address, ReadOnlySpan<byte> mac, ushort tci)
    {
        byte[]? copy = null;
        foreach (var other in _group)
        {
            if (other != this && other._pendingHint > 0 && other._engine is { } engine)
            {
                copy ??= mac.ToArray();
                var learned = copy;
                engine.Post(() => other.ReleaseLearned(ifid, address, learned, tci));
            }
        }
    }

    private void ReleaseLearned(byte ifid, IpAddr address, byte[] mac, ushort tci)
    {
        if (_ports[ifid] is { } port)
        {
            ReleasePending(port, address, mac, tci);
        }
    }

    private DropReason? Broadcast(SharedPort port, PacketBatch batch, int index, PacketBuffer buffer, TableState state, PacketAddress[] addresses)
    {
        var table = state.Current;
        if (table is null || table.Chain.IsEmpty)
        {
            return DropReason.NoTable;
        }

        var first = table.Chain[0];
        if (addresses[first].IsEmpty)
        {
            return DropReason.NoOwner;
        }

        if (buffer.FrameLength - TaggedExtra(buffer.Frame) > MaxInnerFrame)
        {
            return DropReason.Oversize;
        }

        if (buffer.Offload.IsPresent && FinishInSoftware(buffer) is { } offloadDrop)
        {
            return offloadDrop;
        }

        var tci = StripVlan(buffer);
        var fields = FromOutside(first, table, port.Ifid, tci) with { Type = TunnelType.Handoff, Handoff = Handoff.Broadcast, Trr = true };
        return SendTunnel(batch, index, buffer, fields, addresses[first], TunnelCounter.BroadcastSent);
    }

    private DropReason? Dispatch(SharedPort port, PacketBatch batch, int index, PacketBuffer buffer, in PacketInfo info, TableState state, PacketAddress[] addresses)
    {
        var table = state.Current;
        if (table is null)
        {
            return DropReason.NoTable;
        }

        if (!FlowKey.TryFrom(info, out var key, out _))
        {
            return DropReason.MalformedFrame;
        }

        var hash = FlowHasher.Hash(key, table.Seed);
        var owner = table.OwnerOf(FlowHasher.Bucket(hash, table.BucketCount));
        if (owner == 0 || addresses[owner].IsEmpty)
        {
            return DropReason.NoOwner;
        }

        var frame = buffer.Frame;
        var offload = buffer.Offload;
        PacketBuffer? secondPart = null;
        if (offload.IsPresent)
        {
            if (!FrameOffload.Fits(offload, info) || !FrameOffload.ChecksumWhereParsed(buffer, info))
            {
                return DropReason.OffloadMismatch;
            }

            if (_parking is not null && offload.GsoType is GsoType.TcpV4 or GsoType.TcpV6
                && TryDispatchParked(port, batch, index, buffer, info, hash, owner, table, addresses[owner]))
            {
                return null;
            }

            // A super-frame is segmented by the egress kernel at the sender's MSS: it was never too big for the path, only
            // perhaps for one datagram, and then it travels as two super-frames.
            if (offload.IsGso && frame.Length - TaggedExtra(frame) > MaxInnerFrame - TunnelOffload.Length)
            {
                if (!TrySplit(buffer, info, offload, out secondPart))
                {
                    return DropReason.SuperFrameTooLarge;
                }

                frame = buffer.Frame;
            }
        }

        if (frame.Length - TaggedExtra(frame) > MaxInnerFrame - (offload.IsPresent ? TunnelOffload.Length : 0))
        {
            if (!MayCarryOversize(frame, info))
            {
                return TooBig(port, frame, info);
            }

            Counters.Count(TunnelCounter.OversizeCarried);
        }

        if (info.Protocol == PacketConstants.ProtocolTcp && (info.TcpFlags & TcpFlags.Syn) != 0)
        {
            _ = PacketRewriter.ClampMss(frame, info, MaxSegmentSize(info.IpVersion), out _, offload.NeedsChecksum);
        }

        return SendDispatch(port, batch, index, buffer, hash, owner, table, addresses, secondPart);
    }

    // A frame whose key was read without a full parse (HandleFrame checked its size and that it is no SYN).
    private DropReason? DispatchKey(SharedPort port, PacketBatch batch, int index, PacketBuffer buffer, in FlowKey key, TableState state, PacketAddress[] addresses)
    {
        var table = state.Current;
        if (table is null)
        {
            return DropReason.NoTable;
        }

        var hash = FlowHasher.Hash(key, table.Seed);
        var owner = table.OwnerOf(FlowHasher.Bucket(hash, table.BucketCount));
        return owner == 0 || addresses[owner].IsEmpty ? DropReason.NoOwner : SendDispatch(port, batch, index, buffer, hash, owner, table, addresses);
    }

    /// <summary>Sends a frame as DISPATCH with its offload (if any), and after it <paramref name="secondPart"/> of a split super-frame.</summary>
    private DropReason? SendDispatch(SharedPort port, PacketBatch batch, int index, PacketBuffer buffer, ulong hash, ushort owner, TableVersion table,
        PacketAddress[] addresses, PacketBuffer? secondPart = null)
    {
        var offload = buffer.Offload;
        var tci = StripVlan(buffer);
        buffer.SourcePort = TunnelLayout.UdpSourcePort(hash);
        var fields = FromOutside(owner, table, port.Ifid, tci) with { Offload = offload };
        if (offload.IsGso)
        {
            Counters.Count(TunnelCounter.SuperFrameDispatched);
        }

        var drop = SendTunnel(batch, index, buffer, fields, addresses[owner], TunnelCounter.DispatchSent);
        if (secondPart is not null)
        {
            // After the first part, on the same socket: the two reach the owner in order.
            SendSecondPart(secondPart, fields, addresses[owner], buffer.SourcePort);
        }

        return drop;
    }

    /// <summary>
    /// <c>parkPayloads</c>: a TCP super-frame's payload stays here, in the buffer it was received into, and only its
    /// headers go to the data plane, in a buffer of their own with the IP length cut to them and a PARK word naming the
    /// payload (docs/node.md "Parked payloads"). False, with nothing changed, when the payload is too short to be worth
    /// it or no slot or buffer is free (counted <see cref="TunnelCounter.ParkFull"/>): the frame then travels whole.
    /// </summary>
    private bool TryDispatchParked(SharedPort port, PacketBatch batch, int index, PacketBuffer buffer, in PacketInfo info, ulong hash, ushort owner,
        TableVersion table, PacketAddress to)
    {
        var frame = buffer.Frame;
        var headers = info.L4Offset + info.TcpHeaderLength;
        var payload = info.L3Offset + info.IpPacketLength - headers;
        if (payload is < MinParkedPayload or > ushort.MaxValue)
        {
            return false;
        }

        if (!_engine!.Pool.TryRent(out var head))
        {
            Counters.Count(TunnelCounter.ParkFull);
            return false;
        }

        // The slot is taken before the buffer leaves the batch: the lot is shared by the engines, so a free slot seen
        // a moment ago may be gone.
        var sequence = FrameOffload.TcpSequence(frame, info);
        if (!head.TrySetFrame(frame[..headers]) || !_parking!.TryPark(buffer, headers, (ushort)payload, sequence, _time.GetTimestamp(), out var ticket))
        {
            head.Release();
            Counters.Count(TunnelCounter.ParkFull);
            return false;
        }

        if (batch.Take(index) is null)
        {
            // Still the batch's: out of the lot again, not released.
            _ = _parking.TryTake(ticket, sequence, (ushort)payload, out _);
            head.Release();
            return false;
        }

        FrameOffload.AdjustIpLength(head.Frame, info, -payload);
        var fields = FromOutside(owner, table, port.Ifid, StripVlan(head)) with
        {
            Offload = buffer.Offload,
            Park = new TunnelPark(ticket, (ushort)payload),
        };
        if (SendOwnedDispatch(head, fields, to, TunnelLayout.UdpSourcePort(hash), DropReason.NoBuffer))
        {
            Counters.Count(TunnelCounter.SuperFrameDispatched);
            Counters.Count(TunnelCounter.PayloadParked);
        }
        else
        {
            _parking.TryTake(ticket, sequence, (ushort)payload, out _)?.Release();
        }

        return true;
    }

    /// <summary>
    /// An EGRESS with a PARK word: the headers the data planes sent back go in front of the payload parked here, whose
    /// buffer takes the datagram's place in <paramref name="batch"/> as the frame to transmit, with its IP length whole
    /// again. The ticket must name a payload still held, parked with the headers' TCP sequence number and the word's
    /// length (else <see cref="DropReason.ParkedPayloadGone"/>).
    /// </summary>
    private DropReason? JoinParked(PacketBatch batch, int index, PacketBuffer datagram, in TunnelHeader header, out PacketBuffer joined)
    {
        joined = datagram;
        var returned = datagram.Frame.Slice(header.InnerOffset, header.InnerLength);
        if (PacketParser.TryParse(returned, out var info) != ParseError.None || !info.IsIp || info.Protocol != PacketConstants.ProtocolTcp
            || info.L4Offset + info.TcpHeaderLength != returned.Length)
        {
            return DropReason.MalformedFrame;
        }

        var payloadStart = 0;
        var parked = _parking?.TryTake(header.Park.Ticket, FrameOffload.TcpSequence(returned, info), header.Park.PayloadLength, out payloadStart);
        if (parked is null)
        {
            return DropReason.ParkedPayloadGone;
        }

        if (!parked.TrySetFrameAt(payloadStart - returned.Length, returned.Length + header.Park.PayloadLength))
        {
            // Headers longer than the payload's offset plus the buffer's headroom: no IP or TCP header grows that much.
            parked.Release();
            return DropReason.NoBuffer;
        }

        returned.CopyTo(parked.Frame);
        FrameOffload.AdjustIpLength(parked.Frame, info, header.Park.PayloadLength);
        parked.Peer = datagram.Peer;
        _ = batch.Replace(index, parked);
        joined = parked;
        Counters.Count(TunnelCounter.PayloadJoined);
        return null;
    }

    private void SweepParked()
    {
        if (_parking!.Count == 0)
        {
            return;
        }

        Counters.Tunnel[(int)TunnelCounter.ParkExpired] +=
            _parking.ReleaseParkedBefore(_time.GetTimestamp() - (long)(ParkLifetime.TotalSeconds * _time.TimestampFrequency));
    }

    /// <summary>
    /// IPv4 without DF too big for the tunnel MTU: a router may fragment it, so it travels whole in one tunnel datagram
    /// whose outer packet is fragmented on the way (by the kernel on the bound socket, by <see cref="FlowPortSender"/>
    /// with per-flow source ports) and reassembled by the receiving node's kernel. Fragmenting the inner packet instead
    /// would hash its fragments to another bucket than its flow (DESIGN.md §3). It still has to fit one datagram.
    /// </summary>
    private bool MayCarryOversize(ReadOnlySpan<byte> frame, in PacketInfo info) =>
        info.IpVersion == 4 && (frame[info.L3Offset + Ipv4FlagsOffset] & Ipv4DontFragment) == 0
        && frame.Length + Overhead + TunnelOffload.Length <= ushort.MaxValue;

    /// <summary>
    /// A frame too big for the tunnel that may not be carried fragmented (<see cref="MayCarryOversize"/>): IPv4 with DF
    /// and IPv6 get an ICMP too-big answer from the shared address (path MTU discovery then shrinks the sender's
    /// packets); without a shared address of its IP version on the interface it is dropped.
    /// </summary>
    private DropReason TooBig(SharedPort port, ReadOnlySpan<byte> frame, in PacketInfo info)
    {
        var mayAnswer = info.IpVersion == 6 || (frame[info.L3Offset + Ipv4FlagsOffset] & Ipv4DontFragment) != 0;
        if (!mayAnswer || !_routes.TryGetLocalAddress(port.Ifid, info.IpVersion, info.VlanId, out var source))
        {
            return DropReason.Oversize;
        }

        if (!_icmpLimit.TryTake())
        {
            Counters.Count(TunnelCounter.IcmpRateLimited);
            return DropReason.Oversize;
        }

        if (!_engine!.Pool.TryRent(out var answer))
        {
            return DropReason.NoBuffer;
        }

        var length = info.IpVersion == 4
            ? PacketBuilder.Icmpv4DestinationUnreachable(answer.Writable, frame, info, 4, (ushort)MaxInnerIpPacket, source.V4)
            : PacketBuilder.Icmpv6PacketTooBig(answer.Writable, frame, info, (uint)MaxInnerIpPacket, source.Value);
        if (length == 0 || !answer.SetFrameLength(length))
        {
            answer.Release();
            return DropReason.Oversize;
        }

        Transmit(port, answer);
        return DropReason.OversizeAnswered;
    }

    /// <summary>
    /// A TCP super-frame longer than one tunnel datagram becomes two (<see cref="FrameOffload.TrySplitTcp"/>): the first
    /// stays in <paramref name="buffer"/>, the second in a buffer from the pool. False when it cannot be split or no buffer is free.
    /// </summary>
    private bool TrySplit(PacketBuffer buffer, in PacketInfo info, in TunnelOffload offload, out PacketBuffer? second)
    {
        second = null;
        if (!_engine!.Pool.TryRent(out var rented))
        {
            return false;
        }

        var frame = buffer.Frame;
        var maxFrame = MaxInnerFrame - TunnelOffload.Length + TaggedExtra(frame);
        if (!FrameOffload.TrySplitTcp(frame, info, offload, maxFrame, rented.Writable, out var firstLength, out var secondLength)
            || !buffer.SetFrameLength(firstLength) || !rented.SetFrameLength(secondLength))
        {
            rented.Release();
            return false;
        }

        Counters.Count(TunnelCounter.SuperFrameSplit);
        second = rented;
        return true;
    }

    private void SendSecondPart(PacketBuffer second, TunnelFields fields, PacketAddress to, ushort sourcePort)
    {
        if (SendOwnedDispatch(second, fields, to, sourcePort, DropReason.SuperFrameTooLarge))
        {
            Counters.Count(TunnelCounter.SuperFrameDispatched);
        }
    }

    /// <summary>Sends a frame the role owns (its VLAN tag still on) as DISPATCH; false, counted, when it could not.</summary>
    private bool SendOwnedDispatch(PacketBuffer buffer, TunnelFields fields, PacketAddress to, ushort sourcePort, DropReason noRoom)
    {
        _ = StripVlan(buffer);
        buffer.SourcePort = sourcePort;
        var frameLength = buffer.FrameLength;
        var headerLength = TunnelLayout.HeaderLength(fields, 0);
        if (!buffer.TryPrepend(headerLength, out _)
            || TunnelWriter.TryWriteInFront(buffer.Frame, headerLength, frameLength, fields, [], out _, out _) != WireError.None)
        {
            buffer.Release();
            Counters.Drop(noRoom);
            return false;
        }

        buffer.Peer = to;
        var length = buffer.FrameLength;
        if (_engine!.Send(_tunnel!, buffer))
        {
            Counters.Out(length);
            Counters.Count(TunnelCounter.DispatchSent);
            return true;
        }

        buffer.Release();
        Counters.Drop(DropReason.SendFailed);
        return false;
    }

    /// <summary>
    /// A packet with DF (or IPv6) too big for <paramref name="port"/>'s MTU: an ICMP fragmentation-needed (packet too
    /// big) naming that MTU is built from the interface's shared address to the packet's sender, as a router on that
    /// link would, and goes into the DVA as if it had come in on that interface. It hashes by its quote to the owner of
    /// the packet's flow, whose data plane routes it back to the sender (and un-translates it for a load-balanced flow,
    /// as any ICMP error from beyond the DVA), so path MTU discovery works across a smaller egress link.
    /// </summary>
    private void ReportTooBig(SharedPort port, ReadOnlySpan<byte> frame, int mtu)
    {
        if (PacketParser.TryParse(frame, out var info) != ParseError.None || !info.IsIp
            || !_routes.TryGetLocalAddress(port.Ifid, info.IpVersion, info.VlanId, out var source))
        {
            return;
        }

        if (!_icmpLimit.TryTake())
        {
            Counters.Count(TunnelCounter.IcmpRateLimited);
            return;
        }

        if (!_engine!.Pool.TryRent(out var answer))
        {
            return;
        }

        var length = info.IpVersion == 4
            ? PacketBuilder.Icmpv4DestinationUnreachable(answer.Writable, frame, info, 4, (ushort)mtu, source.V4)
            : PacketBuilder.Icmpv6PacketTooBig(answer.Writable, frame, info, (uint)mtu, source.Value);
        var state = _tables.State;
        var table = state.Current;
        if (length == 0 || !answer.SetFrameLength(length) || table is null
            || PacketParser.TryParse(answer.Frame, out var answerInfo) != ParseError.None || !FlowKey.TryFrom(answerInfo, out var key, out _))
        {
            answer.Release();
            return;
        }

        var hash = FlowHasher.Hash(key, table.Seed);
        var owner = table.OwnerOf(FlowHasher.Bucket(hash, table.BucketCount));
        var addresses = AddressesFor(state);
        if (owner == 0 || addresses[owner].IsEmpty)
        {
            answer.Release();
            return;
        }

        var tci = IsTagged(answer.Frame) ? BinaryPrimitives.ReadUInt16BigEndian(answer.Frame[VlanTciOffset..]) : (ushort)0;
        if (SendOwnedDispatch(answer, FromOutside(owner, table, port.Ifid, tci), addresses[owner], TunnelLayout.UdpSourcePort(hash), DropReason.NoBuffer))
        {
            Counters.Count(TunnelCounter.EgressTooBigReported);
        }
    }

    /// <summary>A DISPATCH header for a frame this dispatcher received on <paramref name="ifid"/>, stamped with the table's era.</summary>
    private TunnelFields FromOutside(ushort to, TableVersion table, byte ifid, ushort tci) => new()
    {
        DNode = to,
        HNode = _self,
        SNode = _self,
        Type = TunnelType.Dispatch,
        Era = (byte)table.Era,
        Ttl = TunnelFields.InitialTtl,
        IfId = ifid,
        VlanTci = tci,
    };

    private DropReason? SendTunnel(PacketBatch batch, int index, PacketBuffer buffer, in TunnelFields fields, PacketAddress to, TunnelCounter sent)
    {
        var frameLength = buffer.FrameLength;
        var headerLength = TunnelLayout.HeaderLength(fields, 0);
        if (!buffer.TryPrepend(headerLength, out _))
        {
            return DropReason.NoBuffer;
        }

        var error = TunnelWriter.TryWriteInFront(buffer.Frame, headerLength, frameLength, fields, [], out _, out _);
        if (error != WireError.None)
        {
            _ = buffer.TryTrimFront(headerLength);
            return error == WireError.InnerFrameTooShort ? DropReason.MalformedFrame : DropReason.WireOther;
        }

        buffer.Peer = to;
        var length = buffer.FrameLength;
        if (!batch.Send(index, _tunnel!))
        {
            return DropReason.SendFailed;
        }

        Counters.Out(length);
        Counters.Count(sent);
        return null;
    }

    // ---- DVA → outside ------------------------------------------------------------------------------

    // The egress interface comes from the header's IFID, not from where the datagram arrived.
    private DropReason? HandleEgress(SharedPort? _, PacketBatch batch, int index, PacketBuffer buffer, TableState state, PacketAddress[] addresses)
    {
        var error = TunnelHeader.TryRead(buffer.Frame, out var header);
        if (error != WireError.None)
        {
            return DataPlane.WireDrops.ToDropReason(error);
        }

        if (header.IsSecure)
        {
            return DropReason.SecureInPlainMode;
        }

        if (header.DNode != _self)
        {
            return DropReason.WrongDestinationNode;
        }

        var peer = state.Peer(header.HNode);
        if (peer is null)
        {
            return DropReason.UnknownPeer;
        }

        if (!buffer.Peer.IsFromTunnelPeer(addresses[header.HNode]))
        {
            return DropReason.WrongSourceAddress;
        }

        if (header.Type == TunnelType.Control)
        {
            Counters.Count(TunnelCounter.ControlReceived);
            return null;
        }

        if (header.Type != TunnelType.Egress)
        {
            return DropReason.UnexpectedType;
        }

        if (peer.Role != PeerRole.DataPlane)
        {
            return DropReason.NotDataPlane;
        }

        var port = _ports[header.IfId];
        if (port is null)
        {
            return DropReason.UnknownInterface;
        }

        Counters.Count(TunnelCounter.EgressReceived);
        if (header.Park.IsPresent)
        {
            if (JoinParked(batch, index, buffer, header, out buffer) is { } parkDrop)
            {
                return parkDrop;
            }
        }
        else if (!buffer.TryTrimFront(header.InnerOffset) || !buffer.SetFrameLength(header.InnerLength))
        {
            return DropReason.MalformedFrame;
        }

        if (header.VlanTci != 0 && !InsertVlan(buffer, header.VlanTci))
        {
            return DropReason.NoBuffer;
        }

        port.Mac.CopyTo(buffer.Frame[MacLength..]);
        if (header.Offload.IsPresent && Offload(port, buffer, header.Offload) is { } offloadDrop)
        {
            return offloadDrop;
        }

        if (header.Handoff == Handoff.Resolve)
        {
            Counters.Count(TunnelCounter.ResolveReceived);
            return Resolve(port, batch, index, buffer, header.VlanTci);
        }

        if (header.Shortcut.IsPresent)
        {
            TakeShortcut(port, header.VlanTci, header.Shortcut, buffer.Frame);
        }

        return TransmitFromBatch(port, batch, index, buffer);
    }

    /// <summary>
    /// A data plane offers the kernel shortcut for <paramref name="frame"/>'s flow (docs/node.md "Kernel shortcut"): the
    /// frame is final, so later frames of the flow that come in where the offer says may leave as this one does.
    /// </summary>
    private void TakeShortcut(SharedPort egress, ushort egressTci, in TunnelShortcut offer, ReadOnlySpan<byte> frame)
    {
        var ingress = _ports[offer.IngressIfId];
        if (_shortcuts is null || ingress is null || DispatcherShortcuts.InterfaceIndexOf(ingress.Source) is not { } ingressIndex || DispatcherShortcuts.InterfaceIndexOf(egress.Source) is not { } egressIndex)
        {
            Counters.Count(TunnelCounter.ShortcutNotTaken);
            return;
        }

        var mtu = egress.Source is FrameSource { Mtu: int known } ? known : ushort.MaxValue;
        Counters.Count(_shortcuts.Offer(ingressIndex, offer.IngressVlan, ingress.Mac, egressIndex, egressTci, mtu, frame, offer.HasOrigin ? offer.Origin : null) switch
        {
            ShortcutOffer.Installed => TunnelCounter.ShortcutInstalled,
            ShortcutOffer.Renewed => TunnelCounter.ShortcutRenewed,
            ShortcutOffer.Full => TunnelCounter.ShortcutFull,
            ShortcutOffer.NotShortcutFrame => TunnelCounter.ShortcutNotMatched,
            _ => TunnelCounter.ShortcutNotTaken,
        });
    }


    private DropReason? Resolve(SharedPort port, PacketBatch batch, int index, PacketBuffer buffer, ushort tci)
    {
        var frame = buffer.Frame;
        if (PacketParser.TryParse(frame, out var info) != ParseError.None || !info.IsIp)
        {
            return DropReason.MalformedFrame;
        }

        var nextHop = info.Destination;
        if (_routes.TryRoute(nextHop, out var route) && route.Ifid == port.Ifid)
        {
            nextHop = route.NextHop;
        }

        if (_neighbours.TryGet(port.Ifid, nextHop, frame[..MacLength], out var learnedTci))
        {
            return tci == 0 && learnedTci != 0 && !InsertVlan(buffer, learnedTci) ? DropReason.NoBuffer : TransmitFromBatch(port, batch, index, buffer);
        }

        return Enqueue(port, nextHop, batch, index, tci);
    }

    private DropReason? Enqueue(SharedPort port, IpAddr nextHop, PacketBatch batch, int index, ushort tci)
    {
        var key = (port.Ifid, nextHop);
        if (!_pending.TryGetValue(key, out var pending))
        {
            if (_pending.Count >= MaxPendingAddresses)
            {
                return DropReason.ResolveQueueFull;
            }

            pending = _pendingPool.Count > 0 ? _pendingPool.Pop() : new Pending();
            pending.Since = _time.GetTimestamp();
            pending.LastRequest = pending.Since;
            pending.Tci = tci;
            _pending[key] = pending;
            _pendingHint = _pending.Count;
            AskForNeighbour(port, nextHop, tci);
        }

        if (pending.Count >= MaxPendingPerAddress)
        {
            return DropReason.ResolveQueueFull;
        }

        var buffer = batch.Take(index);
        if (buffer is null)
        {
            return DropReason.SendFailed;
        }

        pending.Frames[pending.Count++] = buffer;
        return null;
    }

    /// <summary>
    /// Asks for <paramref name="target"/>'s MAC (an ARP request, or a neighbour solicitation for IPv6) on the VLAN the
    /// frames waiting for it are to leave on; when the data plane left that open (0), untagged and on each VLAN of the
    /// trunk (<see cref="SharedPort.Vlans"/>), since the neighbour may sit on any of them and the reply tells which.
    /// </summary>
    private void AskForNeighbour(SharedPort port, IpAddr target, ushort tci)
    {
        AskForNeighbourOn(port, target, tci);
        if (tci == 0)
        {
            foreach (var vlan in port.Vlans)
            {
                AskForNeighbourOn(port, target, vlan);
            }
        }
    }

    private void AskForNeighbourOn(SharedPort port, IpAddr target, ushort tci)
    {
        // IPv6 asks by neighbour solicitation, from a shared IPv6 address of the interface; without one it cannot ask,
        // and what waits expires as NeighbourUnresolved.
        UInt128 source = 0;
        if (!target.IsV4 && !port.TryGetIpv6For(target.Value, (ushort)(tci & 0x0FFF), out source))
        {
            return;
        }

        if (!_engine!.Pool.TryRent(out var request))
        {
            Counters.Drop(DropReason.NoBuffer);
            return;
        }

        ushort? vlan = tci != 0 ? tci : null;
        var length = target.IsV4
            ? PacketBuilder.ArpRequest(request.Writable, port.Mac, port.Ipv4For(target.V4, (ushort)(tci & 0x0FFF)), target.V4, vlan)
            : NeighbourDiscovery.WriteSolicitation(request.Writable, port.Mac, source, target.Value, vlan);
        if (length == 0 || !request.SetFrameLength(length))
        {
            request.Release();
            return;
        }

        Transmit(port, request);
    }

    /// <summary>
    /// Sends what waited for <paramref name="address"/>, now learned at <paramref name="mac"/> on VLAN
    /// <paramref name="tci"/>: frames queued untagged (their VLAN left open) leave tagged when the answer came tagged.
    /// </summary>
    private void ReleasePending(SharedPort port, IpAddr address, ReadOnlySpan<byte> mac, ushort tci)
    {
        if (_pending.Count == 0 || !_pending.Remove((port.Ifid, address), out var pending))
        {
            return;
        }

        _pendingHint = _pending.Count;

        for (var i = 0; i < pending.Count; i++)
        {
            var buffer = pending.Frames[i];
            pending.Frames[i] = null!;
            mac.CopyTo(buffer.Frame);
            if (pending.Tci == 0 && tci != 0 && !InsertVlan(buffer, tci))
            {
                buffer.Release();
                Counters.Drop(DropReason.NoBuffer);
                continue;
            }

            Transmit(port, buffer);
        }

        pending.Count = 0;
        _pendingPool.Push(pending);
    }

    private void RefreshMtus()
    {
        foreach (var port in _ports)
        {
            if (port?.Source is FrameSource source)
            {
                _ = source.RefreshMtu();
            }
        }
    }

    private void SweepPending()
    {
        if (_pending.Count == 0)
        {
            return;
        }

        var now = _time.GetTimestamp();
        if (_group.Length > 1)
        {
            ReleaseLearnedElsewhere();
        }

        foreach (var (key, pending) in _pending)
        {
            if (_time.GetElapsedTime(pending.Since, now) >= PendingLifetime)
            {
                _expired.Add(key);
            }
            else if (_time.GetElapsedTime(pending.LastRequest, now) >= s_arpRetry && _ports[key.Ifid] is { } port)
            {
                pending.LastRequest = now;
                AskForNeighbour(port, key.Address, pending.Tci);
            }
        }

        foreach (var key in _expired)
        {
            _ = _pending.Remove(key, out var pending);
            for (var i = 0; i < pending!.Count; i++)
            {
                pending.Frames[i].Release();
                pending.Frames[i] = null!;
                Counters.Drop(DropReason.NeighbourUnresolved);
            }

            pending.Count = 0;
            _pendingPool.Push(pending);
        }

        _expired.Clear();
        _pendingHint = _pending.Count;
    }

    /// <summary>Releases the queues whose address another engine learned while this one was queueing (see <see cref="ReleaseOnOtherEngines"/>).</summary>
    private void ReleaseLearnedElsewhere()
    {
        Span<byte> mac = stackalloc byte[MacLength];
        foreach (var (key, _) in _pending)
        {
            if (_neighbours.TryGet(key.Ifid, key.Address, mac))
            {
                _expired.Add(key);
            }
        }

        foreach (var key in _expired)
        {
            if (_ports[key.Ifid] is { } port && _neighbours.TryGet(key.Ifid, key.Address, mac, out var tci))
            {
                ReleasePending(port, key.Address, mac, tci);
            }
        }

        _expired.Clear();
    }

    private DropReason? TransmitFromBatch(SharedPort port, PacketBatch batch, int index, PacketBuffer buffer)
    {
        if (TooBigFor(port, buffer) is { } mtu)
        {
            // The batch recycles the whole frame; only its fragments leave.
            return SendFragments(port, buffer, mtu);
        }

        var length = buffer.FrameLength;
        if (!batch.Send(index, port.Source))
        {
            return DropReason.SendFailed;
        }

        Counters.Out(length);
        return null;
    }

    /// <summary>Sends a buffer the role owns (an answer it built, a frame from the resolve queue) out of the interface.</summary>
    private void Transmit(SharedPort port, PacketBuffer buffer)
    {
        if (TooBigFor(port, buffer) is { } mtu)
        {
            if (SendFragments(port, buffer, mtu) is { } reason)
            {
                Counters.Drop(reason);
            }

            buffer.Release();
            return;
        }

        var length = buffer.FrameLength;
        if (_engine!.Send(port.Source, buffer))
        {
            Counters.Out(length);
        }
        else
        {
            buffer.Release();
            Counters.Drop(DropReason.SendFailed);
        }
    }

    /// <summary>
    /// The MTU of <paramref name="port"/> when the IP packet in <paramref name="buffer"/> is longer than it, else null.
    /// A port without an MTU (a udp: wire without <c>MTU=</c>) takes anything; a super-frame is segmented by the
    /// kernel to its GSO size, so its length is not the packet's.
    /// </summary>
    private static int? TooBigFor(SharedPort port, PacketBuffer buffer) =>
        port.Source is FrameSource { Mtu: int mtu } && !buffer.Offload.IsGso
            && buffer.FrameLength - PacketConstants.EthernetHeaderLength - TaggedExtra(buffer.Frame) > mtu
            ? mtu
            : null;

    /// <summary>
    /// Sends an IPv4 packet without DF that is too big for <paramref name="mtu"/> as fragments (<see cref="Ipv4Fragmenter"/>),
    /// each in a buffer of its own, in order; the caller keeps <paramref name="buffer"/>. Anything else too big is
    /// <see cref="DropReason.EgressTooBig"/>. A checksum left to the device is finished first: fragments cannot carry it.
    /// </summary>
    private DropReason? SendFragments(SharedPort port, PacketBuffer buffer, int mtu)
    {
        if (buffer.Offload.IsPresent && !FrameOffload.TryFinishChecksum(buffer))
        {
            return DropReason.OffloadMismatch;
        }

        var frame = buffer.Frame;
        var l2 = PacketConstants.EthernetHeaderLength + TaggedExtra(frame);
        if (Ipv4Fragmenter.Check(frame, l2) is var refusal and not FragmentRefusal.None)
        {
            if (refusal == FragmentRefusal.DontFragment)
            {
                ReportTooBig(port, frame, mtu);
            }

            return DropReason.EgressTooBig;
        }

        var chunk = Ipv4Fragmenter.Chunk(mtu);
        var count = Ipv4Fragmenter.Count(frame, l2, chunk);
        for (var i = 0; i < count; i++)
        {
            if (!_engine!.Pool.TryRent(out var fragment))
            {
                // The fragments already sent cannot be reassembled without the rest: the packet is lost either way.
                return DropReason.EgressTooBig;
            }

            if (fragment.Writable.Length < l2 + chunk + PacketConstants.Ipv4MinHeaderLength)
            {
                // A jumbo MTU above the pool's frame size: fragments that big do not fit its buffers.
                fragment.Release();
                return DropReason.EgressTooBig;
            }

            var length = Ipv4Fragmenter.Write(frame, l2, chunk, i, fragment.Writable);
            _ = fragment.SetFrameLength(length);
            Transmit(port, fragment);
        }

        Counters.Count(TunnelCounter.EgressFragmented);
        return null;
    }

    /// <summary>
    /// An EGRESS frame with an OFFLOAD word: on an <c>afpacket:IF?gso=1</c> source the kernel gets it as it is (it segments
    /// a super-frame and finishes the checksum); elsewhere a checksum left to the device is finished here, and a
    /// super-frame, which nothing here segments, is dropped.
    /// </summary>
    private DropReason? Offload(SharedPort port, PacketBuffer buffer, in TunnelOffload offload)
    {
        if (PacketParser.TryParse(buffer.Frame, out var info) != ParseError.None || !FrameOffload.Fits(offload, info))
        {
            return DropReason.OffloadMismatch;
        }

        if (port.CarriesOffload)
        {
            FrameOffload.Describe(buffer, offload, info);
            if (offload.IsGso)
            {
                Counters.Count(TunnelCounter.SuperFrameTransmitted);
            }

            return null;
        }

        if (offload.IsGso)
        {
            return DropReason.SuperFrameNeedsGsoSource;
        }

        // The offload goes too: a source with virtio headers would otherwise ask its kernel to finish it once more.
        buffer.ClearOffload();
        _ = Checksum.WriteTransport(buffer.Frame, info);
        return null;
    }

    /// <summary>A frame that takes the broadcast chain is not carried with an offload: its checksum is finished here, a super-frame dropped.</summary>
    private static DropReason? FinishInSoftware(PacketBuffer buffer)
    {
        var gso = buffer.Offload.IsGso;
        return FrameOffload.TryFinishChecksum(buffer) ? null : gso ? DropReason.SuperFrameTooLarge : DropReason.OffloadMismatch;
    }

    // ---- helpers ------------------------------------------------------------------------------------

    /// <summary>Tunnel endpoints by node id for the peers of <paramref name="state"/>, built once per table change.</summary>
    private static PacketAddress[] AddressesFor(TableState state) => state.Addresses;

    private static int TaggedExtra(ReadOnlySpan<byte> frame) => IsTagged(frame) ? PacketConstants.VlanTagLength : 0;

    private static bool IsTagged(ReadOnlySpan<byte> frame) =>
        frame.Length >= PacketConstants.EthernetHeaderLength + PacketConstants.VlanTagLength
        && BinaryPrimitives.ReadUInt16BigEndian(frame[EtherTypeOffset..]) == PacketConstants.EtherTypeVlan;

    /// <summary>Removes one 802.1Q tag in place (the MAC addresses move 4 bytes up) and returns its TCI, 0 if untagged.</summary>
    internal static ushort StripVlan(PacketBuffer buffer)
    {
        var frame = buffer.Frame;
        if (!IsTagged(frame))
        {
            return 0;
        }

        var tci = BinaryPrimitives.ReadUInt16BigEndian(frame[VlanTciOffset..]);
        frame[..(2 * MacLength)].CopyTo(frame[PacketConstants.VlanTagLength..]);
        _ = buffer.TryTrimFront(PacketConstants.VlanTagLength);
        return tci;
    }

    /// <summary>Re-inserts the 802.1Q tag a frame arrived with, in the buffer's headroom.</summary>
    internal static bool InsertVlan(PacketBuffer buffer, ushort tci)
    {
        if (!buffer.TryPrepend(PacketConstants.VlanTagLength, out _))
        {
            return false;
        }

        var frame = buffer.Frame;
        frame.Slice(PacketConstants.VlanTagLength, 2 * MacLength).CopyTo(frame);
        BinaryPrimitives.WriteUInt16BigEndian(frame[EtherTypeOffset..], PacketConstants.EtherTypeVlan);
        BinaryPrimitives.WriteUInt16BigEndian(frame[VlanTciOffset..], tci);
        return true;
    }

    /// <summary>
    /// A shared interface as the engine thread uses it: its frame source, MAC bytes and addresses, each with the link it
    /// is on (VLAN 0: the interface's own, answered untagged and on every VLAN; else a sub-interface's, on its VLAN only).
    /// </summary>
    private sealed class SharedPort
    {
        private static readonly (UInt128 Prefix, int Length)[] NoPrefixes = [];

        private readonly (uint Network, uint Mask, uint Address, ushort Vlan)[] _ipv4;
        private readonly (UInt128 Network, UInt128 Mask, UInt128 Address, ushort Vlan)[] _ipv6;
        private readonly Dictionary<ushort, (UInt128 Prefix, int Length)[]> _prefixes;

        public SharedPort(SharedInterface shared, PacketPort source)
        {
            Ifid = shared.Ifid;
            Source = source;
            Mac = shared.Mac.GetAddressBytes();
            Vlans = [.. shared.Vlans];
            Advertises = shared.RouterAdvertisements;
            HostConfiguration = shared.HostConfiguration;
            InitialAdvertsLeft = InitialAdverts;
            LinkLocal = RouterAdvertisement.LinkLocalFor(Mac);
            var links = shared.Addresses.Select((a, n) => (Address: a, Subnet: shared.Subnets[n], Vlan: shared.VlanOf(n))).ToArray();
            _ipv4 = [.. links.Where(l => l.Address.AddressFamily == AddressFamily.InterNetwork)
                .Select(l => (IpAddr.From(l.Subnet.BaseAddress).V4, l.Subnet.PrefixLength == 0 ? 0u : uint.MaxValue << (32 - l.Subnet.PrefixLength), IpAddr.From(l.Address).V4, l.Vlan))];
            _ipv6 = [.. links.Where(l => l.Address.AddressFamily == AddressFamily.InterNetworkV6)
                .Select(l => (IpAddr.From(l.Subnet.BaseAddress).Value, l.Subnet.PrefixLength == 0 ? UInt128.Zero : UInt128.MaxValue << (128 - l.Subnet.PrefixLength), IpAddr.From(l.Address).Value, l.Vlan))];
            _prefixes = links.GroupBy(l => l.Vlan).ToDictionary(g => g.Key, g => g
                .Where(l => l.Subnet.BaseAddress.AddressFamily == AddressFamily.InterNetworkV6)
                .Select(l => (IpAddr.From(l.Subnet.BaseAddress).Value, l.Subnet.PrefixLength)).Distinct().ToArray());
        }

        public byte Ifid { get; }

        public PacketPort Source { get; }

        /// <summary>The source takes frames with an offload for the kernel to finish (<see cref="FrameSource.CarriesOffload"/>).</summary>
        public bool CarriesOffload => Source is FrameSource { CarriesOffload: true };

        public byte[] Mac { get; }

        /// <summary>The trunk's VLANs besides untagged (<see cref="SharedInterface.Vlans"/>, the sub-interfaces' among them).</summary>
        public ushort[] Vlans { get; }

        /// <summary>Router advertisements are sent for this interface (<see cref="SharedInterface.RouterAdvertisements"/>).</summary>
        public bool Advertises { get; }

        /// <summary>What the advertisements tell hosts besides the prefixes (<see cref="SharedInterface.HostConfiguration"/>).</summary>
        public HostConfiguration HostConfiguration { get; }

        /// <summary>fe80:: with the shared MAC's modified EUI-64: where the DVA is on the link for IPv6 (its advertisements' source).</summary>
        public UInt128 LinkLocal { get; }

        /// <summary>When the last advertisement left (0: never), and when the next unsolicited one is due (engine timestamps).</summary>
        public long LastAdvert { get; set; }

        public long NextAdvert { get; set; }

        public int InitialAdvertsLeft { get; set; }

        /// <summary>
        /// The IPv6 subnets an advertisement on VLAN <paramref name="vlan"/> (0 untagged) carries: a sub-interface's own;
        /// on the untagged link and on a VLAN without a sub-interface, the interface's. Empty: no IPv6 on that link.
        /// </summary>
        public (UInt128 Prefix, int Length)[] PrefixesFor(ushort vlan) =>
            _prefixes.TryGetValue(vlan, out var own) ? own : _prefixes.GetValueOrDefault((ushort)0, NoPrefixes);

        /// <summary>A shared IPv4 address answered on VLAN <paramref name="vlan"/> (0 untagged).</summary>
        public bool OwnsIpv4(uint address, ushort vlan)
        {
            foreach (var (_, _, own, on) in _ipv4)
            {
                if (own == address && (on == 0 || on == vlan))
                {
                    return true;
                }
            }

            return false;
        }

        /// <summary>A shared IPv6 address answered on VLAN <paramref name="vlan"/>, or the link-local address once the interface has any IPv6 address.</summary>
        public bool OwnsIpv6(UInt128 address, ushort vlan)
        {
            if (address == LinkLocal && _ipv6.Length > 0)
            {
                return true;
            }

            foreach (var (_, _, own, on) in _ipv6)
            {
                if (own == address && (on == 0 || on == vlan))
                {
                    return true;
                }
            }

            return false;
        }

        /// <summary>
        /// The shared IPv6 address a solicitation for <paramref name="target"/> on VLAN <paramref name="vlan"/> comes
        /// from: the link-local address for a link-local target, else the one on the target's subnet, else the link's.
        /// </summary>
        public bool TryGetIpv6For(UInt128 target, ushort vlan, out UInt128 source)
        {
            if (_ipv6.Length > 0 && (target >> 118) == (0xfe80 >> 6))
            {
                // A link-local neighbour is asked from the link-local address (RFC 4861 §7.2.2: an address of the link).
                source = LinkLocal;
                return true;
            }

            var rank = int.MaxValue;
            source = UInt128.Zero;
            foreach (var (network, mask, address, on) in _ipv6)
            {
                var r = Rank((target & mask) == network, on, vlan);
                if (r < rank)
                {
                    (rank, source) = (r, address);
                }
            }

            return rank != int.MaxValue;
        }

        /// <summary>The shared IPv4 address an ARP request for <paramref name="target"/> on VLAN <paramref name="vlan"/> comes from, chosen as <see cref="TryGetIpv6For"/>.</summary>
        public uint Ipv4For(uint target, ushort vlan)
        {
            var rank = int.MaxValue;
            var source = 0u;
            foreach (var (network, mask, address, on) in _ipv4)
            {
                var r = Rank((target & mask) == network, on, vlan);
                if (r < rank)
                {
                    (rank, source) = (r, address);
                }
            }

            return source;
        }

        // Best first: on the target's subnet and its link, on its subnet, on the asking link, the interface's own, any.
        private static int Rank(bool onSubnet, ushort on, ushort vlan) => RouteTable.LinkRank(on, vlan) + (onSubnet ? 0 : 3);
    }

    /// <summary>Frames waiting for one neighbour's MAC; reused from a pool.</summary>
    private sealed class Pending
    {
        public readonly PacketBuffer[] Frames = new PacketBuffer[MaxPendingPerAddress];
        public int Count;
        public long Since;
        public long LastRequest;
        public ushort Tci;
    }
}
