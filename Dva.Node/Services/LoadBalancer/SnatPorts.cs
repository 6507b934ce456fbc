using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Numerics;

namespace Dva.Node.Services.LoadBalancer;

/// <summary>
/// Says whether a candidate SNAT source port makes the reply's flow key hash to a bucket this DP owns.
/// A struct implementation lets the data plane pass its packet's context without allocating a closure.
/// </summary>
internal interface IReplyBucketPredicate
{
    bool OwnsReplyBucket(ushort sourcePort);
}

/// <summary>Outcome of choosing a SNAT source port.</summary>
internal enum SnatStatus : byte
{
    /// <summary>The reply will hash to a bucket this DP owns.</summary>
    Owned = 0,

    /// <summary>No tried port gave an owned reply bucket; the reply must be STEERed to this DP's flow.</summary>
    MustSteer = 1,

    /// <summary>Every port of the range is in use for this (SNAT address, member, protocol).</summary>
    Exhausted = 2,
}

internal readonly record struct SnatPortChoice(SnatStatus Status, ushort Port)
{
    public bool HasPort => Status != SnatStatus.Exhausted;
}

/// <summary>
/// The SNAT source ports in use towards one (SNAT address, member endpoint, protocol): one bit per port
/// of the range, set and cleared with compare-and-swap so any data-plane thread may allocate.
/// </summary>
internal sealed class SnatPortPool
{
    /// <summary>Candidates tried for an owned reply bucket before settling for STEER. With B DPs each port owns with probability about 1/B; 16 tries leave (1-1/B)^16: 0.002 % for 2 DPs, 36 % for 16.</summary>
    public const int DefaultTries = 16;

    private readonly ulong[] _bits;
    private readonly int _size;
    private int _inUse;

    public SnatPortPool(ushort first, ushort last)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(first, last);
        First = first;
        Last = last;
        _size = last - first + 1;
        _bits = new ulong[(_size + 63) / 64];
    }

    public ushort First { get; }
    public ushort Last { get; }
    public int InUse => Volatile.Read(ref _inUse);

    public bool IsInUse(ushort port) =>
        port >= First && port <= Last && (Volatile.Read(ref _bits[(port - First) >> 6]) & (1UL << (port - First))) != 0;

    /// <summary>Marks a specific port used; false if it is outside the range or already taken.</summary>
    public bool TryReserve(ushort port) => port >= First && port <= Last && TryReserveOffset(port - First);

    /// <summary>Returns a port to the pool when its flow ends.</summary>
    public void Release(ushort port)
    {
        if (port < First || port > Last)
        {
            return;
        }

        if (TryFlip(port - First, set: false))
        {
            Interlocked.Decrement(ref _inUse);
        }
    }

    /// <summary>
    /// Reserves a port, preferring one whose reply the predicate says this DP owns: up to
    /// <paramref name="tries"/> free ports are tested, walking up from <paramref name="start"/> (a
    /// pseudo-random value, e.g. from the flow hash, so concurrent flows do not contend on one spot).
    /// Otherwise reserves the first free port tried and reports <see cref="SnatStatus.MustSteer"/>. No allocation.
    /// </summary>
    public SnatPortChoice Select<TPredicate>(ref TPredicate predicate, uint start, int tries = DefaultTries)
        where TPredicate : struct, IReplyBucketPredicate
    {
        int position = (int)(start % (uint)_size);
        int firstFree = -1;
        for (int t = 0; t < tries; t++)
        {
            int free = FindFree(position);
            if (free < 0 || (t > 0 && free == firstFree))
            {
                // Nothing free, or fewer free ports than tries and the walk has come round.
                break;
            }

            if (firstFree < 0)
            {
                firstFree = free;
            }

            ushort port = (ushort)(First + free);
            if (predicate.OwnsReplyBucket(port) && TryReserveOffset(free))
            {
                return new SnatPortChoice(SnatStatus.Owned, port);
            }

            position = free + 1 == _size ? 0 : free + 1;
        }

        // Settle for any free port, starting where the walk started; another thread may take ports
        // meanwhile, so retry a bounded number of times.
        position = firstFree < 0 ? position : firstFree;
        for (int attempt = 0; attempt < 8; attempt++)
        {
            int free = FindFree(position);
            if (free < 0)
            {
                break;
            }

            if (TryReserveOffset(free))
            {
                return new SnatPortChoice(SnatStatus.MustSteer, (ushort)(First + free));
            }

            position = free;
        }

        return new SnatPortChoice(SnatStatus.Exhausted, 0);
    }

    /// <summary>As the generic overload, with a delegate; convenient off the hot path or with a cached delegate.</summary>
    public SnatPortChoice Select(Func<ushort, bool> ownsReplyBucket, uint start, int tries = DefaultTries)
    {
        ArgumentNullException.ThrowIfNull(ownsReplyBucket);
        var predicate = new DelegatePredicate(ownsReplyBucket);
        return Select(ref predicate, start, tries);
    }

    private bool TryReserveOffset(int offset)
    {
        if (!TryFlip(offset, set: true))
        {
            return false;
        }

        Interlocked.Increment(ref _inUse);
        return true;
    }

    /// <summary>Sets or clears one port's bit with compare-and-swap; false if it already had that value.</summary>
    private bool TryFlip(int offset, bool set)
    {
        ulong bit = 1UL << offset;
        ref ulong word = ref _bits[offset >> 6];
        ulong seen = Volatile.Read(ref word);
        while (((seen & bit) != 0) != set)
        {
            ulong previous = Interlocked.CompareExchange(ref word, seen ^ bit, seen);
            if (previous == seen)
            {
                return true;
            }

            seen = previous;
        }

        return false;
    }

    /// <summary>The first free offset at or after <paramref name="offset"/>, wrapping round once; -1 if none.</summary>
    private int FindFree(int offset)
    {
        int position = offset;
        int scanned = 0;
        while (scanned <= _size)
        {
            int index = position >> 6;
            ulong free = ~Volatile.Read(ref _bits[index]) & (ulong.MaxValue << (position & 63));
            int wordEnd = Math.Min((index + 1) << 6, _size);
            if (wordEnd - (index << 6) < 64)
            {
                // The last word's bits past the range are not ports.
                free &= (1UL << (wordEnd - (index << 6))) - 1;
            }

            if (free != 0)
            {
                return (index << 6) + BitOperations.TrailingZeroCount(free);
            }

            scanned += wordEnd - position;
            position = wordEnd == _size ? 0 : wordEnd;
        }

        return -1;
    }

    private readonly struct DelegatePredicate(Func<ushort, bool> predicate) : IReplyBucketPredicate
    {
        public bool OwnsReplyBucket(ushort sourcePort) => predicate(sourcePort);
    }
}

/// <summary>The SNAT port pools of a DP, one per (SNAT address, member endpoint, protocol), created on first use.</summary>
internal sealed class SnatPortAllocator
{
    private readonly ConcurrentDictionary<SnatKey, SnatPortPool> _pools = new();

    /// <summary>Ports below 1024 are left alone: some backends treat privileged source ports as trusted.</summary>
    public SnatPortAllocator(ushort first = 1024, ushort last = 65535)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(first, last);
        First = first;
        Last = last;
    }

    public ushort First { get; }
    public ushort Last { get; }
    public int PoolCount => _pools.Count;

    public SnatPortPool For(AddressFamily family, UInt128 snatAddress, MemberEntry member, byte protocol)
    {
        ArgumentNullException.ThrowIfNull(member);
        return For(new SnatKey(family, snatAddress, member.Address, member.Port, protocol));
    }

    /// <summary>
    /// Chooses and reserves a SNAT source port for a new flow towards <paramref name="member"/> from
    /// <paramref name="snatAddress"/> (the backend-side shared IP); see <see cref="SnatPortPool.Select{TPredicate}"/>.
    /// The flow keeps <paramref name="pool"/> to release the port when it ends (<see cref="NatBinding"/>).
    /// </summary>
    public SnatPortChoice Select<TPredicate>(
        AddressFamily family, UInt128 snatAddress, MemberEntry member, byte protocol, ref TPredicate ownsReplyBucket,
        uint start, out SnatPortPool pool, int tries = SnatPortPool.DefaultTries)
        where TPredicate : struct, IReplyBucketPredicate
    {
        pool = For(family, snatAddress, member, protocol);
        return pool.Select(ref ownsReplyBucket, start, tries);
    }

    public SnatPortPool For(in SnatKey key) =>
        _pools.GetOrAdd(key, static (_, range) => new SnatPortPool(range.First, range.Last), (First, Last));

    /// <summary>Drops the pool of a (SNAT address, member, protocol) that has no port in use, e.g. after the member was removed.</summary>
    public bool TryRemoveIdle(in SnatKey key) =>
        _pools.TryGetValue(key, out SnatPortPool? pool) && pool.InUse == 0
        && _pools.TryRemove(new KeyValuePair<SnatKey, SnatPortPool>(key, pool));
}

/// <summary>Identifies a SNAT port pool: translated flows towards one member from one SNAT address.</summary>
internal readonly record struct SnatKey(AddressFamily Family, UInt128 SnatAddress, UInt128 MemberAddress, ushort MemberPort, byte Protocol);
