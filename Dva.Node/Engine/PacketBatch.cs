using Dva.Node.Io;

namespace Dva.Node.Engine;

/// <summary>
/// Handles one batch of received packets on the engine thread. Must not throw or block; a buffer it
/// neither sends nor takes is recycled by the engine when the handler returns.
/// </summary>
internal delegate void PacketBatchHandler(PacketBatch batch);

/// <summary>
/// Up to <see cref="PacketPort.MaxBatch"/> packets just received on one port. Each buffer holds its frame
/// (<see cref="PacketBuffer.FrameOffset"/>, <see cref="PacketBuffer.FrameLength"/>) and its source address
/// (<see cref="PacketBuffer.Peer"/>). One instance per registration, reused every turn.
/// </summary>
internal sealed class PacketBatch
{
    private readonly PacketBuffer[] _slots;

    internal PacketBatch(EpollEngine engine, PacketPort port, PacketBuffer[] slots)
    {
        Engine = engine;
        Port = port;
        _slots = slots;
    }

    public EpollEngine Engine { get; }

    /// <summary>The port the packets came from.</summary>
    public PacketPort Port { get; }

    public int Count { get; internal set; }

    /// <summary>Packet <paramref name="index"/>; null once it was sent or taken.</summary>
    public PacketBuffer this[int index] => _slots[index];

    /// <summary>
    /// Queues packet <paramref name="index"/> on <paramref name="to"/>'s send batch (flushed at the end of
    /// this loop turn). False, with the packet left to be recycled, if it was already queued or taken.
    /// </summary>
    /// <remarks>
    /// The slot is emptied on success: a full send batch may be flushed (and its buffers recycled) before
    /// the handler returns, so the handler must not touch the packet after sending it. Buffers the handler
    /// owns (taken or rented) go through <see cref="EpollEngine.Send"/> instead.
    /// </remarks>
    public bool Send(int index, PacketPort to)
    {
        var buffer = _slots[index];
        if (buffer is null || !Engine.Send(to, buffer))
        {
            return false;
        }

        _slots[index] = null!;
        return true;
    }

    /// <summary>
    /// Puts <paramref name="buffer"/>, which the caller owned, in place of packet <paramref name="index"/>, which goes back
    /// to its pool; false, nothing changed, when that packet was already sent or taken.
    /// </summary>
    public bool Replace(int index, PacketBuffer buffer)
    {
        if (Take(index) is not { } replaced)
        {
            return false;
        }

        replaced.Release();
        _slots[index] = buffer;
        return true;
    }

    /// <summary>Takes ownership of packet <paramref name="index"/> (e.g. to hold it); the caller must release or send it later.</summary>
    public PacketBuffer? Take(int index)
    {
        var buffer = _slots[index];
        if (buffer is null || buffer.Queued)
        {
            return null;
        }

        _slots[index] = null!;
        return buffer;
    }
}
