using Dva.Node.Services.LoadBalancer;
using Dva.Shared.Flows;
using Dva.Shared.Packets;

namespace Dva.Node.DataPlane;

/// <summary>The translation of one load-balanced flow, beside its flow entry.</summary>
internal struct NatEntry
{
    /// <summary>The member, the SNAT address and port, and the pool the port came from.</summary>
    public NatBinding Binding;

    /// <summary>The client's address and port: the reply's destination is put back to them.</summary>
    public IpAddr Client;
    public ushort ClientPort;

    /// <summary>The VIP the client addressed: the reply's source is put back to it.</summary>
    public IpAddr Vip;
    public ushort VipPort;

    /// <summary>The member the flow was sent to.</summary>
    public IpAddr Member;
    public ushort MemberPort;

    /// <summary>The SNAT source (the backend-side shared address); <see cref="HasSnat"/> false when none applies.</summary>
    public IpAddr Snat;
    public ushort SnatPort;
    public bool HasSnat;

    /// <summary>The flow's original key (client ↔ VIP) and its hash: an alias under the reply key leads back here.</summary>
    public FlowKey OriginalKey;
    public ulong OriginalHash;

    /// <summary>The reply key (member ↔ SNAT address:port) and its hash, once the alias is in the flow table.</summary>
    public FlowKey ReplyKey;
    public ulong ReplyHash;
    public bool HasReply;

    /// <summary>
    /// The data plane owning the reply key's bucket when that is not this one (0 otherwise): it holds a steer stub and
    /// hands the replies here. Original-direction packets go through it (STEER, HOOK POSTROUTING) until a reply
    /// arrived, so a lost first packet cannot leave the reply without its stub.
    /// </summary>
    public ushort SteerVia;

    /// <summary>A reply-direction packet was processed: the steer stub exists at <see cref="SteerVia"/>.</summary>
    public bool ReplySeen;

    public bool Used;
}

/// <summary>
/// NAT state of translated flows in a fixed array with a free list, so a flow entry carries only an index (flow
/// entries move on deletion; these do not). Slot 0 is never used: index 0 means "not translated". Engine thread only.
/// </summary>
internal sealed class NatTable
{
    /// <summary>256 k translated flows (about 60 MB, committed by the OS only as slots are first used).</summary>
    public const int DefaultCapacity = 1 << 18;

    private readonly NatEntry[] _entries;
    private readonly int[] _free;
    private int _freeCount;

    public NatTable(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 2);
        _entries = new NatEntry[capacity];
        _free = new int[capacity - 1];
        for (var i = 0; i < _free.Length; i++)
        {
            // Lowest index handed out first.
            _free[i] = capacity - 1 - i;
        }

        _freeCount = _free.Length;
    }

    public int Count => _free.Length - _freeCount;

    public ref NatEntry this[int index] => ref _entries[index];

    /// <summary>Takes a free slot; 0 when every slot is in use.</summary>
    public int Allocate()
    {
        if (_freeCount == 0)
        {
            return 0;
        }

        var index = _free[--_freeCount];
        _entries[index] = default;
        _entries[index].Used = true;
        return index;
    }

    /// <summary>Gives back what the flow held (member and VIP counts, SNAT port) and frees the slot.</summary>
    public void Release(int index)
    {
        if ((uint)index >= (uint)_entries.Length || index == 0 || !_entries[index].Used)
        {
            return;
        }

        _entries[index].Binding.Release();
        _entries[index] = default;
        _free[_freeCount++] = index;
    }

    public bool TryGetOriginal(int index, out FlowKey key, out ulong hash)
    {
        ref readonly var e = ref _entries[(uint)index < (uint)_entries.Length ? index : 0];
        key = e.OriginalKey;
        hash = e.OriginalHash;
        return e.Used;
    }

    public bool TryGetReply(int index, out FlowKey key, out ulong hash)
    {
        ref readonly var e = ref _entries[(uint)index < (uint)_entries.Length ? index : 0];
        key = e.ReplyKey;
        hash = e.ReplyHash;
        return e.Used && e.HasReply;
    }
}
