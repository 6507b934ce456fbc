using System.Buffers.Binary;
using Dva.Node.Interop;

namespace Dva.Node.Io;

/// <summary>What the ring walk did with one frame; everything but <see cref="Accepted"/> is a counted drop.</summary>
internal enum RingFrameStatus
{
    Accepted,

    /// <summary>The frame was longer than a ring block holds; the kernel kept only its head (tp_snaplen &lt; tp_len).</summary>
    Truncated,

    /// <summary>
    /// The frame is whole in the ring but longer than a packet buffer's receive capacity, or its VLAN tag does not fit
    /// the buffer's headroom.
    /// </summary>
    Oversize,

    /// <summary>The header points outside its block: the rest of the block is abandoned rather than read out of bounds.</summary>
    Malformed,
}

/// <summary>
/// Where an accepted frame lies in its ring block and what its tpacket3_hdr says of it: whether its transport checksum
/// is unfinished (TP_STATUS_CSUMNOTREADY) and the 802.1Q tag the kernel took off it (TPID 0: none).
/// </summary>
internal readonly record struct RingFrame(int Mac, int Length, int Next, bool ChecksumNotReady, ushort VlanTpid, ushort VlanTci);

/// <summary>
/// Reads the kernel's TPACKET_V3 headers in a PACKET_MMAP ring. They are host-order C structs (linux/if_packet.h),
/// not a wire format: little-endian on the two architectures the interop layer supports (x86-64, arm64).
/// <code>
/// struct tpacket_block_desc (one per block, at its start)
///  0        4               8              12             16                   20
/// +--------+---------------+--------------+--------------+--------------------+----------+---------...
/// |version |offset_to_priv | block_status |   num_pkts   |offset_to_first_pkt | blk_len  | seq, ts
/// +--------+---------------+--------------+--------------+--------------------+----------+---------...
///
/// struct tpacket3_hdr (one per frame, 48 bytes, then struct sockaddr_ll, then the frame at tp_mac)
///  0              4        8         12           16       20          24       26       28
/// +--------------+--------+---------+------------+--------+-----------+--------+--------+-----------+
/// |tp_next_offset| tp_sec | tp_nsec | tp_snaplen | tp_len | tp_status | tp_mac | tp_net | tp_rxhash |
/// +--------------+--------+---------+------------+--------+-----------+--------+--------+-----------+
///  32            36            38           40
/// +-------------+-------------+------------+----------------+
/// | tp_vlan_tci | tp_vlan_tpid| padding    | padding[8]     |
/// +-------------+-------------+------------+----------------+
/// </code>
/// </summary>
internal static class TPacket3
{
    public const int BlockStatusOffset = 8;
    public const int BlockPacketCountOffset = 12;
    public const int BlockFirstPacketOffset = 16;
    public const int BlockDescriptorSize = 48;

    public const int NextOffset = 0;
    public const int SnapLengthOffset = 12;
    public const int LengthOffset = 16;
    public const int StatusOffset = 20;
    public const int MacOffset = 24;
    public const int VlanTciOffset = 32;

    /// <summary>sizeof(struct tpacket3_hdr), already TPACKET_ALIGN'ed: the sockaddr_ll starts here.</summary>
    public const int HeaderSize = 48;

    /// <summary>sizeof(struct sockaddr_ll).</summary>
    public const int LinkAddressSize = 20;

    public const uint StatusKernel = 0;
    public const uint StatusUser = 1;
    public const uint StatusVlanValid = 0x10;

    /// <summary>TP_STATUS_VLAN_TPID_VALID: tp_vlan_tpid holds the tag's TPID (0x8100 is meant without it).</summary>
    public const uint StatusVlanTpidValid = 0x40;

    public const int VlanTpidOffset = 36;

    /// <summary>TP_STATUS_CSUMNOTREADY: a local sender left the transport checksum to the device (CHECKSUM_PARTIAL).</summary>
    public const uint StatusChecksumNotReady = 0x8;

    /// <summary>
    /// Classifies the frame whose tpacket3_hdr starts <paramref name="packet"/> (which runs to the end of its block).
    /// On <see cref="RingFrameStatus.Accepted"/> the frame is <c>packet.Slice(frame.Mac, frame.Length)</c>, and a tag the
    /// kernel took off (TP_STATUS_VLAN_VALID) is in <see cref="RingFrame.VlanTpid"/>/<see cref="RingFrame.VlanTci"/>, to
    /// be put back (in the buffer's headroom). <see cref="RingFrame.Next"/> is tp_next_offset:
    /// 0 on the block's last frame, and only trustworthy unless the result is Malformed.
    /// </summary>
    public static RingFrameStatus Classify(ReadOnlySpan<byte> packet, int capacity, out RingFrame frame)
    {
        frame = default;
        if (packet.Length < HeaderSize + LinkAddressSize)
        {
            return RingFrameStatus.Malformed;
        }

        var nextOffset = BinaryPrimitives.ReadUInt32LittleEndian(packet[NextOffset..]);
        var snapLength = BinaryPrimitives.ReadUInt32LittleEndian(packet[SnapLengthOffset..]);
        var wireLength = BinaryPrimitives.ReadUInt32LittleEndian(packet[LengthOffset..]);
        var status = BinaryPrimitives.ReadUInt32LittleEndian(packet[StatusOffset..]);
        var macOffset = BinaryPrimitives.ReadUInt16LittleEndian(packet[MacOffset..]);
        if (macOffset < HeaderSize + LinkAddressSize ||
            (ulong)macOffset + snapLength > (ulong)packet.Length ||
            (nextOffset != 0 && (nextOffset < HeaderSize || nextOffset > (uint)packet.Length)))
        {
            return RingFrameStatus.Malformed;
        }

        frame = new RingFrame(0, 0, (int)nextOffset, false, 0, 0);
        if (snapLength < wireLength)
        {
            return RingFrameStatus.Truncated;
        }

        var tagged = (status & StatusVlanValid) != 0;
        if (snapLength > (uint)capacity)
        {
            return RingFrameStatus.Oversize;
        }

        var tpid = !tagged ? (ushort)0
            : (status & StatusVlanTpidValid) != 0 ? BinaryPrimitives.ReadUInt16LittleEndian(packet[VlanTpidOffset..])
            : (ushort)0x8100;
        var tci = tagged ? BinaryPrimitives.ReadUInt16LittleEndian(packet[VlanTciOffset..]) : (ushort)0;
        frame = new RingFrame(macOffset, (int)snapLength, (int)nextOffset, (status & StatusChecksumNotReady) != 0, tpid, tci);
        return RingFrameStatus.Accepted;
    }
}

/// <summary>
/// How big the receive ring is. The kernel fills one block at a time and hands it over when it is full or after
/// <see cref="RetireTimeoutMs"/> (rounded up to a timer tick), so at a low rate a frame waits up to that long.
/// </summary>
internal sealed record AfPacketRingGeometry
{
    /// <summary>The ring frame size the kernel is told; V3 packs frames tightly and only uses it for bookkeeping.</summary>
    public const int FrameSize = 2048;

    /// <summary>Bytes per block: a multiple of the page size. 256 KiB holds ~1 600 small frames or ~170 full ones.</summary>
    public int BlockSize { get; init; } = 1 << 18;

    /// <summary>Blocks in the ring; 16 × 256 KiB = 4 MiB, about the default socket receive buffer of a recvmmsg source.</summary>
    public int BlockCount { get; init; } = 16;

    public int RetireTimeoutMs { get; init; } = 1;

    public long TotalBytes => (long)BlockSize * BlockCount;

    /// <summary>Throws with the rule broken; a setup-path check.</summary>
    public void Validate()
    {
        if (BlockSize < 4096 || BlockSize % 4096 != 0 || BlockSize % FrameSize != 0)
        {
            throw new ArgumentException($"ring block size {BlockSize} must be a positive multiple of 4096 bytes");
        }

        if (BlockCount < 2 || TotalBytes > int.MaxValue)
        {
            throw new ArgumentException($"ring of {BlockCount} blocks of {BlockSize} bytes: need at least 2 blocks and under 2 GiB");
        }

        if (RetireTimeoutMs < 1)
        {
            throw new ArgumentException($"ring retire timeout {RetireTimeoutMs} ms must be at least 1 ms");
        }
    }
}

/// <summary>Drops of a ring source by named reason, and what the kernel reports it could not put in the ring.</summary>
internal sealed class AfPacketRingCounters
{
    private readonly long[] _drops = new long[(int)RingFrameStatus.Malformed + 1];
    private long _kernelDrops;
    private long _queueFreezes;

    /// <summary>Frames the kernel dropped because the ring was full (PACKET_STATISTICS tp_drops), as of the last <see cref="AfPacketRingFrameSource.ReadKernelStatistics"/>.</summary>
    public long KernelDrops => Volatile.Read(ref _kernelDrops);

    /// <summary>Times the kernel found every block held by user space and froze the ring (tp_freeze_q_cnt).</summary>
    public long QueueFreezes => Volatile.Read(ref _queueFreezes);

    public long Dropped(RingFrameStatus reason) => Volatile.Read(ref _drops[(int)reason]);

    internal void Drop(RingFrameStatus reason) => Volatile.Write(ref _drops[(int)reason], _drops[(int)reason] + 1);

    internal void AddKernel(long drops, long freezes)
    {
        Interlocked.Add(ref _kernelDrops, drops);
        Interlocked.Add(ref _queueFreezes, freezes);
    }
}

/// <summary>
/// <c>afpacket:IFNAME?ring=1</c>: the <see cref="AfPacketSocket"/> of <c>afpacket:</c>, received through a TPACKET_V3
/// PACKET_MMAP ring. The kernel writes frames into shared blocks; <see cref="Receive"/> walks the blocks user space
/// owns (block_status has TP_STATUS_USER), copies each frame into a packet buffer at its headroom (the dispatcher
/// prepends the tunnel header in place, which a ring slot has no room for) and gives a block back by writing
/// TP_STATUS_KERNEL once every frame in it is copied. No system call per batch: an empty ring costs one load.
/// <para>
/// Transmission stays sendmmsg (the <c>afpacket:</c> path): a TX ring would copy each frame into a ring slot just as
/// sendmmsg copies it into an skb, and still needs a send() per batch to kick the kernel; the receive side, where
/// recvmmsg pays per frame for an skb queue, a socket lock and an address copy, is where the ring saves work.
/// </para>
/// </summary>
internal sealed unsafe class AfPacketRingFrameSource : FrameSource
{
    private readonly MessageBatch _batch = new(SendAddressing.None);
    private readonly byte* _ring;
    private readonly int _blockSize;
    private readonly int _blockCount;
    private int _block;
    private int _offset;
    private int _left;
    private bool _holding;

    private AfPacketRingFrameSource(FrameSourceSpec spec, int fd, int ifIndex, byte* ring, AfPacketRingGeometry geometry)
        : base(spec, fd)
    {
        InterfaceIndex = ifIndex;
        Geometry = geometry;
        _ring = ring;
        _blockSize = geometry.BlockSize;
        _blockCount = geometry.BlockCount;
    }

    public int InterfaceIndex { get; }

    public AfPacketRingGeometry Geometry { get; }

    public AfPacketRingCounters RingCounters { get; } = new();

    public static AfPacketRingFrameSource Open(
        FrameSourceSpec spec,
        bool promiscuous,
        AfPacketRingGeometry? geometry = null,
        int socketBufferBytes = UdpSockets.DefaultSocketBufferBytes,
        AfPacketFanout? fanout = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var name = spec.InterfaceName ?? throw new ArgumentException("afpacket source needs an interface name", nameof(spec));
        geometry ??= new AfPacketRingGeometry();
        geometry.Validate();
        var fd = AfPacketSocket.Open(name, promiscuous, socketBufferBytes, out var ifIndex, fd => SetUpRing(fd, name, geometry), fanout);
        var ring = Libc.mmap(null, (nuint)geometry.TotalBytes, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, fd, 0);
        if (ring == Libc.MapFailed)
        {
            var error = InteropException.FromLastError($"mmap(PACKET_RX_RING, {name}, {geometry.TotalBytes} bytes)");
            _ = Libc.close(fd);
            throw error;
        }

        try
        {
            return new AfPacketRingFrameSource(spec, fd, ifIndex, (byte*)ring, geometry)
            {
                Mtu = NetworkInterfaceControl.GetMtu(name),
                MacAddress = NetworkInterfaceControl.GetMacAddress(name),
            };
        }
        catch
        {
            _ = Libc.munmap(ring, (nuint)geometry.TotalBytes);
            _ = Libc.close(fd);
            throw;
        }
    }

    public override int Receive(Span<PacketBuffer> buffers)
    {
        var n = Math.Min(buffers.Length, MaxBatch);
        var count = 0;
        long bytes = 0;
        while (count < n)
        {
            var block = _ring + ((long)_block * _blockSize);
            if (_left == 0)
            {
                if (_holding)
                {
                    ReleaseBlock(block);
                    continue;
                }

                // Acquire: the kernel's frame writes are visible once the status says the block is ours.
                if ((Volatile.Read(ref *(uint*)(block + TPacket3.BlockStatusOffset)) & TPacket3.StatusUser) == 0)
                {
                    break;
                }

                _holding = true;
                _left = (int)*(uint*)(block + TPacket3.BlockPacketCountOffset);
                _offset = (int)*(uint*)(block + TPacket3.BlockFirstPacketOffset);
                if (_offset < TPacket3.BlockDescriptorSize || _offset > _blockSize)
                {
                    RingCounters.Drop(RingFrameStatus.Malformed);
                    _left = 0;
                }

                continue;
            }

            var packet = new ReadOnlySpan<byte>(block + _offset, _blockSize - _offset);
            var buffer = buffers[count];
            var status = TPacket3.Classify(packet, buffer.ReceiveCapacity, out var frame);
            _left--;
            if (status == RingFrameStatus.Malformed || (frame.Next == 0 && _left > 0))
            {
                RingCounters.Drop(RingFrameStatus.Malformed);
                _left = 0;
                continue;
            }

            _offset += frame.Next;
            if (status != RingFrameStatus.Accepted)
            {
                RingCounters.Drop(status);
                if (status is RingFrameStatus.Truncated or RingFrameStatus.Oversize)
                {
                    Counters.AddTruncated();
                }

                continue;
            }

            packet.Slice(frame.Mac, frame.Length).CopyTo(new Span<byte>(buffer.ReceivePointer, buffer.ReceiveCapacity));
            buffer.SetReceived(frame.Length);

            // The kernel takes an 802.1Q tag off every frame before a packet socket sees it; it goes back where it was.
            if (frame.VlanTpid != 0 && !buffer.TryInsertVlanTag(frame.VlanTpid, frame.VlanTci))
            {
                RingCounters.Drop(RingFrameStatus.Oversize);
                Counters.AddTruncated();
                continue;
            }

            // The ring carries no offload: a checksum a local sender left to the device is finished here.
            if (frame.ChecksumNotReady)
            {
                buffer.Offload = FrameOffload.ChecksumLeftToDevice;
                if (!FrameOffload.TryFinishChecksum(buffer))
                {
                    Counters.AddBadOffload();
                    continue;
                }
            }

            packet.Slice(TPacket3.HeaderSize, TPacket3.LinkAddressSize).CopyTo(buffer.Peer.Bytes);
            buffer.Peer.SetLength(TPacket3.LinkAddressSize);
            bytes += buffer.FrameLength;
            count++;
        }

        // A block read to its end goes back now: the kernel may be waiting for it, and poll() keeps reporting the
        // socket readable while the block before the kernel's current one is still marked as ours.
        if (_holding && _left == 0)
        {
            ReleaseBlock(_ring + ((long)_block * _blockSize));
        }

        Counters.AddReceived(count, bytes);
        return count;
    }

    public override int Send(ReadOnlySpan<PacketBuffer> buffers) => _batch.Send(Fd, buffers, Counters);

    /// <summary>
    /// The ring's drops by name: <c>RingTruncated</c>, <c>RingOversize</c>, <c>RingMalformed</c>
    /// (frames this source read and refused) and <c>RingFull</c> (frames the kernel could not put in the ring,
    /// PACKET_STATISTICS). Only reasons that happened are added.
    /// </summary>
    public override void AddOwnDrops(IDictionary<string, long> drops)
    {
        var counters = ReadKernelStatistics();
        foreach (var reason in Enum.GetValues<RingFrameStatus>())
        {
            if (reason != RingFrameStatus.Accepted)
            {
                AddDrop(drops, "Ring" + reason, counters.Dropped(reason));
            }
        }

        AddDrop(drops, "RingFull", counters.KernelDrops);
    }

    private static void AddDrop(IDictionary<string, long> drops, string reason, long count)
    {
        if (count != 0)
        {
            drops[reason] = drops.TryGetValue(reason, out var earlier) ? earlier + count : count;
        }
    }

    /// <summary>Adds the kernel's ring drop counts since the last call (getsockopt resets them) to <see cref="RingCounters"/>. Not for the engine thread's hot loop.</summary>
    public AfPacketRingCounters ReadKernelStatistics()
    {
        TPacketStatsV3 stats;
        var length = (uint)sizeof(TPacketStatsV3);
        if (Fd >= 0 && Libc.getsockopt(Fd, Libc.SOL_PACKET, Libc.PACKET_STATISTICS, &stats, &length) == 0)
        {
            RingCounters.AddKernel(stats.Drops, stats.FreezeQueueCount);
        }

        return RingCounters;
    }

    protected override void Dispose(bool disposing)
    {
        var wasOpen = Fd >= 0;
        base.Dispose(disposing);
        _batch.Dispose();
        if (wasOpen)
        {
            _ = Libc.munmap(_ring, (nuint)((long)_blockSize * _blockCount));
        }
    }

    private static void SetUpRing(int fd, string name, AfPacketRingGeometry geometry)
    {
        if (!Libc.TrySetInt(fd, Libc.SOL_PACKET, Libc.PACKET_VERSION, Libc.TPACKET_V3))
        {
            throw InteropException.FromLastError($"setsockopt(PACKET_VERSION TPACKET_V3, {name})");
        }

        var request = new TPacketReq3
        {
            BlockSize = (uint)geometry.BlockSize,
            BlockCount = (uint)geometry.BlockCount,
            FrameSize = AfPacketRingGeometry.FrameSize,
            FrameCount = (uint)(geometry.TotalBytes / AfPacketRingGeometry.FrameSize),
            RetireBlockTimeoutMs = (uint)geometry.RetireTimeoutMs,
        };
        if (Libc.setsockopt(fd, Libc.SOL_PACKET, Libc.PACKET_RX_RING, &request, (uint)sizeof(TPacketReq3)) != 0)
        {
            throw InteropException.FromLastError($"setsockopt(PACKET_RX_RING {geometry.BlockCount}x{geometry.BlockSize}, {name})");
        }
    }

    private void ReleaseBlock(byte* block)
    {
        // Release: every copy out of the block is done before the kernel may write into it again.
        Volatile.Write(ref *(uint*)(block + TPacket3.BlockStatusOffset), TPacket3.StatusKernel);
        _holding = false;
        _left = 0;
        _block = _block + 1 == _blockCount ? 0 : _block + 1;
    }
}
