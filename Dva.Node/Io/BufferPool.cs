using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;

namespace Dva.Node.Io;

/// <summary>
/// A bounded pool of pinned <see cref="PacketBuffer"/>s of one size. Buffers are created on demand up
/// to <see cref="MaxBuffers"/> (a compare-and-swap counter, as Kestrel's pinned block pool bounds
/// itself) and then only recycled, so a steady stream of packets allocates nothing.
/// </summary>
internal sealed class BufferPool
{
    /// <summary>
    /// Room for the outer IPv6 + UDP header (48 bytes) and a secure tunnel header with a full node-id list and a SHORTCUT
    /// word (58) in front of a frame received at the headroom. A header with an ORIGIN block as well is longer
    /// (<see cref="Dva.Shared.Wire.TunnelLayout.MaxHeaderLength"/>, 94), but only a data plane's EGRESS carries one, and it
    /// is written over the tunnel header the frame came in with (at least 14 bytes): at most 44 more, so 36 bytes are
    /// still left after SEQ and the outer IPv6 + UDP header.
    /// </summary>
    public const int DefaultHeadroom = 128;

    /// <summary>A 1500-byte MTU Ethernet frame with VLAN tags fits with room to spare.</summary>
    public const int DefaultFrameSize = 2048;

    private readonly ConcurrentQueue<PacketBuffer> _free = new();
    private int _created;
    private long _exhausted;
    private long _doubleReturns;

    public BufferPool(int maxBuffers, int frameSize = DefaultFrameSize, int headroom = DefaultHeadroom)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBuffers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(frameSize, 64);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(frameSize, 65536 + 1024);
        ArgumentOutOfRangeException.ThrowIfNegative(headroom);
        MaxBuffers = maxBuffers;
        FrameSize = frameSize;
        Headroom = headroom;
    }

    public int MaxBuffers { get; }

    /// <summary>The largest frame a buffer holds after its headroom (64 KiB for GSO frames later).</summary>
    public int FrameSize { get; }

    public int Headroom { get; }

    public int BufferCapacity => FrameSize + Headroom;

    /// <summary>Buffers created so far (never more than <see cref="MaxBuffers"/>).</summary>
    public int Created => Volatile.Read(ref _created);

    public int Available => _free.Count;

    /// <summary>Times <see cref="TryRent"/> found the pool empty and at its bound.</summary>
    public long Exhausted => Interlocked.Read(ref _exhausted);

    public bool TryRent([NotNullWhen(true)] out PacketBuffer? buffer)
    {
        if (_free.TryDequeue(out buffer))
        {
            buffer.InPool = false;
            return true;
        }

        var created = Volatile.Read(ref _created);
        while (created < MaxBuffers)
        {
            var seen = Interlocked.CompareExchange(ref _created, created + 1, created);
            if (seen == created)
            {
                buffer = new PacketBuffer(this, BufferCapacity, Headroom);
                return true;
            }

            created = seen;
        }

        Interlocked.Increment(ref _exhausted);
        buffer = null;
        return false;
    }

    /// <summary>Times a buffer was returned while already in the pool (a caller bug; the second return is ignored).</summary>
    public long DoubleReturns => Interlocked.Read(ref _doubleReturns);

    public void Return(PacketBuffer buffer)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        if (!ReferenceEquals(buffer.Pool, this))
        {
            throw new ArgumentException("buffer belongs to another pool", nameof(buffer));
        }

        if (buffer.InPool)
        {
            Interlocked.Increment(ref _doubleReturns);
            return;
        }

        buffer.Reset();
        buffer.InPool = true;
        _free.Enqueue(buffer);
    }
}
