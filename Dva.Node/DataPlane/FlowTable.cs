using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using Dva.Node.Config;
using Dva.Node.Services.Conntrack;
using Dva.Shared.Flows;
using Dva.Shared.Packets;
using Dva.Shared.Tables;
using TcpFlags = Dva.Shared.Packets.TcpFlags;

namespace Dva.Node.DataPlane;

/// <summary>One flow, stored inline in the table's array: no object per flow.</summary>
internal struct FlowEntry
{
    // Hot fields first: a probe whose tag matches (FlowTable._tags) reads Hash, a hit then the Key, so they share
    // the entry's first 64 bytes — one cache line, since the table aligns its entries to 64 and an entry is exactly
    // 128 bytes (FlowTableTests pins both) — and a lookup in a table far larger than the caches costs one cache miss,
    // not two (with the probe fields at the end of the entry, or entries off the line grid, a probe touched two
    // lines; FlowTableBenchmarks measured it). Used stays beside Hash for the walks that read entries in order.
    public ulong Hash;

    public bool Used;

    /// <summary>
    /// An alias indexes a translated flow under its reply key (DESIGN.md §8); it carries no counters or state of its
    /// own: <see cref="FlowTable.FindFlow"/> resolves it to the flow. Aliases never expire by themselves.
    /// </summary>
    public bool IsAlias;

    /// <summary>The first packet's isForward (FlowKey.TryFrom): packets with the same value travel in the original direction.</summary>
    public bool OriginIsForward;

    /// <summary>
    /// The firewall's verdict on the flow's first packet; a flow that is not accepted stays in the table (denied) so
    /// its later packets are dropped or rejected without another classification, until it idles out.
    /// </summary>
    public Services.Firewall.FirewallAction Firewall;

    // M is at most 65 536 (TableLimits.MaxBucketCount), so a bucket fits 16 bits; Insert refuses any other.
    private ushort _bucket;

    /// <summary>The VLAN TCI the original direction last came in with (0 = untagged); see <see cref="OriginIfId"/>.</summary>
    public ushort OriginTci;

    public FlowKey Key;
    public long Created;
    public long LastSeen;
    public long ExpiresAt;
    public long PacketsOriginal;
    public long BytesOriginal;
    public long PacketsReply;
    public long BytesReply;

    /// <summary>TCP only: the connection state, tracked by conntrack's state machine (Services/Conntrack/TcpState.cs).</summary>
    public TcpConnection Tcp;

    /// <summary>
    /// The interface the original direction last came in by (IFIDs are 1..255, so 0 = not seen yet). With
    /// <see cref="OriginTci"/> it says on which VLAN of that interface the flow's originator sits, so a reply routed
    /// back out of that interface leaves on the originator's VLAN (DataPlaneRole.PostRouting).
    /// </summary>
    public byte OriginIfId;

    /// <summary>As <see cref="OriginIfId"/>, for the reply direction (with <see cref="ReplyTci"/>).</summary>
    public byte ReplyIfId;

    /// <summary>The rule index that decided (<see cref="Services.Firewall.FirewallMatch.DefaultIndex"/> for the default policy).</summary>
    public int RuleIndex;

    /// <summary>The flow's slot in the <see cref="NatTable"/> (0 = not translated).</summary>
    public int NatIndex;

    /// <summary>
    /// A steer stub (DESIGN.md §2 HANDOFF STEER): this node owns the bucket of a translated flow's reply key but the
    /// data plane holding the flow's state is this one, so every packet found here is handed to it as STEER.
    /// 0 = a flow this node processes itself.
    /// </summary>
    public ushort SteerTo;

    /// <summary>The VLAN TCI the reply direction last came in with (0 = untagged); see <see cref="ReplyIfId"/>.</summary>
    public ushort ReplyTci;

    public int Bucket
    {
        readonly get => _bucket;
        set => _bucket = (ushort)value;
    }
}

/// <summary>
/// The data plane's flow table (DESIGN.md §6, §8): open addressing with linear probing over a power-of-two array
/// of <see cref="FlowEntry"/> structs, keyed by the symmetric <see cref="FlowKey"/> so either direction finds the
/// flow. Deletion shifts the following cluster back (no tombstones), so probe lengths never degrade with churn.
/// A probe walks a compact array of 16-bit tags beside the entries and reads only the entry whose tag matches.
/// Also keeps the number of live flows per bucket, which the manager asks for before pruning history
/// ("A reports no live flow in b"). Owned by one engine thread: no locks, no allocation per packet.
/// </summary>
/// <remarks>
/// The entries live in a pinned array, addressed through a pointer aligned to 2 MiB, for two measured reasons
/// (FlowTableBenchmarks, docs/benchmarks.md "Flow table at 1 M flows"): a managed array's elements start 16 bytes
/// past an 8-byte-aligned object (24 mod 64 in that run), so an entry's hot first 56 bytes straddled two cache
/// lines and a probe paid two misses; and on a KVM guest a miss in a table of 256 MiB also misses the TLB, whose
/// nested page walk added half as much again to the miss (4 KiB against 2 MiB pages), which transparent huge pages (asked for with madvise) avoid.
/// </remarks>
internal sealed unsafe partial class FlowTable
{
    /// <summary>1 M slots of 128 bytes (about 134 MB): room for ~900 k flows (a translated flow takes two slots) at the load limit.</summary>
    public const int DefaultCapacity = 1 << 20;

    // Linear probing stays short up to ~7/8 full; past that a new flow is refused (and counted by the caller).
    private const int LoadLimitNumerator = 7;
    private const int LoadLimitDenominator = 8;

    /// <summary>Entries are 2 MiB-aligned so each 2 MiB of them can be one huge page (and each entry two whole cache lines).</summary>
    private const int HugePageSize = 2 << 20;
    private const int MadviseHugePage = 14; // MADV_HUGEPAGE, linux/mman.h
    private const int CacheLine = 64;

    /// <summary>How many tags <see cref="PrefetchProbe"/> walks at most (clusters are 2–3 slots long on average at half load).</summary>
    private const int ProbeLookahead = 16;

    /// <summary>Keeps the pinned storage alive: <see cref="_entries"/> points into it.</summary>
    private readonly byte[] _storage;
    private readonly FlowEntry* _entries;

    /// <summary>Keeps the pinned tag array alive: <see cref="_tags"/> points into it.</summary>
    private readonly byte[] _tagStorage;

    /// <summary>
    /// One 16-bit tag per slot, 0 when the slot is free (<see cref="Tag"/>), in a separate, cache-line-aligned array:
    /// a probe walks the tags (32 slots per cache line; 4 MiB for 2 M slots, small enough to stay in the last-level
    /// cache) and reads the 128-byte entry of a slot only when its tag matches, so a lookup touches one entry line,
    /// not one per slot it passes, and a missed lookup (a new flow) none. Kept equal to the entries' Used and Hash.
    /// </summary>
    private readonly ushort* _tags;
    private readonly int _mask;
    private readonly int _limit;
    private readonly int[] _bucketCounts = new int[TableLimits.MaxBucketCount];
    private readonly long _tcpEstablished;
    private readonly long _tcpTransitory;
    private readonly long _tcpClosed;
    private readonly long _udp;
    private readonly long _icmp;
    private readonly long _other;
    private int _sweepCursor;
    private int _occupied;

    public FlowTable(int capacity, FlowTimeouts timeouts, long timestampFrequency)
    {
        ArgumentNullException.ThrowIfNull(timeouts);
        if (capacity < 16 || (capacity & (capacity - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "Flow table capacity must be a power of two, 16 or more.");
        }

        // Pinned (never moved by the GC), so a raw pointer into it stays valid for the table's life. A table smaller
        // than a huge page is only aligned to a cache line rather than carry 2 MiB of padding.
        var bytes = (long)capacity * sizeof(FlowEntry);
        var alignment = bytes >= HugePageSize ? HugePageSize : CacheLine;
        if (bytes + alignment > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "Flow table capacity is too large for one array.");
        }

        // Zeroed by the runtime (fresh memory from the OS is not written); committed below, not by the first flows.
        _storage = GC.AllocateArray<byte>((int)(bytes + alignment), pinned: true);
        var start = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_storage));
        var aligned = (byte*)((start + alignment - 1) & ~(nint)(alignment - 1));
        _entries = (FlowEntry*)aligned;

        // Advice only: on a kernel without THP (or with THP off) it fails and the table works with small pages.
        // Pages not touched yet are faulted in as huge pages; any the runtime already wrote are merged later by khugepaged.
        if (alignment == HugePageSize)
        {
            _ = Madvise(aligned, (nuint)bytes, MadviseHugePage);
        }

        _tagStorage = GC.AllocateArray<byte>((capacity * sizeof(ushort)) + CacheLine, pinned: true);
        var tagStart = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_tagStorage));
        _tags = (ushort*)((tagStart + CacheLine - 1) & ~(nint)(CacheLine - 1));

        // Faulted in now, while the role starts, rather than by the packets of the first flows: the first touch of a
        // page is a fault that zero-fills it (2 MiB with huge pages), and the packet that touched it waited for that.
        // A fresh unit's first flows, which after a scale-out arrive all at once, paid it on the data path: in the relay
        // harness (4 096 new flows into a 1 M-slot table) 15 % of the data plane engine's CPU was clear_page under
        // FlowTable.Insert (docs/benchmarks.md "Relay"). A table sized for 1 M flows needs that memory anyway.
        Populate(aligned, bytes);
        Populate((byte*)_tags, (long)capacity * sizeof(ushort));

        _mask = capacity - 1;
        _limit = (int)((long)capacity * LoadLimitNumerator / LoadLimitDenominator);
        _tcpEstablished = Ticks(timeouts.TcpEstablished, timestampFrequency);
        _tcpTransitory = Ticks(timeouts.TcpTransitory, timestampFrequency);
        _tcpClosed = Ticks(timeouts.TcpClosed, timestampFrequency);
        _udp = Ticks(timeouts.Udp, timestampFrequency);
        _icmp = Ticks(timeouts.Icmp, timestampFrequency);
        _other = Ticks(timeouts.Other, timestampFrequency);
    }

    public int Capacity => _mask + 1;

    /// <summary>Live flows (closed TCP flows included until they expire); reply-key aliases are not flows.</summary>
    public int Count { get; private set; }

    /// <summary>NAT state of translated flows; the flow table releases it when a flow is removed.</summary>
    public NatTable? Nat { get; set; }

    /// <summary>The entry in <paramref name="slot"/> (from <see cref="Find"/> or <see cref="Add"/>).</summary>
    public ref FlowEntry this[int slot]
    {
        get
        {
            // The array's bounds check, kept at the one entry point a caller can hand any int to.
            ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)slot, (uint)_mask, nameof(slot));
            return ref _entries[slot];
        }
    }

    /// <summary>
    /// The first stage of a receive batch's prefetch: starts loading the tags around the home slot of
    /// <paramref name="hash"/> without waiting for them. A miss in a table far larger than the caches costs 200–900 ns
    /// on this project's 2-core VM; an engine that runs both stages over every packet of a batch before it looks any of
    /// them up overlaps those misses (FlowTableBenchmarks.KeepOrPuntDecisionBatched against KeepOrPuntDecision).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Prefetch(ulong hash)
    {
        if (Sse.IsSupported)
        {
            Sse.Prefetch0(_tags + Home(hash));
        }
    }

    /// <summary>
    /// The second stage, run once <see cref="Prefetch"/> has been issued for the whole batch: walks the tags from the
    /// home slot of <paramref name="hash"/> (by now in the cache, or on their way) and starts loading the entry of the
    /// first slot whose tag matches, the one the lookup will read; nothing when the walk meets a free slot first (a new
    /// flow). Before the tags, the stage could only guess: the home entry alone left the third of the lookups that probe
    /// past it a whole miss each, and the next entry too doubled the lines per packet (docs/benchmarks.md "Flow table").
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void PrefetchProbe(ulong hash)
    {
        if (!Sse.IsSupported)
        {
            return;
        }

        var tag = Tag(hash);
        var i = Home(hash);
        for (var walked = 0; walked < ProbeLookahead; walked++, i = (i + 1) & _mask)
        {
            var t = _tags[i];
            if (t == 0)
            {
                return;
            }

            if (t == tag)
            {
                Sse.Prefetch0(_entries + i);
                return;
            }
        }
    }

    /// <summary>Live flows in <paramref name="bucket"/>.</summary>
    public int LiveFlows(int bucket) => (uint)bucket < (uint)_bucketCounts.Length ? _bucketCounts[bucket] : 0;

    /// <summary>The slot of <paramref name="key"/>, or -1. <paramref name="hash"/> is the key's flow hash (<see cref="FlowHasher"/> with the DVA seed).</summary>
    public int Find(in FlowKey key, ulong hash)
    {
        var tag = Tag(hash);
        for (var i = Home(hash); ; i = (i + 1) & _mask)
        {
            var t = _tags[i];
            if (t == 0)
            {
                return -1;
            }

            if (t == tag)
            {
                ref var e = ref _entries[i];
                if (e.Hash == hash && e.Key.Equals(key))
                {
                    return i;
                }
            }
        }
    }

    /// <summary>
    /// Adds a flow whose first packet is <paramref name="isForward"/> and returns its slot; -1 when the table is at
    /// its load limit. The caller has checked with <see cref="Find"/> that the key is absent.
    /// </summary>
    public int Add(in FlowKey key, ulong hash, int bucket, bool isForward, long now)
    {
        var i = Insert(key, hash, bucket);
        if (i < 0)
        {
            return -1;
        }

        ref var e = ref _entries[i];
        e.Created = now;
        e.LastSeen = now;
        e.OriginIsForward = isForward;
        Count++;
        return i;
    }

    /// <summary>
    /// Indexes the translated flow in <paramref name="slot"/> (with a NAT slot) also under its reply key, counted in
    /// the reply key's bucket too (DESIGN.md §8). False when the table is full or the key is already taken (another
    /// flow uses that translated tuple). Adding never moves other entries, so <paramref name="slot"/> stays valid.
    /// </summary>
    public bool AddAlias(int slot, in FlowKey replyKey, ulong replyHash, int replyBucket)
    {
        if (Find(replyKey, replyHash) >= 0)
        {
            return false;
        }

        var natIndex = this[slot].NatIndex;
        var i = Insert(replyKey, replyHash, replyBucket);
        if (i < 0)
        {
            return false;
        }

        ref var alias = ref _entries[i];
        alias.IsAlias = true;
        alias.NatIndex = natIndex;
        alias.ExpiresAt = long.MaxValue;
        return true;
    }

    /// <summary>
    /// The slot of the flow <paramref name="key"/> belongs to, or -1: a reply-key alias resolves to its flow
    /// (<paramref name="viaReplyKey"/> true, the packet travels in the reply direction).
    /// </summary>
    public int FindFlow(in FlowKey key, ulong hash, out bool viaReplyKey)
    {
        viaReplyKey = false;
        var slot = Find(key, hash);
        if (slot < 0 || !_entries[slot].IsAlias)
        {
            return slot;
        }

        viaReplyKey = true;
        if (Nat is null || !Nat.TryGetOriginal(_entries[slot].NatIndex, out var originalKey, out var originalHash))
        {
            return -1;
        }

        return Find(originalKey, originalHash);
    }

    private int Insert(in FlowKey key, ulong hash, int bucket)
    {
        if (_occupied >= _limit || (uint)bucket >= (uint)_bucketCounts.Length)
        {
            return -1;
        }

        var i = Home(hash);
        while (_tags[i] != 0)
        {
            i = (i + 1) & _mask;
        }

        ref var e = ref _entries[i];
        e = default;
        e.Key = key;
        e.Hash = hash;
        e.Bucket = bucket;
        e.Used = true;
        _tags[i] = Tag(hash);
        _occupied++;
        _bucketCounts[bucket]++;
        return i;
    }

    /// <summary>
    /// Remembers the interface and VLAN TCI a packet of the flow in <paramref name="slot"/> came in by, for its
    /// direction (<paramref name="original"/>): the last one wins, so a side that moves to another VLAN is followed.
    /// </summary>
    public void RememberIngress(int slot, bool original, byte ifid, ushort tci)
    {
        ref var e = ref this[slot];
        if (original)
        {
            e.OriginIfId = ifid;
            e.OriginTci = tci;
        }
        else
        {
            e.ReplyIfId = ifid;
            e.ReplyTci = tci;
        }
    }

    /// <summary>
    /// The VLAN TCI the side of the flow in <paramref name="slot"/> that <paramref name="original"/>'s packets travel
    /// to last came in with, when it came in by <paramref name="egressIfId"/>; false when that side has not been seen
    /// on that interface.
    /// </summary>
    public bool TryGetPeerTci(int slot, bool original, byte egressIfId, out ushort tci)
    {
        ref readonly var e = ref this[slot];
        var (ifid, peerTci) = original ? (e.ReplyIfId, e.ReplyTci) : (e.OriginIfId, e.OriginTci);
        tci = peerTci;
        return ifid != 0 && ifid == egressIfId;
    }

    /// <summary>
    /// Accounts one packet of the flow in <paramref name="slot"/>: direction-aware counters, last seen, the TCP state
    /// (<see cref="TcpConnection"/>: conntrack's states without sequence windows) and the expiry that state implies.
    /// </summary>
    public void Touch(int slot, bool isForward, int bytes, TcpFlags tcpFlags, long now)
    {
        ref var e = ref this[slot];
        var original = isForward == e.OriginIsForward;
        if (original)
        {
            e.PacketsOriginal++;
            e.BytesOriginal += bytes;
        }
        else
        {
            e.PacketsReply++;
            e.BytesReply += bytes;
        }

        e.LastSeen = now;
        if (e.Key.Protocol == PacketConstants.ProtocolTcp)
        {
            Track(ref e, original, isForward, tcpFlags);
        }

        e.ExpiresAt = now + Timeout(e);
    }

    /// <summary>
    /// Marks a TCP flow created from a packet that was not a SYN (CLAIM with the loose mid-stream policy, or a
    /// DISPATCH with no history): it is taken as already established.
    /// </summary>
    public void MarkEstablished(int slot) => this[slot].Tcp = new TcpConnection(TcpState.Established);

    /// <summary>
    /// Walks up to <paramref name="maxSlots"/> slots from where the last call stopped and removes flows whose time
    /// ran out, so a full pass is spread over many engine turns and never pauses forwarding. Returns how many expired.
    /// </summary>
    public int Sweep(long now, int maxSlots)
    {
        var expired = 0;
        var i = _sweepCursor;
        for (var walked = 0; walked < maxSlots && walked <= _mask; walked++)
        {
            // A removal pulls the next entry of the cluster into this slot, so the slot is looked at again. A free slot
            // costs a look at its tag (32 to a cache line), not at its 128-byte entry.
            while (_tags[i] != 0 && !_entries[i].IsAlias && now - _entries[i].ExpiresAt >= 0)
            {
                RemoveAt(i);
                expired++;
            }

            i = (i + 1) & _mask;
        }

        _sweepCursor = i;
        return expired;
    }

    /// <summary>
    /// Removes the flow in <paramref name="slot"/> and shifts the rest of its cluster back. A translated flow takes
    /// its reply-key alias with it and gives back its member count and SNAT port.
    /// </summary>
    public void RemoveAt(int slot)
    {
        ref var removed = ref this[slot];
        if (!removed.Used)
        {
            return;
        }

        if (removed.IsAlias)
        {
            // Aliases go with their flow; removing one alone would leave the reply direction without state.
            return;
        }

        var natIndex = removed.NatIndex;
        Count--;
        RemoveSlot(slot);
        if (natIndex != 0 && Nat is not null && Nat.TryGetReply(natIndex, out var replyKey, out var replyHash))
        {
            var alias = Find(replyKey, replyHash);
            if (alias >= 0 && _entries[alias].IsAlias)
            {
                RemoveSlot(alias);
            }
        }

        if (natIndex != 0)
        {
            Nat?.Release(natIndex);
        }
    }

    private void RemoveSlot(int slot)
    {
        ref var removed = ref _entries[slot];
        _bucketCounts[removed.Bucket]--;
        _occupied--;
        var hole = slot;
        var j = slot;
        while (true)
        {
            j = (j + 1) & _mask;
            if (_tags[j] == 0)
            {
                break;
            }

            // An entry may fill the hole only if its home slot is not cyclically in (hole, j].
            ref var next = ref _entries[j];
            var home = Home(next.Hash);
            if (((j - home) & _mask) >= ((j - hole) & _mask))
            {
                _entries[hole] = next;
                _tags[hole] = _tags[j];
                hole = j;
            }
        }

        _entries[hole] = default;
        _tags[hole] = 0;
    }

    /// <summary>Copies the live-flow count of buckets 0..destination.Length-1.</summary>
    public void CopyBucketCounts(Span<int> destination) =>
        _bucketCounts.AsSpan(0, Math.Min(destination.Length, _bucketCounts.Length)).CopyTo(destination);

    private static void Track(ref FlowEntry e, bool original, bool isForward, TcpFlags flags)
    {
        var syn = (flags & (TcpFlags.Syn | TcpFlags.Ack)) == TcpFlags.Syn;
        if (syn && !original && e.Tcp.State is TcpState.Closed or TcpState.TimeWait)
        {
            // The port reused by the other side after a close: a new connection whose originator is that side.
            e.OriginIsForward = isForward;
            original = true;
        }

        // Conntrack's INVALID leaves the state as it was; whether such a packet passes is the firewall's business.
        _ = e.Tcp.Update(original ? FlowDirection.Original : FlowDirection.Reply, (Services.Conntrack.TcpFlags)(byte)flags);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private long Timeout(in FlowEntry e) => e.Key.Protocol switch
    {
        PacketConstants.ProtocolTcp => e.Tcp.State switch
        {
            TcpState.Established => _tcpEstablished,
            TcpState.TimeWait or TcpState.Closed => _tcpClosed,
            _ => _tcpTransitory,
        },
        PacketConstants.ProtocolUdp => _udp,
        PacketConstants.ProtocolIcmp or PacketConstants.ProtocolIcmpv6 => _icmp,
        _ => _other,
    };

    /// <summary>
    /// The home slot of a flow hash: its upper half. The low bits are the bucket (hash &amp; (M − 1)), and a data plane
    /// owns only some buckets, so homes taken from them would crowd into a fraction of the slots and merge clusters.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Home(ulong hash) => (int)(hash >> 32) & _mask;

    /// <summary>
    /// The tag of a flow hash: bits 16–31, which neither the bucket (bits 0–15 at most, M ≤ 65 536) nor the home slot
    /// (bits 32 and up) uses, so flows that share a probe sequence, or a bucket, differ in their tags as often as chance
    /// allows; the top bit set keeps it from 0, the free slot. Two flows of one probe sequence share a tag once in
    /// 32 768: the lookup then reads an entry it did not need and compares hash and key as always.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ushort Tag(ulong hash) => (ushort)((hash >> 16) | 0x8000);

    private static long Ticks(TimeSpan span, long frequency) => (long)(span.TotalSeconds * frequency);

    /// <summary>
    /// Makes every page of [<paramref name="start"/>, +<paramref name="length"/>) resident and writable:
    /// MADV_POPULATE_WRITE (Linux 5.14) faults them in one call; where the kernel refuses it, a write of the zero each
    /// page already holds, page by page, does the same.
    /// </summary>
    private static void Populate(byte* start, long length)
    {
        // madvise takes whole pages: the range is widened to them (populating never changes what a page holds).
        var first = (nint)start & ~(nint)(SmallPageSize - 1);
        var end = ((nint)start + (nint)length + SmallPageSize - 1) & ~(nint)(SmallPageSize - 1);
        if (Madvise((void*)first, (nuint)(end - first), MadvisePopulateWrite) == 0)
        {
            return;
        }

        // Only the range's own bytes are written, all still zero: its first byte, then one per following page.
        Volatile.Write(ref start[0], (byte)0);
        for (var page = first + SmallPageSize; page < (nint)start + (nint)length; page += SmallPageSize)
        {
            Volatile.Write(ref *(byte*)page, (byte)0);
        }
    }

    private const int MadvisePopulateWrite = 23; // MADV_POPULATE_WRITE, linux/mman.h
    private const int SmallPageSize = 4096;

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(void* address, nuint length, int advice);
}
