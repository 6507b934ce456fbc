using System.Buffers.Binary;
using System.Net.NetworkInformation;
using Dva.Node.Agent;
using Dva.Node.Interop;
using Dva.Shared.Packets;
using Dva.Shared.Wire;

namespace Dva.Node.Shortcut;

/// <summary>What became of a data plane's shortcut offer at the dispatcher.</summary>
internal enum ShortcutOffer
{
    Installed,
    Renewed,

    /// <summary>The map is full: the flow stays on the data-plane path.</summary>
    Full,

    /// <summary>The ingress or egress interface is not an <c>afpacket:</c> one with the shortcut on it, or the IFID is unknown.</summary>
    NotShortcutInterface,

    /// <summary>The frame is not one the programs match: TCP or UDP over IPv4 without options or fragments, or IPv6 without extension headers.</summary>
    NotShortcutFrame,
}

/// <summary>
/// A dispatcher node's kernel shortcut (docs/node.md "Kernel shortcut"): the <see cref="ShortcutTable"/> its engines
/// share, the interfaces it is attached to, and the totals of what the kernel forwarded. Offers come from every engine
/// (at most one per flow direction and lease); the sweep runs once a lease on a timer thread of its own, off the
/// engines, reading the map a thousand entries per system call, and writes its counters to a block of its own.
/// Interfaces are attached before the engines start and not after.
/// </summary>
internal sealed class DispatcherShortcuts : IDisposable
{
    /// <summary>How long a data plane's offer holds without a frame reaching the data plane (the keep-alive interval).</summary>
    public static readonly TimeSpan Lease = TimeSpan.FromSeconds(1);

    /// <summary>An entry no frame used for this long is removed (the flow's next frame goes to the data plane again).</summary>
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(30);

    private readonly ShortcutTable _table;
    private readonly HashSet<int> _attached = [];
    private readonly CounterBlock? _counters;

    // Guards the retired totals (an offer that replaces an entry, a sweep that removes one) and the disposal.
    private readonly Lock _lock = new();
    private Timer? _sweep;
    private bool _disposed;
    private ulong _retiredPackets;
    private ulong _retiredBytes;

    /// <summary>Around a table already made (tests); <see cref="Create"/> makes one.</summary>
    internal DispatcherShortcuts(ShortcutTable table, CounterBlock? counters)
    {
        _table = table;
        _counters = counters;
    }

    /// <summary>Frames and bytes the kernel forwarded for shortcut flows, entries in the map, and the programs' two counters.</summary>
    public ShortcutTotals Totals { get; private set; }

    /// <summary>The map and programs; the sweep's counters (ShortcutRemoved and the totals) go to a block of <paramref name="counters"/>.</summary>
    public static DispatcherShortcuts Create(int capacity, NodeCounters? counters = null) =>
        new(ShortcutTable.Create(capacity, Lease), counters?.CreateBlock());

    /// <summary>Puts the verdict program on an AF_PACKET socket of the interface, and the forward program on the interface once. Setup only.</summary>
    public void AttachSocket(int socketFd, int ifIndex, string interfaceName)
    {
        _table.AttachVerdict(socketFd, interfaceName);
        if (_attached.Add(ifIndex))
        {
            _table.AttachForward(ifIndex, interfaceName);
        }
    }

    /// <summary>The interface index of an <c>afpacket:</c> source (plain or ring), the only kind the shortcut works on; null for any other.</summary>
    internal static int? InterfaceIndexOf(Io.PacketPort source) => source switch
    {
        Io.AfPacketFrameSource afPacket => afPacket.InterfaceIndex,
        Io.AfPacketRingFrameSource ring => ring.InterfaceIndex,
        _ => null,
    };

    /// <summary>Read by the engines: the set does not change once they run.</summary>
    public bool IsAttached(int ifIndex) => _attached.Contains(ifIndex);

    /// <summary>Starts the sweep: once a lease on a timer thread.</summary>
    public void Start()
    {
        lock (_lock)
        {
            if (!_disposed && _sweep is null)
            {
                _sweep = new Timer(_ => SweepAndCount(), null, Lease, Lease);
            }
        }
    }

    /// <summary>
    /// A data plane's offer: later frames of <paramref name="frame"/>'s flow that arrive on <paramref name="ingressIfIndex"/>
    /// (VLAN <paramref name="ingressVlan"/>) may leave as <paramref name="frame"/> did — by <paramref name="egressIfIndex"/>,
    /// tagged <paramref name="egressTci"/>, with its MACs — if they fit <paramref name="egressMtu"/>. <paramref name="frame"/>
    /// is the final frame as transmitted (its VLAN tag, if any, in the frame). Only frames to <paramref name="ingressMac"/> match.
    /// A translated flow's offer has its <paramref name="origin"/>: the addresses and ports its frames arrive with, which
    /// the key takes, while the entry rewrites them into the frame's.
    /// </summary>
    public ShortcutOffer Offer(int ingressIfIndex, ushort ingressVlan, ReadOnlySpan<byte> ingressMac, int egressIfIndex, ushort egressTci, int egressMtu, ReadOnlySpan<byte> frame,
        TunnelShortcutOrigin? origin = null)
    {
        if (!IsAttached(ingressIfIndex) || !IsAttached(egressIfIndex))
        {
            return ShortcutOffer.NotShortcutInterface;
        }

        Span<byte> key = stackalloc byte[ShortcutLayout.KeySize];
        if (!TryWriteKey(frame, ingressIfIndex, ingressVlan, key))
        {
            return ShortcutOffer.NotShortcutFrame;
        }

        var rewrite = origin is { } arrived ? Translate(key, arrived) : null;
        var route = new ShortcutRoute(egressIfIndex, egressTci, new PhysicalAddress(frame[..6].ToArray()), new PhysicalAddress(frame[6..12].ToArray()), egressMtu,
            new PhysicalAddress(ingressMac.ToArray()), rewrite);
        if (_table.TryGet(key, out var old) && (old.Withdrawn || !old.Route.Equals(route)))
        {
            Retire(old);
        }

        return _table.Install(key, route, ShortcutTable.MonotonicNanoseconds()) switch
        {
            ShortcutInstall.Installed => ShortcutOffer.Installed,
            ShortcutInstall.Renewed => ShortcutOffer.Renewed,
            _ => ShortcutOffer.Full,
        };
    }

    /// <summary>
    /// Removes entries that serve no more: withdrawn (SYN, FIN or RST seen) or with a lease over for a whole interval more
    /// (the data plane did not renew it: the flow is back on its path), and idle ones. Then refreshes <see cref="Totals"/>.
    /// Returns the entries removed. An offer that renews an entry while the sweep removes it costs the flow a few packets
    /// through the data plane, which offers it again.
    /// </summary>
    public int Sweep()
    {
        var now = ShortcutTable.MonotonicNanoseconds();
        var lease = (ulong)_table.LeaseNanoseconds;
        var idle = (ulong)(IdleTimeout.TotalMilliseconds * 1_000_000);
        var removed = 0;
        ulong livePackets = 0, liveBytes = 0;
        var live = 0;
        foreach (var (key, entry) in _table.ReadAll())
        {
            var leaseOver = now > entry.LeaseNs && now - entry.LeaseNs >= 2 * lease;
            var unused = now > entry.LastUsedNs && now - entry.LastUsedNs >= idle;
            if (((entry.Withdrawn && now - entry.LastUsedNs >= lease) || (entry.Pending && leaseOver) || unused) && _table.Remove(key))
            {
                Retire(entry);
                removed++;
                continue;
            }

            live++;
            livePackets += entry.Packets;
            liveBytes += entry.Bytes;
        }

        var (lost, unverdicted) = _table.ReadState();
        lock (_lock)
        {
            Totals = new ShortcutTotals(_retiredPackets + livePackets, _retiredBytes + liveBytes, live, lost, unverdicted);
        }

        return removed;
    }

    /// <summary>Every entry now, for the control API and tests.</summary>
    public List<(ShortcutKey Key, ShortcutEntry Entry)> Snapshot() => [.. _table.ReadAll().Select(e => (ShortcutKey.Read(e.Key), e.Entry))];

    public void Dispose()
    {
        Timer? sweep;
        lock (_lock)
        {
            _disposed = true;
            sweep = _sweep;
            _sweep = null;
        }

        if (sweep is not null)
        {
            // Waits for a sweep under way, so the table is not closed under it.
            using var done = new ManualResetEvent(false);
            if (sweep.Dispose(done))
            {
                done.WaitOne(TimeSpan.FromSeconds(5));
            }
        }

        _table.Dispose();
    }

    /// <summary>The timer's work: a sweep, its result in the counters. A failure is counted, never thrown on the timer thread.</summary>
    private void SweepAndCount()
    {
        var counters = _counters;
        try
        {
            var removed = Sweep();
            if (counters is null)
            {
                return;
            }

            var totals = Totals;
            counters.Tunnel[(int)TunnelCounter.ShortcutRemoved] += removed;
            counters.Tunnel[(int)TunnelCounter.ShortcutFramesForwarded] = (long)totals.Packets;
            counters.Tunnel[(int)TunnelCounter.ShortcutBytesForwarded] = (long)totals.Bytes;
            counters.Tunnel[(int)TunnelCounter.ShortcutEntries] = totals.Entries;
            counters.Tunnel[(int)TunnelCounter.ShortcutUnverdicted] = (long)totals.Unverdicted;
            counters.Drops[(int)DropReason.ShortcutLost] = (long)totals.Lost;
        }
        catch (InteropException)
        {
            counters?.Count(TunnelCounter.ShortcutSweepFailed);
        }
    }

    /// <summary>
    /// The key of <paramref name="frame"/>'s flow as the programs build it: false for a frame they do not match (see
    /// <see cref="ShortcutOffer.NotShortcutFrame"/>). A tag in the frame is skipped.
    /// </summary>
    internal static bool TryWriteKey(ReadOnlySpan<byte> frame, int ifIndex, ushort vlan, Span<byte> key)
    {
        var ethertypeAt = 12;
        if (frame.Length >= 18 && BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) is PacketConstants.EtherTypeVlan)
        {
            ethertypeAt = 16;
        }

        if (frame.Length < ethertypeAt + 2)
        {
            return false;
        }

        var ip = frame[(ethertypeAt + 2)..];
        key[..ShortcutLayout.KeySize].Clear();
        int transportAt;
        byte protocol;
        switch (BinaryPrimitives.ReadUInt16BigEndian(frame[ethertypeAt..]))
        {
            case PacketConstants.EtherTypeIpv4:
                if (ip.Length < 20 || ip[0] != 0x45 || (BinaryPrimitives.ReadUInt16BigEndian(ip[6..]) & 0x3fff) != 0)
                {
                    return false;
                }

                protocol = ip[9];
                key[ShortcutLayout.KeyFamily] = 4;
                ip.Slice(12, 4).CopyTo(key[ShortcutLayout.KeySource..]);
                ip.Slice(16, 4).CopyTo(key[ShortcutLayout.KeyDestination..]);
                transportAt = 20;
                break;
            case PacketConstants.EtherTypeIpv6:
                if (ip.Length < 40 || ip[0] >> 4 != 6)
                {
                    return false;
                }

                protocol = ip[6];
                key[ShortcutLayout.KeyFamily] = 6;
                ip.Slice(8, 16).CopyTo(key[ShortcutLayout.KeySource..]);
                ip.Slice(24, 16).CopyTo(key[ShortcutLayout.KeyDestination..]);
                transportAt = 40;
                break;
            default:
                return false;
        }

        if (protocol is not (PacketConstants.ProtocolTcp or PacketConstants.ProtocolUdp) || ip.Length < transportAt + 4)
        {
            return false;
        }

        BinaryPrimitives.WriteInt32LittleEndian(key[ShortcutLayout.KeyIfIndex..], ifIndex);
        BinaryPrimitives.WriteUInt16LittleEndian(key[ShortcutLayout.KeyVlan..], vlan);
        key[ShortcutLayout.KeyProtocol] = protocol;
        ip.Slice(transportAt, 4).CopyTo(key[ShortcutLayout.KeyPorts..]);
        return true;
    }

    /// <summary>
    /// Turns <paramref name="key"/> (written from the frame as it leaves) into the key of the flow as it arrives
    /// (<paramref name="origin"/>), and returns the rewrite from the one to the other; null when they are the same.
    /// </summary>
    internal static ShortcutRewrite? Translate(Span<byte> key, in TunnelShortcutOrigin origin)
    {
        var leaves = new ShortcutRewrite(
            BinaryPrimitives.ReadUInt128BigEndian(key[ShortcutLayout.KeySource..]),
            BinaryPrimitives.ReadUInt128BigEndian(key[ShortcutLayout.KeyDestination..]),
            BinaryPrimitives.ReadUInt16BigEndian(key[ShortcutLayout.KeyPorts..]),
            BinaryPrimitives.ReadUInt16BigEndian(key[(ShortcutLayout.KeyPorts + 2)..]));
        var arrives = new ShortcutRewrite(origin.Source, origin.Destination, origin.SourcePort, origin.DestinationPort);
        if (leaves == arrives)
        {
            return null;
        }

        BinaryPrimitives.WriteUInt128BigEndian(key[ShortcutLayout.KeySource..], origin.Source);
        BinaryPrimitives.WriteUInt128BigEndian(key[ShortcutLayout.KeyDestination..], origin.Destination);
        BinaryPrimitives.WriteUInt16BigEndian(key[ShortcutLayout.KeyPorts..], origin.SourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(key[(ShortcutLayout.KeyPorts + 2)..], origin.DestinationPort);
        return leaves;
    }

    private void Retire(in ShortcutEntry entry)
    {
        lock (_lock)
        {
            _retiredPackets += entry.Packets;
            _retiredBytes += entry.Bytes;
        }
    }
}

/// <summary>What the kernel did for shortcut flows since the node started (as of the last sweep).</summary>
internal readonly record struct ShortcutTotals(ulong Packets, ulong Bytes, int Entries, ulong Lost, ulong Unverdicted);
