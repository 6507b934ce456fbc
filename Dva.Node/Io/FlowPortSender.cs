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
/// The kernel does not fragment what a raw socket sends with its own header (EMSGSIZE), so a datagram longer than
/// <see cref="FragmentAbove"/> (the tunnel MTU) or than the MTU of the route to its peer (<see cref="RouteMtu"/>) is
/// sent here as IPv4 fragments, DF clear (<see cref="SendFragments"/>).
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
internal sealed unsafe class FlowPortSender : IDisposable
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
    private const ushort MoreFragments = 0x2000;
    private const int IdentificationOffset = 4;
    private const byte Ttl = 64;
    private const int SockaddrInPortOffset = 2;
    private const int SockaddrInAddressOffset = 4;
    private const int SockaddrInLength = 16;
    private const int IpMtu = 14;
    private const int MinimumMtu = 576;

    /// <summary>How long a route's MTU is trusted before it is read again (a link's MTU may change).</summary>
    private const long RouteMtuLifetimeMs = 10_000;

    private readonly MessageBatch _batch = new(SendAddressing.PerBuffer);
    private readonly uint _source;
    private readonly Dictionary<uint, (int Mtu, long Until)> _routeMtu = [];
    private byte[]? _fragment;
    private int _probeFd;
    private ushort _identification = (ushort)Random.Shared.Next(1, ushort.MaxValue);
    private int _fd;

    private FlowPortSender(int fd, uint source, int probeFd)
    {
        _fd = fd;
        _source = source;
        _probeFd = probeFd;
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
        // A UDP socket that sends nothing: connected to a peer, it reads the MTU of the route there (IP_MTU). Opened
        // here, so it belongs to the same network namespace as the raw socket.
        var probe = Libc.socket(Libc.AF_INET, Libc.SOCK_DGRAM | Libc.SOCK_CLOEXEC, 0);
        sender = new FlowPortSender(fd, BinaryPrimitives.ReadUInt32BigEndian(address), probe);
        reason = null;
        return true;
    }

    /// <summary>
    /// Outer packets longer than this many bytes (the tunnel MTU) leave as fragments; 65 535 (the default) never.
    /// Set before the sender is used.
    /// </summary>
    public int FragmentAbove
    {
        get;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, MinimumMtu);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, ushort.MaxValue);
            field = value;
        }
    } = ushort.MaxValue;

    /// <summary>
    /// Sends each buffer's frame from its <see cref="PacketBuffer.SourcePort"/> to its IPv4 <see cref="PacketBuffer.Peer"/>;
    /// the outer headers are written in the headroom and removed again afterwards. Returns how many the kernel took.
    /// A datagram longer than <see cref="FragmentAbove"/> leaves as fragments, in its place in the batch's order.
    /// </summary>
    public int Send(ReadOnlySpan<PacketBuffer> buffers, PortCounters counters)
    {
        ArgumentNullException.ThrowIfNull(counters);
        var sent = 0;
        var run = 0;
        for (var i = 0; i < buffers.Length; i++)
        {
            var buffer = buffers[i];
            if (!WriteHeaders(buffer))
            {
                // No IPv4 peer or no headroom: the batch skips a buffer without a peer and counts it (NoPeer).
                buffer.Peer.SetLength(0);
            }
            else if (buffer.FrameLength > MinimumMtu && Math.Min(FragmentAbove, RouteMtu(buffer.Frame)) is var limit && buffer.FrameLength > limit)
            {
                sent += _batch.Send(_fd, buffers[run..i], counters);
                sent += SendFragments(buffer, limit, counters) ? 1 : 0;
                run = i + 1;
            }
        }

        sent += _batch.Send(_fd, buffers[run..], counters);
        foreach (var buffer in buffers)
        {
            if (!buffer.Peer.IsEmpty)
            {
                _ = buffer.TryTrimFront(HeaderLength);
            }
        }

        return sent;
    }

    /// <summary>
    /// Sends the outer packet in <paramref name="buffer"/> (headers written) as IPv4 fragments of at most
    /// <paramref name="limit"/> bytes (the tunnel's or the route's MTU, the smaller), DF clear, one identification for all (RFC 791); the receiving kernel
    /// reassembles the datagram before any socket sees it. Counted as one datagram sent; a failed fragment drops the
    /// rest of the datagram and is counted as one failed send.
    /// </summary>
    private bool SendFragments(PacketBuffer buffer, int limit, PortCounters counters)
    {
        var packet = buffer.Frame;
        var chunk = (limit - Ipv4HeaderLength) & ~7;
        var fragment = _fragment ??= new byte[ushort.MaxValue];
        var identification = _identification++;
        if (_identification == 0)
        {
            _identification = 1;
        }

        Span<byte> address = stackalloc byte[PacketAddress.Capacity];
        buffer.Peer.Used.CopyTo(address);
        for (var offset = 0; offset < packet.Length - Ipv4HeaderLength; offset += chunk)
        {
            var length = WriteFragment(packet, offset, chunk, identification, fragment);
            if (!SendOne(fragment.AsSpan(0, length), address[..buffer.Peer.Length]))
            {
                counters.SendFailed(1, Libc.LastErrno);
                return false;
            }
        }

        counters.AddSent(1, packet.Length);
        return true;
    }

    /// <summary>
    /// Writes into <paramref name="destination"/> the fragment of the outer IPv4 <paramref name="packet"/> (20-byte header,
    /// no options) that carries <paramref name="chunk"/> bytes (a multiple of 8) of its payload from
    /// <paramref name="offset"/>: the packet's header with the fragment's total length, <paramref name="identification"/>,
    /// MF unless it is the last, DF clear, the offset in 8-byte units; the header checksum is left to the kernel.
    /// Returns the fragment's length.
    /// </summary>
    internal static int WriteFragment(ReadOnlySpan<byte> packet, int offset, int chunk, ushort identification, Span<byte> destination)
    {
        var payload = packet[Ipv4HeaderLength..];
        var length = Math.Min(chunk, payload.Length - offset);
        var fragment = destination[..(Ipv4HeaderLength + length)];
        packet[..Ipv4HeaderLength].CopyTo(fragment);
        BinaryPrimitives.WriteUInt16BigEndian(fragment[TotalLengthOffset..], (ushort)fragment.Length);
        BinaryPrimitives.WriteUInt16BigEndian(fragment[IdentificationOffset..], identification);
        var more = offset + length < payload.Length ? MoreFragments : (ushort)0;
        BinaryPrimitives.WriteUInt16BigEndian(fragment[FlagsOffset..], (ushort)(more | (offset >> 3)));
        payload.Slice(offset, length).CopyTo(fragment[Ipv4HeaderLength..]);
        return fragment.Length;
    }

    /// <summary>
    /// The MTU of the route to the outer <paramref name="packet"/>'s destination, read with IP_MTU on a UDP socket
    /// connected there and kept for 10 s; 65 535 when it cannot be read.
    /// </summary>
    private int RouteMtu(ReadOnlySpan<byte> packet)
    {
        var destination = BinaryPrimitives.ReadUInt32BigEndian(packet[DestinationAddressOffset..]);
        var now = Environment.TickCount64;
        if (_routeMtu.TryGetValue(destination, out var known) && now < known.Until)
        {
            return known.Mtu;
        }

        var mtu = (int)ushort.MaxValue;
        Span<byte> address = stackalloc byte[SockaddrInLength];
        address.Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(address, Libc.AF_INET);
        packet.Slice(UdpDestinationPortOffset, 2).CopyTo(address[SockaddrInPortOffset..]);
        packet.Slice(DestinationAddressOffset, 4).CopyTo(address[SockaddrInAddressOffset..]);
        int value;
        var length = (uint)sizeof(int);
        fixed (byte* name = address)
        {
            if (_probeFd >= 0 && Libc.connect(_probeFd, name, SockaddrInLength) == 0
                && Libc.getsockopt(_probeFd, Libc.IPPROTO_IP, IpMtu, &value, &length) == 0 && value >= MinimumMtu)
            {
                mtu = Math.Min(value, ushort.MaxValue);
            }
        }

        _routeMtu[destination] = (mtu, now + RouteMtuLifetimeMs);
        return mtu;
    }

    private bool SendOne(ReadOnlySpan<byte> packet, ReadOnlySpan<byte> address)
    {
        fixed (byte* data = packet)
        fixed (byte* name = address)
        {
            while (true)
            {
                if (Libc.sendto(_fd, data, (nuint)packet.Length, 0, name, (uint)address.Length) >= 0)
                {
                    return true;
                }

                if (Libc.LastErrno != Errno.EINTR)
                {
                    return false;
                }
            }
        }
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

        var probe = Interlocked.Exchange(ref _probeFd, -1);
        if (probe >= 0)
        {
            _ = Libc.close(probe);
        }
    }
}
