using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Dva.Shared.Wire;

namespace Dva.Node.Io;

/// <summary>
/// One pinned packet buffer from a <see cref="BufferPool"/>. A received frame starts at
/// <see cref="BufferPool.Headroom"/> so a dispatcher can write the tunnel header in place in front of it
/// (<see cref="TryPrepend"/>) and a data plane can strip and grow headers without copying the frame.
/// <code>
/// 0                 FrameOffset                FrameOffset+FrameLength        Capacity
/// +-----------------+--------------------------+------------------------------+
/// |  headroom       |  frame (or header+frame) |  tailroom                    |
/// +-----------------+--------------------------+------------------------------+
/// </code>
/// </summary>
internal sealed unsafe class PacketBuffer
{
    private readonly byte[] _memory;
    private readonly byte* _base;

    internal PacketBuffer(BufferPool? pool, int capacity, int headroom)
    {
        // Pinned on the POH: the kernel reads and writes these bytes through raw pointers in iovecs.
        _memory = GC.AllocateUninitializedArray<byte>(capacity, pinned: true);
        _base = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_memory));
        Pool = pool;
        Headroom = headroom;
        FrameOffset = headroom;
    }

    /// <summary>A buffer outside any pool, for tests and control paths.</summary>
    public static PacketBuffer CreateUnpooled(int frameSize = BufferPool.DefaultFrameSize, int headroom = BufferPool.DefaultHeadroom) =>
        new(null, frameSize + headroom, headroom);

    public BufferPool? Pool { get; }

    public int Capacity => _memory.Length;

    public int Headroom { get; }

    /// <summary>Start of the frame (or of the outermost header written in front of it).</summary>
    public int FrameOffset { get; private set; }

    public int FrameLength { get; private set; }

    /// <summary>The peer the datagram came from, or goes to (UDP sockets); the sockaddr_ll of AF_PACKET.</summary>
    public PacketAddress Peer;

    /// <summary>
    /// Outer UDP source port for a tunnel send (DESIGN.md §2: <c>49152 + (flowHash >> 50)</c>), or 0 for the
    /// socket's bound port. Honoured by a <see cref="UdpTunnelSocket"/> with per-flow source ports on; cleared
    /// on receive and on release, so only the role that computed a flow's hash sets it.
    /// </summary>
    public ushort SourcePort { get; set; }

    /// <summary>
    /// What the kernel said of the frame in its virtio_net_hdr (an <c>afpacket:IF?gso=1</c> source), or what a dispatcher
    /// carries to such a source for the kernel to finish: a GSO super-frame, a checksum left to the device. None on every
    /// other path; cleared on receive and on release.
    /// </summary>
    public TunnelOffload Offload;

    /// <summary>With <see cref="Offload"/>: where the device's checksum starts (the transport header), from the frame start.</summary>
    public ushort ChecksumStart;

    /// <summary>With <see cref="Offload"/>: the checksum field's offset from <see cref="ChecksumStart"/> (16 TCP, 6 UDP).</summary>
    public ushort ChecksumOffset;

    /// <summary>With a GSO <see cref="Offload"/> on send: the length of the headers every segment repeats (virtio hdr_len).</summary>
    public ushort GsoHeaderLength;

    /// <summary>Set while the buffer waits in a send batch, so the engine does not recycle it under the handler.</summary>
    internal bool Queued { get; set; }

    /// <summary>Set while the buffer sits in its pool's free list; guards against a second release.</summary>
    internal bool InPool { get; set; }

    public Span<byte> Frame => new(_base + FrameOffset, FrameLength);

    /// <summary>Everything after <see cref="FrameOffset"/>: where a frame is built before <see cref="SetFrameLength"/>.</summary>
    public Span<byte> Writable => new(_base + FrameOffset, Capacity - FrameOffset);

    internal byte* FramePointer => _base + FrameOffset;

    internal byte* ReceivePointer => _base + Headroom;

    internal int ReceiveCapacity => Capacity - Headroom;

    /// <summary>Grows the frame by <paramref name="count"/> bytes at the front; false if the headroom is used up.</summary>
    public bool TryPrepend(int count, out Span<byte> header)
    {
        if ((uint)count > (uint)FrameOffset)
        {
            header = default;
            return false;
        }

        FrameOffset -= count;
        FrameLength += count;
        header = new Span<byte>(_base + FrameOffset, count);
        return true;
    }

    /// <summary>
    /// Puts back an 802.1Q (or 802.1ad) tag the kernel took off the frame (<paramref name="tpid"/>, <paramref name="tci"/>)
    /// between its MAC addresses and its EtherType, using 4 bytes of headroom; false without them or an Ethernet header.
    /// </summary>
    public bool TryInsertVlanTag(ushort tpid, ushort tci)
    {
        const int macs = 12;
        if (FrameLength < macs + 2 || !TryPrepend(4, out _))
        {
            return false;
        }

        var frame = Frame;
        frame.Slice(4, macs).CopyTo(frame);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(frame[macs..], tpid);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(frame[(macs + 2)..], tci);
        return true;
    }

    /// <summary>Removes <paramref name="count"/> bytes from the front (a tunnel header); false if the frame is shorter.</summary>
    public bool TryTrimFront(int count)
    {
        if ((uint)count > (uint)FrameLength)
        {
            return false;
        }

        FrameOffset += count;
        FrameLength -= count;
        return true;
    }

    /// <summary>Sets the frame length from <see cref="FrameOffset"/>; false if it would pass the end of the buffer.</summary>
    public bool SetFrameLength(int length)
    {
        if ((uint)length > (uint)(Capacity - FrameOffset))
        {
            return false;
        }

        FrameLength = length;
        return true;
    }

    /// <summary>Makes the frame the <paramref name="length"/> bytes at <paramref name="offset"/> from the buffer's start; false if they are not all in it.</summary>
    public bool TrySetFrameAt(int offset, int length)
    {
        if (offset < 0 || length < 0 || (long)offset + length > Capacity)
        {
            return false;
        }

        FrameOffset = offset;
        FrameLength = length;
        return true;
    }

    /// <summary>Copies <paramref name="frame"/> in at the headroom; false if it does not fit.</summary>
    public bool TrySetFrame(ReadOnlySpan<byte> frame)
    {
        FrameOffset = Headroom;
        if (!SetFrameLength(frame.Length))
        {
            FrameLength = 0;
            return false;
        }

        frame.CopyTo(Frame);
        return true;
    }

    /// <summary>Records a received frame of <paramref name="length"/> bytes at the headroom.</summary>
    internal void SetReceived(int length)
    {
        FrameOffset = Headroom;
        FrameLength = length;
        SourcePort = 0;
        ClearOffload();
    }

    internal void ClearOffload()
    {
        Offload = default;
        ChecksumStart = 0;
        ChecksumOffset = 0;
        GsoHeaderLength = 0;
    }

    internal void Reset()
    {
        FrameOffset = Headroom;
        FrameLength = 0;
        Peer.SetLength(0);
        SourcePort = 0;
        ClearOffload();
        Queued = false;
    }

    /// <summary>Gives the buffer back to its pool; unpooled buffers are left to the GC.</summary>
    public void Release() => Pool?.Return(this);
}
