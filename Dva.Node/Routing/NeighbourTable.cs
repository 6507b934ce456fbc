using Dva.Shared.Packets;

namespace Dva.Node.Routing;

/// <summary>
/// IP → MAC per shared interface, learned from ARP (and neighbour discovery) the node sees. Entries expire so a
/// host that moved is re-learned. Owned by one engine thread (a data plane engine's: it is written and read only
/// there, so it takes no lock; other threads ask the engine for a <see cref="Snapshot"/>), or
/// <paramref name="shared"/> by the engines of a dispatcher, which take a lock: an ARP reply reaches whichever engine
/// PACKET_FANOUT gives it, while the frames waiting for it may sit on another (DispatcherRole.CreateGroup). Only a
/// RESOLVE and an ARP frame look the table up there, not the dispatch of a packet.
/// </summary>
internal sealed class NeighbourTable(TimeProvider time, TimeSpan lifetime, bool shared = false)
{
    private readonly Dictionary<(byte Ifid, IpAddr Address), Entry> _entries = [];
    private readonly Lock? _lock = shared ? new Lock() : null;

    public static TimeSpan DefaultLifetime { get; } = TimeSpan.FromMinutes(5);

    public int Count
    {
        get
        {
            if (_lock is null)
            {
                return _entries.Count;
            }

            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>
    /// Records what an ARP packet or reply told, with the VLAN TCI the frame came in with (0 untagged): the host sits
    /// on that VLAN of the interface. Returns true when the entry is new or changed (MAC or VLAN).
    /// </summary>
    public bool Learn(byte ifid, IpAddr address, ReadOnlySpan<byte> mac, ushort tci = 0)
    {
        if (_lock is null)
        {
            return LearnCore(ifid, address, mac, tci);
        }

        lock (_lock)
        {
            return LearnCore(ifid, address, mac, tci);
        }
    }

    public bool TryGet(byte ifid, IpAddr address, Span<byte> mac) => TryGet(ifid, address, mac, out _);

    /// <summary>The neighbour's MAC into <paramref name="mac"/> and the VLAN TCI it was learned on.</summary>
    public bool TryGet(byte ifid, IpAddr address, Span<byte> mac, out ushort tci)
    {
        if (_lock is null)
        {
            return TryGetCore(ifid, address, mac, out tci);
        }

        lock (_lock)
        {
            return TryGetCore(ifid, address, mac, out tci);
        }
    }

    /// <summary>Drops expired entries (called from an engine timer).</summary>
    public int Expire()
    {
        if (_lock is null)
        {
            return ExpireCore();
        }

        lock (_lock)
        {
            return ExpireCore();
        }
    }

    /// <summary>Every entry: IFID, address, MAC hex and the VLAN id it was learned on (0 untagged).</summary>
    public IReadOnlyList<(byte Ifid, IpAddr Address, string Mac, ushort Vlan)> Snapshot()
    {
        if (_lock is null)
        {
            return SnapshotCore();
        }

        lock (_lock)
        {
            return SnapshotCore();
        }
    }

    private bool LearnCore(byte ifid, IpAddr address, ReadOnlySpan<byte> mac, ushort tci)
    {
        if (mac.Length < 6 || address.Version == 0 || (mac[0] & 1) != 0)
        {
            return false;
        }

        // The MAC takes the low 48 bits; the TCI rides in the top 16.
        var value = Pack(mac) | ((ulong)tci << 48);
        var now = time.GetTimestamp();
        ref var slot = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_entries, (ifid, address), out var existed);
        var changed = !existed || slot.Mac != value;
        slot = new Entry(value, now);
        return changed;
    }

    private bool TryGetCore(byte ifid, IpAddr address, Span<byte> mac, out ushort tci)
    {
        if (_entries.TryGetValue((ifid, address), out var e) && time.GetElapsedTime(e.LearnedAt) < lifetime)
        {
            Unpack(e.Mac, mac);
            tci = (ushort)(e.Mac >> 48);
            return true;
        }

        tci = 0;
        return false;
    }

    private int ExpireCore()
    {
        var removed = 0;
        foreach (var (key, e) in _entries)
        {
            if (time.GetElapsedTime(e.LearnedAt) >= lifetime)
            {
                _entries.Remove(key);
                removed++;
            }
        }

        return removed;
    }

    private List<(byte Ifid, IpAddr Address, string Mac, ushort Vlan)> SnapshotCore()
    {
        Span<byte> mac = stackalloc byte[6];
        var list = new List<(byte, IpAddr, string, ushort)>(_entries.Count);
        foreach (var (key, e) in _entries)
        {
            Unpack(e.Mac, mac);
            list.Add((key.Ifid, key.Address, Convert.ToHexString(mac), (ushort)((e.Mac >> 48) & 0x0FFF)));
        }

        return list;
    }

    private static ulong Pack(ReadOnlySpan<byte> mac) =>
        ((ulong)mac[0] << 40) | ((ulong)mac[1] << 32) | ((ulong)mac[2] << 24) | ((ulong)mac[3] << 16) | ((ulong)mac[4] << 8) | mac[5];

    private static void Unpack(ulong value, Span<byte> mac)
    {
        for (var i = 5; i >= 0; i--)
        {
            mac[i] = (byte)value;
            value >>= 8;
        }
    }

    private readonly record struct Entry(ulong Mac, long LearnedAt);
}
