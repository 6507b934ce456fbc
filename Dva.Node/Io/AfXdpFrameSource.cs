using Dva.Node.Interop;

namespace Dva.Node.Io;

/// <summary>
/// <c>afxdp:IFNAME</c>: frames received through an AF_XDP socket. An XDP program on the interface
/// (<see cref="XdpRedirectProgram"/>) redirects every frame of its receive queue into this socket before the kernel's network
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
/// One queue per source: alone, the source binds queue 0 and refuses an interface with more receive queues, whose
/// other queues' frames would bypass it. On a dispatcher of N engines the interface needs N queues and engine i's
/// source binds queue i (<see cref="XdpQueueGroup"/>), so the NIC's queue choice spreads flows over the engines. The UMEM has <see cref="Chunks"/> chunks of <see cref="ChunkSize"/> bytes (16 MiB); a frame
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
    private readonly XdpQueueGroup _group;
    private int _txFd;
    private long _oversize;
    private long _malformed;

    private AfXdpFrameSource(FrameSourceSpec spec, int fd, Rings rings, XdpQueueGroup group, int queue, int txFd, int ifIndex)
        : base(spec, fd)
    {
        (_umem, _fill, _completion, _rx) = (rings.Umem, rings.Fill, rings.Completion, rings.Rx);
        var offsets = rings.Offsets;
        _rxProducer = (uint*)(_rx.Address + offsets.Rx.Producer);
        _rxConsumer = (uint*)(_rx.Address + offsets.Rx.Consumer);
        _rxRing = (XdpDescriptor*)(_rx.Address + offsets.Rx.Descriptors);
        _fillProducer = (uint*)(_fill.Address + offsets.Fill.Producer);
        _fillRing = (ulong*)(_fill.Address + offsets.Fill.Descriptors);
        _group = group;
        Queue = queue;
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
    public XdpAttachMode AttachMode => _group.Mode;

    /// <summary>The receive queue this source's socket is bound to.</summary>
    public int Queue { get; }

    /// <summary>The socket that sends (AF_PACKET, protocol 0); <see cref="PacketPort.Fd"/> is the AF_XDP socket.</summary>
    public int TransmitFd => _txFd;

    /// <summary>
    /// Opens the source. <paramref name="group"/>: the sources of this interface on a dispatcher of several engines, one
    /// per queue, in queue order; without it the source is the interface's only one and reads queue 0.
    /// </summary>
    public static AfXdpFrameSource Open(FrameSourceSpec spec, bool promiscuous, int socketBufferBytes = UdpSockets.DefaultSocketBufferBytes, XdpQueueGroup? group = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var name = spec.InterfaceName ?? throw new ArgumentException("afxdp source needs an interface name", nameof(spec));
        var ifIndex = NetworkInterfaceControl.GetIndex(name);
        group ??= new XdpQueueGroup(1);
        var queues = NetworkInterfaceControl.GetReceiveQueues(name);
        if (queues != group.Queues)
        {
            throw new InteropException(group.Queues == 1
                ? $"afxdp:{name}: the interface has {queues} receive queues; an afxdp: source reads queue 0 only, so frames on the others would bypass it. " +
                  $"Give it one queue (ethtool -L {name} combined 1; a veth made with numrxqueues 1), run one engine per queue, or use afpacket:{name}"
                : $"afxdp:{name}: the interface has {queues} receive queues but the dispatcher runs {group.Queues} engines, each reading one queue. " +
                  $"Give it {group.Queues} (ethtool -L {name} combined {group.Queues}) or set engines to {queues}");
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
        var joined = false;
        var txFd = -1;
        try
        {
            rings = SetUpRings(fd, name);
            var queue = group.Members;
            Bind(fd, ifIndex, name, queue);

            // Every queue's socket is in the map before the program is attached: no frame finds its queue without one.
            group.Join(name, ifIndex, fd, spec.XdpMode);
            joined = true;
            txFd = AfPacketSocket.Open(name, promiscuous, socketBufferBytes, out _, receive: false);
            return new AfXdpFrameSource(spec, fd, rings, group, queue, txFd, ifIndex)
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

            _ = Libc.close(fd);
            if (joined)
            {
                group.Leave();
            }

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

        // The base closed the socket (the map entry goes with it); the last source of the interface detaches the
        // program (the link's fd); the mappings go last.
        _group.Leave();
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
    /// Binds the queue. The kernel lets go of a closed socket's queue in deferred work, so a source reopened at once
    /// (a node restarting, the next benchmark run) can find the queue busy for a few milliseconds: EBUSY is retried for
    /// up to a second before it counts as another owner.
    /// </summary>
    private static void Bind(int fd, int ifIndex, string name, int queue)
    {
        var address = new SockAddrXdp { Family = Libc.AF_XDP, IfIndex = (uint)ifIndex, QueueId = (uint)queue };
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (Libc.bind(fd, &address, (uint)sizeof(SockAddrXdp)) != 0)
        {
            if (Libc.LastErrno != Errno.EBUSY || clock.Elapsed > TimeSpan.FromSeconds(1))
            {
                throw InteropException.FromLastError($"bind(AF_XDP, {name} queue {queue})");
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

/// <summary>
/// The <c>afxdp:</c> sources of one interface: one per receive queue (on a dispatcher of several engines, engine i reads
/// queue i), one XDP program and XSKMAP for them all. The program is loaded with the first source, attached once every
/// queue's socket is in the map, and detached when the last source closes. Open the sources from one setup thread.
/// </summary>
internal sealed class XdpQueueGroup(int queues)
{
    private XdpRedirectProgram? _program;
    private int _open;

    /// <summary>The sources (and receive queues) the group is for.</summary>
    public int Queues { get; } = queues;

    /// <summary>Sources that joined so far; the next one binds this queue.</summary>
    public int Members { get; private set; }

    /// <summary>Where the program runs once attached.</summary>
    public XdpAttachMode Mode => _program?.Mode ?? XdpAttachMode.Auto;

    internal void Join(string name, int ifIndex, int socketFd, XdpAttachMode mode)
    {
        _program ??= XdpRedirectProgram.Load(name);
        _program.Register(Members, socketFd);
        Members++;
        _open++;
        if (Members == Queues)
        {
            _program.Attach(ifIndex, mode);
        }
    }

    internal void Leave()
    {
        if (--_open == 0)
        {
            _program?.Dispose();
            _program = null;
        }
    }
}
