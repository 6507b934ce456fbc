using Dva.Node.Io;

namespace Dva.Node.DataPlane;

/// <summary>
/// Packets waiting for a table (DESIGN.md §5): a data plane that just joined, or one a table behind, keeps a
/// packet whose ERA it cannot serve yet for a short time instead of dropping it at once. Bounded in count and
/// age; a ring in arrival order, owned by the engine thread.
/// </summary>
internal sealed class HoldQueue
{
    /// <summary>At most this many packets wait.</summary>
    public const int DefaultCapacity = 64;

    /// <summary>And each waits at most this long.</summary>
    public static readonly TimeSpan DefaultMaxAge = TimeSpan.FromMilliseconds(50);

    private readonly PacketBuffer?[] _buffers;
    private readonly long[] _heldAt;
    private int _head;

    public HoldQueue(int capacity = DefaultCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _buffers = new PacketBuffer?[capacity];
        _heldAt = new long[capacity];
    }

    public int Count { get; private set; }

    public int Capacity => _buffers.Length;

    /// <summary>Adds <paramref name="buffer"/>, held since <paramref name="heldAt"/>; false when full.</summary>
    public bool TryEnqueue(PacketBuffer buffer, long heldAt)
    {
        if (Count == _buffers.Length)
        {
            return false;
        }

        var tail = (_head + Count) % _buffers.Length;
        _buffers[tail] = buffer;
        _heldAt[tail] = heldAt;
        Count++;
        return true;
    }

    /// <summary>Takes the oldest packet and the time it was first held.</summary>
    public bool TryDequeue(out PacketBuffer buffer, out long heldAt)
    {
        if (Count == 0)
        {
            buffer = null!;
            heldAt = 0;
            return false;
        }

        buffer = _buffers[_head]!;
        heldAt = _heldAt[_head];
        _buffers[_head] = null;
        _head = (_head + 1) % _buffers.Length;
        Count--;
        return true;
    }

    /// <summary>True when the oldest packet was held at or before <paramref name="cutoff"/>.</summary>
    public bool OldestHeldBy(long cutoff) => Count > 0 && _heldAt[_head] - cutoff <= 0;
}
