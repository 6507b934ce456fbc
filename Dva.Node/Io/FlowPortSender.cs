using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Dva.Node.Interop;

namespace Dva.Node.Io;

/// <summary>
/// Sends tunnel datagrams from a per-flow outer UDP source port (DESIGN.md §2: <c>49152 + (flowHash >> 50)</c>)
/// through one IPv4 IPPROTO_RAW socket with IP_HDRINCL: it writes the outer IPv4 and UDP headers itself into the
/// buffer's headroom, so any source port costs nothing per datagram and a whole batch is still one sendmmsg.
/// </summary>
/// <remarks>
/// Why this and not the alternatives: a socket per source port needs 16 384 bound sockets (fds and socket
/// buffers) per node; IP_PKTINFO in a <c>sendmsg</c> control message chooses the source address, never the
/// port; an IPPROTO_UDP raw socket would also receive a copy of every UDP datagram of the host. IPPROTO_RAW
/// never receives. It needs CAP_NET_RAW and IPv4; without them the tunnel keeps its bound port for every
/// flow (<see cref="TryOpen"/> says why). The UDP checksum is 0 ("none", legal over IPv4), as RFC 7348 asks of
/// VXLAN: summing every payload byte in software would cost more than the relay's own work.
/// <code>
///  0               8               16              24             32
/// +-------+-------+---------------+-------------------------------+
/// | 4     | 5     | TOS 0         | total length                  |
/// +-------+-------+---------------+--+----------------------------+
/// | identification 0 (kernel)     |DF| fragment offset 0          |
/// +---------------+---------------+--+----------------------------+
/// | TTL 64        | protocol 17   | header checksum 0 (kernel)    |
/// +---------------+---------------+-------------------------------+
/// | source address (0: the kernel picks it from the route)        |
/// +---------------------------------------------------------------+
/// | destination address (the buffer's Peer)                       |
/// +-------------------------------+-------------------------------+
/// | UDP source port (per flow)    | UDP destination port (Peer)   |
/// +-------------------------------+-------------------------------+
/// | UDP length                    | UDP checksum 0                |
/// +-------------------------------+-------------------------------+
/// </code>
/// </remarks>
internal sealed class FlowPortSender : IDisposable
{
    /// <summary>Outer IPv4 (no options) and UDP header written in front of each tunnel datagram.</summary>
    public const int HeaderLength = Ipv4HeaderLength + UdpHeaderLength;

    /// <summary>The lowest per-flow source port, <c>TunnelLayout.UdpSourcePort(0)</c>; receivers accept a peer's datagrams from here up.</summary>
    public const int FirstSourcePort = 49152;

    private const int Ipv4HeaderLength = 20;
    private const int UdpHeaderLength = 8;
    private const int TotalLengthOffset = 2;
    private const int FlagsOffset = 6;
    private const int TtlOffset = 8;
    private const int ProtocolOffset = 9;
    private const int SourceAddressOffset = 12;
    private const int DestinationAddressOffset = 16;
    private const int UdpSourcePortOffset = Ipv4HeaderLength;
    private const int UdpDestinationPortOffset = Ipv4HeaderLength + 2;
    private const int UdpLengthOffset = Ipv4HeaderLength + 4;
    private const int UdpChecksumOffset = Ipv4HeaderLength + 6;
    private const byte VersionAndIhl = 0x45;
    private const ushort DontFragment = 0x4000;
    private const byte Ttl = 64;
    private const int SockaddrInPortOffset = 2;
    private const int SockaddrInAddressOffset = 4;

    private readonly MessageBatch _batch = new(SendAddressing.PerBuffer);
    private readonly uint _source;
    private int _fd;

    private FlowPortSender(int fd, uint source)
    {
        _fd = fd;
        _source = source;
    }

    /// <summary>
    /// Opens the raw send socket for a tunnel bound to <paramref name="local"/>; false with the reason when the
    /// tunnel is IPv6 or the process may not open raw sockets.
    /// </summary>
    public static bool TryOpen(IPEndPoint local, int socketBufferBytes, out FlowPortSender? sender, out string? reason)
    {
        ArgumentNullException.ThrowIfNull(local);
        sender = null;
        if (local.AddressFamily != AddressFamily.InterNetwork)
        {
            reason = "per-flow source ports are implemented for an IPv4 tunnel only; this tunnel is IPv6";
            return false;
        }

        var fd = Libc.socket(Libc.AF_INET, Libc.SOCK_RAW | Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC, Libc.IPPROTO_RAW);
        if (fd < 0)
        {
            reason = $"socket(AF_INET, SOCK_RAW, IPPROTO_RAW) failed with {Libc.LastErrno} (needs CAP_NET_RAW)";
            return false;
        }

        // IPPROTO_RAW implies IP_HDRINCL; setting it says so to the reader and to kernels that differ.
        if (!Libc.TrySetInt(fd, Libc.IPPROTO_IP, Libc.IP_HDRINCL, 1))
        {
            reason = $"setsockopt(IP_HDRINCL) failed with {Libc.LastErrno}";
            _ = Libc.close(fd);
            return false;
        }

        UdpSockets.SetBufferSizes(fd, socketBufferBytes);
        Span<byte> address = stackalloc byte[4];
        local.Address.TryWriteBytes(address, out _);
        sender = new FlowPortSender(fd, BinaryPrimitives.ReadUInt32BigEndian(address));
        reason = null;
        return true;
    }

    /// <summary>
    /// Sends each buffer's frame from its <see cref="PacketBuffer.SourcePort"/> to its IPv4 <see cref="PacketBuffer.Peer"/>;
    /// the outer headers are written in the headroom and removed again afterwards. Returns how many the kernel took.
    /// </summary>
    public int Send(ReadOnlySpan<PacketBuffer> buffers, PortCounters counters)
    {
        foreach (var buffer in buffers)
        {
            if (!WriteHeaders(buffer))
            {
                // No IPv4 peer or no headroom: the batch skips a buffer without a peer and counts it (NoPeer).
                buffer.Peer.SetLength(0);
            }
        }

        var sent = _batch.Send(_fd, buffers, counters);
        foreach (var buffer in buffers)
        {
            if (!buffer.Peer.IsEmpty)
            {
                _ = buffer.TryTrimFront(HeaderLength);
            }
        }

        return sent;
    }

    /// <summary>Writes the outer IPv4 + UDP headers in front of the frame; false without headroom or an IPv4 peer.</summary>
    internal bool WriteHeaders(PacketBuffer buffer)
    {
        ReadOnlySpan<byte> peer = buffer.Peer.Used;
        if (peer.Length < SockaddrInAddressOffset + 4 || buffer.Peer.Family != Libc.AF_INET)
        {
            return false;
        }

        var udpLength = buffer.FrameLength + UdpHeaderLength;
        if (udpLength + Ipv4HeaderLength > ushort.MaxValue || !buffer.TryPrepend(HeaderLength, out var header))
        {
            return false;
        }

        header[0] = VersionAndIhl;
        header[1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(header[TotalLengthOffset..], (ushort)(udpLength + Ipv4HeaderLength));
        BinaryPrimitives.WriteUInt16BigEndian(header[4..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(header[FlagsOffset..], DontFragment);
        header[TtlOffset] = Ttl;
        header[ProtocolOffset] = Libc.IPPROTO_UDP;
        BinaryPrimitives.WriteUInt16BigEndian(header[10..], 0);
        BinaryPrimitives.WriteUInt32BigEndian(header[SourceAddressOffset..], _source);
        peer.Slice(SockaddrInAddressOffset, 4).CopyTo(header[DestinationAddressOffset..]);
        BinaryPrimitives.WriteUInt16BigEndian(header[UdpSourcePortOffset..], buffer.SourcePort);
        peer.Slice(SockaddrInPortOffset, 2).CopyTo(header[UdpDestinationPortOffset..]);
        BinaryPrimitives.WriteUInt16BigEndian(header[UdpLengthOffset..], (ushort)udpLength);
        BinaryPrimitives.WriteUInt16BigEndian(header[UdpChecksumOffset..], 0);
        return true;
    }

    public void Dispose()
    {
        var fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            _ = Libc.close(fd);
            _batch.Dispose();
        }
    }
}
