using System.Runtime.CompilerServices;

namespace Dva.Node.Agent;

/// <summary>Why a node dropped a packet. Every drop on the data path names one of these and is counted.</summary>
internal enum DropReason
{
    // Tunnel header rejected by the codec (one per WireError).
    WireTruncated,
    WireBadVersion,
    WireReservedBit,
    WireHeaderSize,
    WireUnknownType,
    WireUnknownHandoff,
    WireUnknownHook,
    WireUnknownTable,
    WireTtlZero,
    WireInnerTooShort,
    WireBadNodeId,
    WireOther,

    // Tunnel packet well formed but not acceptable here.
    UnknownPeer,
    WrongSourceAddress,
    WrongDestinationNode,
    UnexpectedType,
    BadTag,
    Replayed,

    // Tables and keep-or-punt.
    NoTable,
    HoldQueueFull,
    HoldTimeout,
    TtlExceeded,
    NoOwner,

    // Inner frame.
    MalformedFrame,
    NotForSharedMac,
    UnsupportedEtherType,
    NoRoute,
    NeighbourUnresolved,
    ResolveQueueFull,
    Oversize,
    IpTtlExpired,
    UnknownInterface,
    MidStreamNoState,
    FirewallDrop,
    FirewallReject,
    NoBackend,
    SendFailed,

    // Data plane (appended; values are positions, so new reasons only go at the end).
    /// <summary>A new flow could not be stored: the flow table is at its load limit.</summary>
    FlowTableFull,

    /// <summary>Addressed to a shared IP but not something the DVA answers (it answers ping only).</summary>
    LocalUnhandled,

    /// <summary>The egress interface's dispatcher is not a peer in the tables.</summary>
    EgressDispatcherUnknown,

    /// <summary>FLAGS.S set on a node whose DVA runs the tunnel in plain mode.</summary>
    SecureInPlainMode,

    /// <summary>A broadcast reached a data plane that is not in the table's chain.</summary>
    NotInChain,

    // Dispatcher (appended).
    /// <summary>No packet buffer was free for an answer (ARP reply, ICMP too-big) or a header.</summary>
    NoBuffer,

    /// <summary>EGRESS from a peer that is not a data plane.</summary>
    NotDataPlane,

    /// <summary>Too big for the tunnel MTU; the sender got ICMP fragmentation-needed / packet-too-big.</summary>
    OversizeAnswered,

    // Secure mode (appended; BadTag and Replayed above are secure-mode drops too).
    /// <summary>FLAGS.S clear on a node whose DVA runs the tunnel in a secure mode.</summary>
    PlainInSecureMode,

    /// <summary>No key is installed for the packet's FLAGS.K: a retired phase, a key not delivered yet, or a foreign key.</summary>
    UnknownKeyPhase,

    /// <summary>SEQ further behind the sender's highest SEQ than the replay window reaches.</summary>
    ReplayTooOld,

    /// <summary>A datagram could not be sealed: no key for the send phase yet.</summary>
    NoSendKey,

    /// <summary>A datagram could not be sealed: no headroom for SEQ or tailroom for the TAG, or its SEQ space is used up.</summary>
    SealFailed,

    // Super-frames (appended).
    /// <summary>The tunnel header's OFFLOAD word breaks its rules, or G is set on a CONTROL packet (WireError.BadOffload).</summary>
    WireBadOffload,

    /// <summary>
    /// A frame's offload does not fit it: not an unfragmented TCP/UDP packet of the IP version its GSO type names, or the
    /// kernel's csum_start/csum_offset are not the parsed transport checksum.
    /// </summary>
    OffloadMismatch,

    /// <summary>A GSO super-frame too long for one tunnel datagram that could not be split in two (not TCP, or no buffer free).</summary>
    SuperFrameTooLarge,

    /// <summary>A GSO super-frame to transmit on a frame source that cannot segment it (not <c>afpacket:IF?gso=1</c>).</summary>
    SuperFrameNeedsGsoSource,

    /// <summary>
    /// An EGRESS packet longer than its interface's MTU that is not cut here: IPv4 with DF or IPv6 (the sender is told
    /// by ICMP, <see cref="TunnelCounter.EgressTooBigReported"/>), IPv4 with options, or no buffer for the fragments.
    /// </summary>
    EgressTooBig,

    // Parked payloads (appended).
    /// <summary>The tunnel header's PARK word breaks its rules (WireError.BadPark).</summary>
    WireBadPark,

    /// <summary>
    /// Data plane: a packet whose payload is parked at its dispatcher (SNODE) must leave by an interface of another
    /// dispatcher, which does not have the payload. <c>parkPayloads</c> belongs only on a DVA whose one dispatcher has
    /// every interface.
    /// </summary>
    ParkedPayloadElsewhere,

    /// <summary>
    /// Dispatcher: an EGRESS whose PARK ticket names no payload held here any more (it waited longer than
    /// <c>DispatcherRole.ParkLifetime</c>, or was already joined), or whose headers are not the parked frame's.
    /// </summary>
    ParkedPayloadGone,

    // Shortcuts (appended).
    /// <summary>
    /// The tunnel header's SHORTCUT word breaks its rules, or X is set on anything but a final EGRESS (WireError.BadShortcut).
    /// </summary>
    WireBadShortcut,

    /// <summary>
    /// Dispatcher with shortcuts: frames the verdict program took from the socket for the kernel to forward whose
    /// shortcut entry was gone when the forward program looked (the kernel dropped them; from the BPF state map).
    /// </summary>
    ShortcutLost,
}

/// <summary>What a node sent and received, per tunnel packet kind.</summary>
internal enum TunnelCounter
{
    DispatchSent,
    DispatchReceived,
    PuntSent,
    PuntReceived,
    ClaimSent,
    ClaimReceived,
    BroadcastSent,
    BroadcastReceived,
    SteerSent,
    SteerReceived,
    EgressSent,
    EgressReceived,
    ResolveSent,
    ResolveReceived,
    ControlSent,
    ControlReceived,

    /// <summary>Secure mode: datagrams sealed (SEQ and TAG written) before sending.</summary>
    Sealed,

    /// <summary>Secure mode: datagrams authenticated (and decrypted) before use.</summary>
    Opened,

    /// <summary>
    /// Several engines: a datagram reached an engine other than its flow's (its sender did not send it from the flow's
    /// port, docs/node.md "Engines"). It is processed all the same, but that flow's state may be split between engines.
    /// </summary>
    OffEngine,

    /// <summary>Dispatcher: GSO super-frames sent into the DVA whole (DISPATCH or BROADCAST with a GSO OFFLOAD word).</summary>
    SuperFrameDispatched,

    /// <summary>Dispatcher: GSO super-frames handed to an <c>afpacket:IF?gso=1</c> source for the kernel to segment.</summary>
    SuperFrameTransmitted,

    /// <summary>Dispatcher: TCP super-frames too long for one tunnel datagram, sent as two (each also counted dispatched).</summary>
    SuperFrameSplit,

    /// <summary>
    /// Dispatcher: IPv4 frames without DF too big for the tunnel MTU, carried whole in a tunnel datagram whose outer
    /// packet is fragmented on the fabric (docs/node.md, "What the dispatcher does with a frame").
    /// </summary>
    OversizeCarried,

    /// <summary>
    /// Dispatcher: IPv4 packets without DF longer than their egress interface's MTU, sent out as fragments (each
    /// fragment is also counted as a frame out).
    /// </summary>
    EgressFragmented,

    /// <summary>
    /// Dispatcher: ICMP fragmentation-needed / packet-too-big sent into the DVA for a packet with DF (or IPv6) too big
    /// for its egress interface's MTU, from that interface's shared address to the packet's sender.
    /// </summary>
    EgressTooBigReported,

    /// <summary>
    /// ICMP errors the node would have sent (too big, TTL exceeded, rejected) but did not, over its rate limit
    /// (<c>IcmpRateLimiter</c>). The packets that earned them are counted under their own drop reasons.
    /// </summary>
    IcmpRateLimited,

    /// <summary>Dispatcher: TCP super-frames sent into the DVA as headers only, the payload parked here (<c>parkPayloads</c>).</summary>
    PayloadParked,

    /// <summary>Dispatcher: parked payloads joined again to the headers the data planes sent back.</summary>
    PayloadJoined,

    /// <summary>
    /// Dispatcher: parked payloads let go unjoined after <c>DispatcherRole.ParkLifetime</c> (their packet was dropped in
    /// the DVA, e.g. by the firewall, and counted there) or when the node stopped parking.
    /// </summary>
    ParkExpired,

    /// <summary>Dispatcher: super-frames sent whole because every park slot was in use or no buffer was free.</summary>
    ParkFull,

    /// <summary>Dispatcher: IPv6 router advertisements sent (<c>routerAdvertisements</c>; each VLAN's counts once).</summary>
    RouterAdvertisementSent,

    /// <summary>Data plane (<c>shortcuts</c>): final EGRESS frames that offered their flow a kernel shortcut (SHORTCUT word).</summary>
    ShortcutOffered,

    /// <summary>Dispatcher: shortcut offers that made a new entry in the kernel's map.</summary>
    ShortcutInstalled,

    /// <summary>Dispatcher: shortcut offers that renewed an entry's lease (the keep-alive frame's answer).</summary>
    ShortcutRenewed,

    /// <summary>Dispatcher: offers not taken: the node has no shortcuts, or the interfaces are not afpacket: ones with the shortcut.</summary>
    ShortcutNotTaken,

    /// <summary>Dispatcher: offers for a frame the programs do not match (not TCP/UDP, IPv4 options or fragments, IPv6 extension headers).</summary>
    ShortcutNotMatched,

    /// <summary>Dispatcher: offers refused because the kernel's map was full (<c>shortcutCapacity</c>).</summary>
    ShortcutFull,

    /// <summary>Dispatcher: entries removed by the sweep (withdrawn by SYN/FIN/RST, lease not renewed, or idle).</summary>
    ShortcutRemoved,

    /// <summary>Dispatcher: sweeps of the shortcut map a bpf system call refused (the totals stay as they were; the next sweep tries again).</summary>
    ShortcutSweepFailed,

    /// <summary>Dispatcher: frames the kernel forwarded for shortcut flows (a total as of the last sweep, once a second).</summary>
    ShortcutFramesForwarded,

    /// <summary>Dispatcher: bytes of those frames (Ethernet frames; a super-frame counts whole).</summary>
    ShortcutBytesForwarded,

    /// <summary>Dispatcher: entries in the kernel's shortcut map at the last sweep.</summary>
    ShortcutEntries,

    /// <summary>
    /// Dispatcher: shortcut frames that reached the forward program without the verdict program's answer (another socket
    /// filter on the interface cleared it); left to the kernel's stack, so the dispatcher may or may not have seen them.
    /// </summary>
    ShortcutUnverdicted,
}

/// <summary>
/// Counters of one node. Written by engine threads with plain increments on a per-engine block
/// (one writer per block, so no interlocked cost per packet) and read by snapshots from other threads;
/// a torn read of a 64-bit counter cannot happen on x64 and is harmless for statistics elsewhere.
/// </summary>
internal sealed class NodeCounters
{
    public static readonly int DropReasonCount = Enum.GetValues<DropReason>().Length;
    public static readonly int TunnelCounterCount = Enum.GetValues<TunnelCounter>().Length;

    private readonly List<CounterBlock> _blocks = [];
    private readonly Lock _lock = new();

    /// <summary>A block for one writer thread.</summary>
    public CounterBlock CreateBlock()
    {
        var block = new CounterBlock();
        lock (_lock)
        {
            _blocks.Add(block);
        }

        return block;
    }

    public CounterSnapshot Snapshot()
    {
        var snapshot = new CounterSnapshot(new long[DropReasonCount], new long[TunnelCounterCount]);
        lock (_lock)
        {
            foreach (var b in _blocks)
            {
                snapshot.Add(b);
            }
        }

        return snapshot;
    }
}

/// <summary>One writer's counters.</summary>
internal sealed class CounterBlock
{
    internal readonly long[] Drops = new long[NodeCounters.DropReasonCount];
    internal readonly long[] Tunnel = new long[NodeCounters.TunnelCounterCount];
    internal long FramesIn;
    internal long BytesIn;
    internal long FramesOut;
    internal long BytesOut;
    internal long FlowsCreated;
    internal long FlowsExpired;
    internal long FlowsActive;
    internal long BusyTicks;
    internal long PacketsProcessed;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Drop(DropReason reason) => Drops[(int)reason]++;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Count(TunnelCounter counter) => Tunnel[(int)counter]++;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void In(int bytes)
    {
        FramesIn++;
        BytesIn += bytes;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Out(int bytes)
    {
        FramesOut++;
        BytesOut += bytes;
    }
}

/// <summary>A point-in-time sum of every block, for printing and for the manager.</summary>
internal sealed class CounterSnapshot(long[] drops, long[] tunnel)
{
    public long FramesIn { get; private set; }
    public long BytesIn { get; private set; }
    public long FramesOut { get; private set; }
    public long BytesOut { get; private set; }
    public long FlowsCreated { get; private set; }
    public long FlowsExpired { get; private set; }
    public long FlowsActive { get; private set; }
    public long BusyTicks { get; private set; }
    public long PacketsProcessed { get; private set; }

    public long Drop(DropReason reason) => drops[(int)reason];

    public long Tunnel(TunnelCounter counter) => tunnel[(int)counter];

    public long TotalDrops => drops.Sum();

    public IReadOnlyDictionary<string, long> Drops =>
        Enum.GetValues<DropReason>().Where(r => drops[(int)r] != 0).ToDictionary(r => r.ToString(), r => drops[(int)r]);

    public IReadOnlyDictionary<string, long> TunnelCounts =>
        Enum.GetValues<TunnelCounter>().ToDictionary(c => c.ToString(), c => tunnel[(int)c]);

    internal void Add(CounterBlock b)
    {
        for (var i = 0; i < drops.Length; i++)
        {
            drops[i] += Volatile.Read(ref b.Drops[i]);
        }

        for (var i = 0; i < tunnel.Length; i++)
        {
            tunnel[i] += Volatile.Read(ref b.Tunnel[i]);
        }

        FramesIn += Volatile.Read(ref b.FramesIn);
        BytesIn += Volatile.Read(ref b.BytesIn);
        FramesOut += Volatile.Read(ref b.FramesOut);
        BytesOut += Volatile.Read(ref b.BytesOut);
        FlowsCreated += Volatile.Read(ref b.FlowsCreated);
        FlowsExpired += Volatile.Read(ref b.FlowsExpired);
        FlowsActive += Volatile.Read(ref b.FlowsActive);
        BusyTicks += Volatile.Read(ref b.BusyTicks);
        PacketsProcessed += Volatile.Read(ref b.PacketsProcessed);
    }
}
