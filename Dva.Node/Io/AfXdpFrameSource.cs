using Dva.Node.Interop;

namespace Dva.Node.Io;

/// <summary>
/// <c>afxdp:IFNAME</c>: frames received through an AF_XDP socket. An XDP program on the interface
/// (<see cref="XdpRedirectProgram"/>) redirects every frame of queue 0 into this socket before the kernel's network
/// stack sees it; the kernel writes the frame into a chunk of the UMEM (memory this source maps and registers) and
/// hands its offset over on the RX ring. <see cref="Receive"/> copies each frame into a packet buffer at its headroom
/// (the dispatcher prepends the tunnel header in place, which a UMEM chunk is not laid out for) and gives the chunk
/// straight back on the fill ring. No system call per batch: an empty ring costs one load.
/// <para>
/// Transmission is sendmmsg on an AF_PACKET socket bound to the interface with protocol 0, so it receives nothing
/// (the XDP program takes every frame anyway). AF_XDP's own TX ring on a device without zero-copy support (veth, most
/// virtual NICs) goes through the same skb path one frame at a time; the receive side is where XDP saves work.
/// </para>
/// <para>
/// One queue: the source binds queue 0 and refuses an interface with more receive queues, whose other queues'
/// frames would bypass it. The UMEM has <see cref="Chunks"/> chunks of <see cref="ChunkSize"/> bytes (16 MiB); a frame
/// must fit a chunk less the kernel's 256-byte XDP headroom, so the interface MTU is checked at open.
/// </para>
/// </summary>
internal sealed unsafe class AfXdpFrameSource : FrameSource
{
    public const int ChunkSize = 4096;
    public const int Chunks = 4096;
    public const int RxEntries = Chunks;

    /// <summary>XDP_PACKET_HEADROOM: the kernel keeps this much of each chunk before the frame.</summary>
    public const int KernelHeadroom = 256;

    /// <summary>The longest frame a chunk holds.</summary>
    public const int MaxFrame = ChunkSize - KernelHeadroom;

    /// <summary>The kernel wants a completion ring with a UMEM even when nothing is sent through it.</summary>
    private const int CompletionEntries = 64;

    private const long UmemBytes = (long)ChunkSize * Chunks;

    private readonly MessageBatch _batch = new(SendAddressing.None);
    private readonly Mapping _umem;
    private readonly Mapping _fill;
    private readonly Mapping _completion;
    private readonly Mapping _rx;
    private readonly uint* _rxProducer;
    private readonly uint* _rxConsumer;
    private readonly XdpDescriptor* _rxRing;
    private readonly uint* _fillProducer;
    private readonly ulong* _fillRing;
    private readonly XdpRedirectProgram _program;
    private int _txFd;
    private long _oversize;
    private long _malformed;

    private AfXdpFrameSource(FrameSourceSpec spec, int fd, Rings rings, XdpRedirectProgram program, int txFd, int ifIndex)
        : base(spec, fd)
    {
        (_umem, _fill, _completion, _rx) = (rings.Umem, rings.Fill, rings.Completion, rings.Rx);
        var offsets = rings.Offsets;
        _rxProducer = (uint*)(_rx.Address + offsets.Rx.Producer);
        _rxConsumer = (uint*)(_rx.Address + offsets.Rx.Consumer);
        _rxRing = (XdpDescriptor*)(_rx.Address + offsets.Rx.Descriptors);
        _fillProducer = (uint*)(_fill.Address + offsets.Fill.Producer);
        _fillRing = (ulong*)(_fill.Address + offsets.Fill.Descriptors);
        _program = program;
        _txFd = txFd;
        InterfaceIndex = ifIndex;
        PollInterval = DefaultPollInterval;
    }

    public int InterfaceIndex { get; }

    /// <summary>
    /// The kernel wakes an AF_XDP reader at every flush of the driver's poll, on veth every couple of frames; a wakeup
    /// then costs more than the frames. The engine polls this source instead while frames keep coming (its
    /// <see cref="PacketPort.PollInterval"/>): at most this much added to a frame under load, none to the first after a pause.
    /// </summary>
    public static readonly TimeSpan DefaultPollInterval = TimeSpan.FromMicroseconds(50);

    /// <summary>Where the XDP program runs: in the driver or at the generic hook.</summary>
    public XdpAttachMode AttachMode => _program.Mode;

    /// <summary>The socket that sends (AF_PACKET, protocol 0); <see cref="PacketPort.Fd"/> is the AF_XDP socket.</summary>
    public int TransmitFd => _txFd;

    public static AfXdpFrameSource Open(FrameSourceSpec spec, bool promiscuous, int socketBufferBytes = UdpSockets.DefaultSocketBufferBytes)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var name = spec.InterfaceName ?? throw new ArgumentException("afxdp source needs an interface name", nameof(spec));
        var ifIndex = NetworkInterfaceControl.GetIndex(name);
        var queues = NetworkInterfaceControl.GetReceiveQueues(name);
        if (queues != 1)
        {
            throw new InteropException(
                $"afxdp:{name}: the interface has {queues} receive queues; an afxdp: source reads queue 0 only, so frames on the others would bypass it. " +
                $"Give it one queue (ethtool -L {name} combined 1; a veth made with numrxqueues 1) or use afpacket:{name}");
        }

        var mtu = NetworkInterfaceControl.GetMtu(name);
        if (mtu + 18 > MaxFrame)
        {
            throw new InteropException(
                $"afxdp:{name}: MTU {mtu} does not fit a {ChunkSize}-byte UMEM chunk ({MaxFrame} bytes after the kernel's XDP headroom, so MTU {MaxFrame - 18} at most); lower the MTU or use afpacket:{name}");
        }

        var fd = Libc.socket(Libc.AF_XDP, Libc.SOCK_RAW | Libc.SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            throw InteropException.FromLastError($"socket(AF_XDP for {name})");
        }

        Rings rings = default;
        XdpRedirectProgram? program = null;
        var txFd = -1;
        try
        {
            rings = SetUpRings(fd, name);
            Bind(fd, ifIndex, name);

            // The socket is in the map before the program is attached: no frame finds queue 0 without a socket.
            program = XdpRedirectProgram.Load(name);
            program.Register(0, fd);
            program.Attach(ifIndex, spec.XdpMode);
            txFd = AfPacketSocket.Open(name, promiscuous, socketBufferBytes, out _, receive: false);
            return new AfXdpFrameSource(spec, fd, rings, program, txFd, ifIndex)
            {
                Mtu = mtu,
                MacAddress = NetworkInterfaceControl.GetMacAddress(name),
            };
        }
        catch
        {
            if (txFd >= 0)
            {
                _ = Libc.close(txFd);
            }

            program?.Dispose();
            _ = Libc.close(fd);
            rings.Unmap();
            throw;
        }
    }

    public override int Receive(Span<PacketBuffer> buffers)
    {
        // Acquire: the descriptors up to the producer index, and the frames they point at, are written.
        var consumer = *_rxConsumer;
        var available = Volatile.Read(ref *_rxProducer) - consumer;
        var n = (int)Math.Min(available, (uint)Math.Min(buffers.Length, MaxBatch));
        if (n == 0)
        {
            return 0;
        }

        var fillProducer = *_fillProducer;
        var count = 0;
        long bytes = 0;
        for (var i = 0; i < n; i++)
        {
            var descriptor = _rxRing[(consumer + (uint)i) & (RxEntries - 1)];

            // Every chunk taken off the RX ring goes back on the fill ring: the fill ring holds all the chunks, so it
            // never overflows, and the kernel never runs short because this source kept one.
            _fillRing[(fillProducer + (uint)i) & (Chunks - 1)] = descriptor.Address & ~(ulong)(ChunkSize - 1);
            if (descriptor.Address + descriptor.Length > UmemBytes)
            {
                _malformed++;
                continue;
            }

            var buffer = buffers[count];
            if (descriptor.Length > (uint)buffer.ReceiveCapacity)
            {
                _oversize++;
                Counters.AddTruncated();
                continue;
            }

            new ReadOnlySpan<byte>(_umem.Address + descriptor.Address, (int)descriptor.Length)
                .CopyTo(new Span<byte>(buffer.ReceivePointer, buffer.ReceiveCapacity));
            buffer.SetReceived((int)descriptor.Length);
            buffer.Peer.SetLength(0);
            bytes += descriptor.Length;
            count++;
        }

        // Release: the copies are done before the kernel may reuse the descriptors' slots and the chunks.
        Volatile.Write(ref *_rxConsumer, consumer + (uint)n);
        Volatile.Write(ref *_fillProducer, fillProducer + (uint)n);
        Counters.AddReceived(count, bytes);
        return count;
    }

    public override int Send(ReadOnlySpan<PacketBuffer> buffers) => _batch.Send(_txFd, buffers, Counters);

    /// <summary>
    /// The socket's drops by name: <c>XdpDropped</c> (frames the kernel could not put in a chunk, e.g. too long),
    /// <c>XdpRxRingFull</c>, <c>XdpFillRingEmpty</c>, <c>XdpInvalid</c> (XDP_STATISTICS, cumulative), and the frames
    /// this source refused: <c>XdpOversize</c> (longer than a packet buffer) and <c>XdpMalformed</c> (a descriptor
    /// outside the UMEM). Only reasons that happened are added.
    /// </summary>
    public override void AddOwnDrops(IDictionary<string, long> drops)
    {
        ArgumentNullException.ThrowIfNull(drops);
        var statistics = ReadStatistics();
        AddDrop(drops, "XdpDropped", (long)statistics.RxDropped);
        AddDrop(drops, "XdpRxRingFull", (long)statistics.RxRingFull);
        AddDrop(drops, "XdpFillRingEmpty", (long)statistics.RxFillRingEmpty);
        AddDrop(drops, "XdpInvalid", (long)statistics.RxInvalidDescriptors);
        AddDrop(drops, "XdpOversize", Volatile.Read(ref _oversize));
        AddDrop(drops, "XdpMalformed", Volatile.Read(ref _malformed));
    }

    /// <summary>The kernel's counters for this socket (XDP_STATISTICS); zeros once closed.</summary>
    public XdpStatistics ReadStatistics()
    {
        XdpStatistics statistics = default;
        var length = (uint)sizeof(XdpStatistics);
        if (Fd >= 0)
        {
            _ = Libc.getsockopt(Fd, Libc.SOL_XDP, Libc.XDP_STATISTICS, &statistics, &length);
        }

        return statistics;
    }

    protected override void Dispose(bool disposing)
    {
        var wasOpen = Fd >= 0;
        base.Dispose(disposing);
        if (!wasOpen)
        {
            return;
        }

        // The base closed the socket (the map entry goes with it); the link's fd detaches the program; the mappings go last.
        _program.Dispose();
        var txFd = Interlocked.Exchange(ref _txFd, -1);
        if (txFd >= 0)
        {
            _ = Libc.close(txFd);
        }

        _batch.Dispose();
        new Rings(_umem, _fill, _completion, _rx, default).Unmap();
    }

    private static void AddDrop(IDictionary<string, long> drops, string reason, long count)
    {
        if (count != 0)
        {
            drops[reason] = drops.TryGetValue(reason, out var earlier) ? earlier + count : count;
        }
    }

    private static Rings SetUpRings(int fd, string name)
    {
        var rings = new Rings { Umem = Map(UmemBytes, -1, 0, name, "UMEM") };
        try
        {
            var registration = new XdpUmemReg { Address = (ulong)rings.Umem.Address, Length = (ulong)UmemBytes, ChunkSize = ChunkSize };
            if (Libc.setsockopt(fd, Libc.SOL_XDP, Libc.XDP_UMEM_REG, &registration, (uint)sizeof(XdpUmemReg)) != 0)
            {
                throw InteropException.FromLastError($"setsockopt(XDP_UMEM_REG {UmemBytes >> 20} MiB, {name})");
            }

            SetRingSize(fd, Libc.XDP_UMEM_FILL_RING, Chunks, name, "XDP_UMEM_FILL_RING");
            SetRingSize(fd, Libc.XDP_UMEM_COMPLETION_RING, CompletionEntries, name, "XDP_UMEM_COMPLETION_RING");
            SetRingSize(fd, Libc.XDP_RX_RING, RxEntries, name, "XDP_RX_RING");
            XdpMmapOffsets offsets;
            var length = (uint)sizeof(XdpMmapOffsets);
            if (Libc.getsockopt(fd, Libc.SOL_XDP, Libc.XDP_MMAP_OFFSETS, &offsets, &length) != 0)
            {
                throw InteropException.FromLastError($"getsockopt(XDP_MMAP_OFFSETS, {name})");
            }

            rings.Offsets = offsets;
            rings.Fill = Map((long)offsets.Fill.Descriptors + (Chunks * sizeof(ulong)), fd, Libc.XDP_UMEM_PGOFF_FILL_RING, name, "fill ring");
            rings.Completion = Map((long)offsets.Completion.Descriptors + (CompletionEntries * sizeof(ulong)), fd, Libc.XDP_UMEM_PGOFF_COMPLETION_RING, name, "completion ring");
            rings.Rx = Map((long)offsets.Rx.Descriptors + (RxEntries * sizeof(XdpDescriptor)), fd, Libc.XDP_PGOFF_RX_RING, name, "RX ring");

            // Every chunk starts on the fill ring, for the kernel to write frames into.
            var fill = (ulong*)(rings.Fill.Address + offsets.Fill.Descriptors);
            for (var i = 0; i < Chunks; i++)
            {
                fill[i] = (ulong)i * ChunkSize;
            }

            Volatile.Write(ref *(uint*)(rings.Fill.Address + offsets.Fill.Producer), (uint)Chunks);
            return rings;
        }
        catch
        {
            rings.Unmap();
            throw;
        }
    }

    /// <summary>
    /// Binds queue 0. The kernel lets go of a closed socket's queue in deferred work, so a source reopened at once
    /// (a node restarting, the next benchmark run) can find the queue busy for a few milliseconds: EBUSY is retried for
    /// up to a second before it counts as another owner.
    /// </summary>
    private static void Bind(int fd, int ifIndex, string name)
    {
        var address = new SockAddrXdp { Family = Libc.AF_XDP, IfIndex = (uint)ifIndex, QueueId = 0 };
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (Libc.bind(fd, &address, (uint)sizeof(SockAddrXdp)) != 0)
        {
            if (Libc.LastErrno != Errno.EBUSY || clock.Elapsed > TimeSpan.FromSeconds(1))
            {
                throw InteropException.FromLastError($"bind(AF_XDP, {name} queue 0)");
            }

            Thread.Sleep(10);
        }
    }

    private static void SetRingSize(int fd, int option, int entries, string name, string what)
    {
        if (!Libc.TrySetInt(fd, Libc.SOL_XDP, option, entries))
        {
            throw InteropException.FromLastError($"setsockopt({what} {entries}, {name})");
        }
    }

    /// <summary>An anonymous mapping (<paramref name="fd"/> -1: the UMEM) or one of the socket's rings.</summary>
    private static Mapping Map(long bytes, int fd, long offset, string name, string what)
    {
        var flags = fd < 0 ? Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_POPULATE : Libc.MAP_SHARED | Libc.MAP_POPULATE;
        var address = Libc.mmap(null, (nuint)bytes, Libc.PROT_READ | Libc.PROT_WRITE, flags, fd, (nint)offset);
        if (address == Libc.MapFailed)
        {
            throw InteropException.FromLastError($"mmap({what}, {name}, {bytes} bytes)");
        }

        return new Mapping((byte*)address, bytes);
    }

    private readonly struct Mapping(byte* address, long bytes)
    {
        public byte* Address { get; } = address;

        public long Bytes { get; } = bytes;

        public void Unmap()
        {
            if (Address != null)
            {
                _ = Libc.munmap(Address, (nuint)Bytes);
            }
        }
    }

    private struct Rings(Mapping umem, Mapping fill, Mapping completion, Mapping rx, XdpMmapOffsets offsets)
    {
        public Mapping Umem = umem;
        public Mapping Fill = fill;
        public Mapping Completion = completion;
        public Mapping Rx = rx;
        public XdpMmapOffsets Offsets = offsets;

        public readonly void Unmap()
        {
            Rx.Unmap();
            Completion.Unmap();
            Fill.Unmap();
            Umem.Unmap();
        }
    }
}
