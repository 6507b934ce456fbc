using System.Net;
using System.Net.NetworkInformation;
using Dva.Node.Interop;

namespace Dva.Node.Io;

/// <summary>Where a shared interface's Ethernet frames come from and go to (DESIGN.md §9).</summary>
internal abstract class FrameSource : PacketPort
{
    protected FrameSource(FrameSourceSpec spec, int fd)
        : base(spec.ToString(), fd) => Spec = spec;

    public FrameSourceSpec Spec { get; }

    /// <summary>
    /// The interface MTU read when the source opened (afpacket, afxdp, tap), or a udp: wire's <c>MTU=</c>; null for a wire
    /// without one. A dispatcher fragments or refuses an EGRESS frame whose IP packet is longer (DispatcherRole.FitEgress).
    /// </summary>
    public int? Mtu { get; protected set; }

    /// <summary>
    /// Reads the device's MTU again (an operator may change it while the node runs); a udp: wire keeps its <c>MTU=</c>.
    /// False when the device cannot be asked (gone): the MTU stays as it was.
    /// </summary>
    public bool RefreshMtu()
    {
        if (Spec.Kind == FrameSourceKind.Udp || Spec.InterfaceName is not { } name)
        {
            return true;
        }

        try
        {
            Mtu = NetworkInterfaceControl.GetMtu(name);
            return true;
        }
        catch (InteropException)
        {
            return false;
        }
    }

    /// <summary>The interface MAC read when the source opened (afpacket, tap); null for a udp: wire.</summary>
    public PhysicalAddress? MacAddress { get; protected init; }

    /// <summary>
    /// True when frames carry a <see cref="PacketBuffer.Offload"/> in and out (<c>afpacket:IF?gso=1</c>): the kernel
    /// segments a super-frame sent here and finishes a checksum left to the device. False: every frame must be final.
    /// </summary>
    public virtual bool CarriesOffload => false;
}

/// <summary>
/// <c>afpacket:IFNAME</c>: an <see cref="AfPacketSocket"/> read with recvmmsg and written with sendmmsg.
/// <c>afpacket:IFNAME?ring=1</c> reads a PACKET_MMAP ring instead (<see cref="AfPacketRingFrameSource"/>).
/// </summary>
/// <remarks>
/// The socket always has PACKET_AUXDATA, to put back the 802.1Q tag the kernel takes off every frame, and PACKET_VNET_HDR. With <c>?gso=1</c> the offloads travel on (<see cref="CarriesOffload"/>).
/// Without it the header only says which frames a local sender (a veth or virtio peer with TX checksum offload) left
/// with an unfinished transport checksum: the source finishes it in software, since nothing downstream would, and the
/// far host would drop the frame. A super-frame on such a source is dropped and counted (<c>badOffload</c>): nothing
/// here segments it (<c>?gso=1</c> with <c>superFrames</c> carries it).
/// </remarks>
internal sealed unsafe class AfPacketFrameSource : FrameSource
{
    private readonly MessageBatch _batch;

    private AfPacketFrameSource(FrameSourceSpec spec, int fd, int ifIndex)
        : base(spec, fd)
    {
        InterfaceIndex = ifIndex;
        _batch = new MessageBatch(SendAddressing.None, vnetHeaders: true, auxData: true);
    }

    public int InterfaceIndex { get; }

    /// <summary>PACKET_VNET_HDR is on: frames arrive with their offload (<see cref="PacketBuffer.Offload"/>) and leave with theirs.</summary>
    public override bool CarriesOffload => Spec.Gso;

    public static AfPacketFrameSource Open(
        FrameSourceSpec spec,
        bool promiscuous,
        int socketBufferBytes = UdpSockets.DefaultSocketBufferBytes,
        AfPacketFanout? fanout = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var name = spec.InterfaceName ?? throw new ArgumentException("afpacket source needs an interface name", nameof(spec));
        var fd = AfPacketSocket.Open(name, promiscuous, socketBufferBytes, out var ifIndex, static fd =>
        {
            AfPacketSocket.EnableVnetHeader(fd);
            AfPacketSocket.EnableAuxData(fd);
        }, fanout);
        try
        {
            return new AfPacketFrameSource(spec, fd, ifIndex)
            {
                Mtu = NetworkInterfaceControl.GetMtu(name),
                MacAddress = NetworkInterfaceControl.GetMacAddress(name),
            };
        }
        catch
        {
            _ = Libc.close(fd);
            throw;
        }
    }

    public override int Receive(Span<PacketBuffer> buffers)
    {
        var received = _batch.Receive(Fd, buffers, Counters);
        return Spec.Gso ? received : FinishChecksums(buffers, received, Counters);
    }

    public override int Send(ReadOnlySpan<PacketBuffer> buffers) => _batch.Send(Fd, buffers, Counters);

    /// <summary>
    /// A source that carries no offload: finishes each received frame's checksum left to the device and keeps the
    /// frames in order; one it cannot finish (a super-frame, or no TCP/UDP packet) is dropped and counted.
    /// </summary>
    internal static int FinishChecksums(Span<PacketBuffer> buffers, int received, PortCounters counters)
    {
        var kept = 0;
        for (var i = 0; i < received; i++)
        {
            var buffer = buffers[i];
            if (buffer.Offload.IsPresent && !FrameOffload.TryFinishChecksum(buffer))
            {
                counters.AddBadOffload();
                continue;
            }

            if (i != kept)
            {
                (buffers[kept], buffers[i]) = (buffers[i], buffers[kept]);
            }

            kept++;
        }

        return kept;
    }

    /// <summary><c>?gso=1</c>: <c>BadOffload</c>, frames whose virtio_net_hdr the DVA cannot carry (<see cref="PortCounters.BadOffload"/>).</summary>
    public override void AddOwnDrops(IDictionary<string, long> drops)
    {
        ArgumentNullException.ThrowIfNull(drops);
        var count = Counters.BadOffload;
        if (count != 0)
        {
            drops["BadOffload"] = drops.TryGetValue("BadOffload", out var earlier) ? earlier + count : count;
        }
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        _batch.Dispose();
    }
}

/// <summary>
/// <c>tap:NAME</c>: a TAP device (IFF_TAP | IFF_NO_PI), one frame per read/write, up to
/// <see cref="PacketPort.MaxBatch"/> per turn. The device exists while the source is open and is brought up on open.
/// </summary>
internal sealed unsafe class TapFrameSource : FrameSource
{
    private TapFrameSource(FrameSourceSpec spec, int fd)
        : base(spec, fd)
    {
    }

    public static TapFrameSource Open(FrameSourceSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var name = spec.InterfaceName ?? throw new ArgumentException("tap source needs a device name", nameof(spec));
        if (!IfReq.TryCreate(name, out var request))
        {
            throw new ArgumentException($"'{name}' is not a valid interface name", nameof(spec));
        }

        var fd = Libc.open("/dev/net/tun", Libc.O_RDWR | Libc.O_NONBLOCK | Libc.O_CLOEXEC);
        if (fd < 0)
        {
            throw InteropException.FromLastError("open(/dev/net/tun)");
        }

        try
        {
            request.Flags = Libc.IFF_TAP | Libc.IFF_NO_PI;
            if (Libc.ioctl(fd, Libc.TUNSETIFF, &request) != 0)
            {
                throw InteropException.FromLastError($"ioctl(TUNSETIFF, tap {name})");
            }

            NetworkInterfaceControl.SetUp(name, up: true);
            return new TapFrameSource(spec, fd)
            {
                Mtu = NetworkInterfaceControl.GetMtu(name),
                MacAddress = NetworkInterfaceControl.GetMacAddress(name),
            };
        }
        catch
        {
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
            var buffer = buffers[count];
            var read = Libc.read(Fd, buffer.ReceivePointer, (nuint)buffer.ReceiveCapacity);
            if (read < 0)
            {
                var errno = Libc.LastErrno;
                if (errno == Errno.EINTR)
                {
                    continue;
                }

                if (errno != Errno.EAGAIN)
                {
                    Counters.ReceiveFailed(errno);
                }

                break;
            }

            if (read == 0)
            {
                break;
            }

            // A TAP read returns at most the buffer size and silently cuts the rest; a frame that fills
            // the whole buffer may have been cut, so it is dropped as truncated.
            if (read >= buffer.ReceiveCapacity)
            {
                Counters.AddTruncated();
                continue;
            }

            buffer.SetReceived((int)read);
            buffer.Peer.SetLength(0);
            bytes += read;
            count++;
        }

        Counters.AddReceived(count, bytes);
        return count;
    }

    public override int Send(ReadOnlySpan<PacketBuffer> buffers)
    {
        var sent = 0;
        long bytes = 0;
        for (var i = 0; i < buffers.Length; i++)
        {
            var buffer = buffers[i];
            nint written;
            do
            {
                written = Libc.write(Fd, buffer.FramePointer, (nuint)buffer.FrameLength);
            }
            while (written < 0 && Libc.LastErrno == Errno.EINTR);

            if (written < 0)
            {
                Counters.SendFailed(1, Libc.LastErrno);
                continue;
            }

            sent++;
            bytes += written;
        }

        Counters.AddSent(sent, bytes);
        return sent;
    }
}

/// <summary>
/// <c>udp:LOCAL=ip:port,PEER=ip:port</c>: a virtual wire carrying one Ethernet frame per UDP datagram,
/// for the embedded demo and tests; needs no privileges. Datagrams from anyone but PEER are dropped.
/// </summary>
internal sealed class UdpFrameSource : FrameSource
{
    private readonly MessageBatch _batch;

    private UdpFrameSource(FrameSourceSpec spec, int fd, IPEndPoint local, IPEndPoint peer)
        : base(spec, fd)
    {
        LocalEndPoint = local;
        _batch = new MessageBatch(SendAddressing.Fixed, PacketAddress.FromEndPoint(peer));
    }

    public IPEndPoint LocalEndPoint { get; }

    public static UdpFrameSource Open(FrameSourceSpec spec, int socketBufferBytes = UdpSockets.DefaultSocketBufferBytes)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.Local is null || spec.Peer is null)
        {
            throw new ArgumentException("udp source needs LOCAL and PEER", nameof(spec));
        }

        var fd = UdpSockets.OpenBound(spec.Local, socketBufferBytes, out var bound);
        return new UdpFrameSource(spec, fd, bound, spec.Peer) { Mtu = spec.WireMtu };
    }

    public override int Receive(Span<PacketBuffer> buffers) => _batch.Receive(Fd, buffers, Counters, onlyFrom: true);

    public override int Send(ReadOnlySpan<PacketBuffer> buffers) => _batch.Send(Fd, buffers, Counters);

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        _batch.Dispose();
    }
}
