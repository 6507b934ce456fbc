using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Dva.Node.Interop;

namespace Dva.Node.Io;

/// <summary>
/// Sends tunnel datagrams from a per-flow outer UDP source port (DESIGN.md §2: <c>49152 + (flowHash >> 50)</c>)
/// through one IPPROTO_RAW socket of the tunnel's family (IPv4 with IP_HDRINCL, or IPv6, where IPPROTO_RAW implies
/// the header): it writes the outer IP and UDP headers itself into the buffer's headroom, so any source port costs
/// nothing per datagram and a whole batch is still one sendmmsg.
/// </summary>
/// <remarks>
/// Why this and not the alternatives: a socket per source port needs 16 384 bound sockets (fds and socket
/// buffers) per node; IP_PKTINFO in a <c>sendmsg</c> control message chooses the source address, never the
/// port; an IPPROTO_UDP raw socket would also receive a copy of every UDP datagram of the host. IPPROTO_RAW
/// never receives. It needs CAP_NET_RAW, and over IPv6 a tunnel bound to one address (the kernel does not fill in the
/// source of an IPv6 packet with its own header); without them the tunnel keeps its bound port for every flow
/// (<see cref="TryOpen"/> says why). The UDP checksum is 0 ("none"), as RFC 7348 asks of VXLAN: summing every payload
/// byte in software would cost more than the relay's own work. IPv4 allows it; over IPv6 it is allowed for tunnels
/// whose receivers accept it (RFC 6935, 6936), and every node's tunnel socket does (UDP_NO_CHECK6_RX, as Linux's
/// VXLAN does with udp6zerocsumrx). The IPv6 flow label is the source port, so a fabric that hashes the flow label
/// spreads the flows too.
/// The kernel does not fragment what a raw socket sends with its own header (EMSGSIZE), so a datagram longer than
/// <see cref="FragmentAbove"/> (the tunnel MTU) or than the MTU of the route to its peer (<see cref="RouteMtu"/>) is
/// sent here as fragments: IPv4 with DF clear, IPv6 with a Fragment header (<see cref="SendFragments"/>).
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
/// Over IPv6: version 6, traffic class 0, flow label = the UDP source port; payload length; next header 17;
/// hop limit 64; the tunnel's address; the peer's; then the same UDP header.
/// </remarks>
internal sealed unsafe class FlowPortSender : IDisposable
{
    /// <summary>Outer IPv4 (no options) and UDP header written in front of each tunnel datagram.</summary>
    public const int HeaderLength = Ipv4HeaderLength + UdpHeaderLength;

    /// <summary>Outer IPv6 (no extension headers) and UDP header written in front of each tunnel datagram over IPv6.</summary>
    public const int Ipv6HeaderLengthWithUdp = Ipv6HeaderLength + UdpHeaderLength;

    /// <summary>The lowest per-flow source port, <c>TunnelLayout.UdpSourcePort(0)</c>; receivers accept a peer's datagrams from here up.</summary>
    public const int FirstSourcePort = 49152;

    private const int Ipv4HeaderLength = 20;
    private const int Ipv6HeaderLength = 40;
    private const int Ipv6FragmentHeaderLength = 8;
    private const byte Ipv6NextHeaderFragment = 44;
    private const int Ipv6PayloadLengthOffset = 4;
    private const int Ipv6NextHeaderOffset = 6;
    private const int Ipv6HopLimitOffset = 7;
    private const int Ipv6SourceOffset = 8;
    private const int Ipv6DestinationOffset = 24;
    private const int SockaddrIn6AddressOffset = 8;
    private const int SockaddrIn6Length = 28;
    private const int Ipv6MinimumMtu = 1280;
    private const int UdpHeaderLength = 8;
    private const int TotalLengthOffset = 2;
    private const int FlagsOffset = 6;
    private const int TtlOffset = 8;
    private const int ProtocolOffset = 9;
    private const int SourceAddressOffset = 12;
    private const int DestinationAddressOffset = 16;
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
    private readonly byte[] _source;
    private readonly int _family;
    private readonly int _headerLength;
    private readonly Dictionary<UInt128, (int Mtu, long Until)> _routeMtu = [];
    private byte[]? _fragment;
    private int _probeFd;
    private ushort _identification = (ushort)Random.Shared.Next(1, ushort.MaxValue);
    private uint _identification6 = (uint)Random.Shared.Next(1, int.MaxValue);
    private int _fd;

    private FlowPortSender(int fd, byte[] source, int probeFd)
    {
        _fd = fd;
        _source = source;
        _family = source.Length == 4 ? Libc.AF_INET : Libc.AF_INET6;
        _headerLength = source.Length == 4 ? HeaderLength : Ipv6HeaderLengthWithUdp;
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
        var v6 = local.AddressFamily == AddressFamily.InterNetworkV6;
        if (v6 && (local.Address.Equals(IPAddress.IPv6Any) || local.Address.IsIPv4MappedToIPv6))
        {
            reason = $"per-flow source ports over IPv6 need the tunnel bound to one IPv6 address, not {local.Address}";
            return false;
        }

        var family = v6 ? Libc.AF_INET6 : Libc.AF_INET;
        var fd = Libc.socket(family, Libc.SOCK_RAW | Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC, Libc.IPPROTO_RAW);
        if (fd < 0)
        {
            reason = $"socket({(v6 ? "AF_INET6" : "AF_INET")}, SOCK_RAW, IPPROTO_RAW) failed with {Libc.LastErrno} (needs CAP_NET_RAW)";
            return false;
        }

        // IPPROTO_RAW implies the header (IP_HDRINCL; over IPv6 there is no option to set, the protocol says it).
        if (!v6 && !Libc.TrySetInt(fd, Libc.IPPROTO_IP, Libc.IP_HDRINCL, 1))
        {
            reason = $"setsockopt(IP_HDRINCL) failed with {Libc.LastErrno}";
            _ = Libc.close(fd);
            return false;
        }

        UdpSockets.SetBufferSizes(fd, socketBufferBytes);
        var address = local.Address.GetAddressBytes();
        // A UDP socket that sends nothing: connected to a peer, it reads the MTU of the route there (IP_MTU, IPV6_MTU).
        // Opened here, so it belongs to the same network namespace as the raw socket.
        var probe = Libc.socket(family, Libc.SOCK_DGRAM | Libc.SOCK_CLOEXEC, 0);
        sender = new FlowPortSender(fd, address, probe);
        reason = null;
        return true;
    }

    /// <summary>The outer IP and UDP headers this sender writes in front of each datagram (28 bytes over IPv4, 48 over IPv6).</summary>
    public int OuterHeaderLength => _headerLength;

    /// <summary>
    /// Outer packets longer than this many bytes (the tunnel MTU) leave as fragments; 65 535 (the default) never.
    /// Set before the sender is used.
    /// </summary>
    public int FragmentAbove
    {
        get;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, _family == Libc.AF_INET ? MinimumMtu : Ipv6MinimumMtu);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, ushort.MaxValue);
            field = value;
        }
    } = ushort.MaxValue;

    /// <summary>
    /// Sends each buffer's frame from its <see cref="PacketBuffer.SourcePort"/> to its <see cref="PacketBuffer.Peer"/> (of the tunnel's family);
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
                // No peer of the tunnel's family or no headroom: the batch skips a buffer without a peer and counts it (NoPeer).
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
                if (_family == Libc.AF_INET6)
                {
                    buffer.Frame.Slice(Ipv6HeaderLength + 2, 2).CopyTo(buffer.Peer.Bytes[SockaddrInPortOffset..]);
                }

                _ = buffer.TryTrimFront(_headerLength);
            }
        }

        return sent;
    }

    /// <summary>
    /// Sends the outer packet in <paramref name="buffer"/> (headers written) as fragments of at most
    /// <paramref name="limit"/> bytes (the tunnel's or the route's MTU, the smaller): IPv4 with DF clear and one
    /// identification for all (RFC 791), IPv6 with a Fragment header and one 32-bit identification (RFC 8200 §4.5).
    /// The receiving kernel reassembles the datagram before any socket sees it. Counted as one datagram sent; a failed
    /// fragment drops the rest of the datagram and is counted as one failed send.
    /// </summary>
    private bool SendFragments(PacketBuffer buffer, int limit, PortCounters counters)
    {
        var packet = buffer.Frame;
        var v6 = _family == Libc.AF_INET6;
        var fixedPart = v6 ? Ipv6HeaderLength : Ipv4HeaderLength;
        var chunk = (limit - fixedPart - (v6 ? Ipv6FragmentHeaderLength : 0)) & ~7;
        var fragment = _fragment ??= new byte[ushort.MaxValue + Ipv6HeaderLength];
        ushort identification = 0;
        uint identification6 = 0;
        if (v6)
        {
            identification6 = _identification6++;
        }
        else
        {
            identification = _identification++;
            if (_identification == 0)
            {
                _identification = 1;
            }
        }

        Span<byte> address = stackalloc byte[PacketAddress.Capacity];
        buffer.Peer.Used.CopyTo(address);
        for (var offset = 0; offset < packet.Length - fixedPart; offset += chunk)
        {
            var length = v6
                ? WriteFragment6(packet, offset, chunk, identification6, fragment)
                : WriteFragment(packet, offset, chunk, identification, fragment);
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
    /// Writes into <paramref name="destination"/> the fragment of the outer IPv6 <paramref name="packet"/> (40-byte
    /// header, no extension headers) that carries <paramref name="chunk"/> bytes (a multiple of 8) of what follows the
    /// header from <paramref name="offset"/>: the packet's header with next header 44 and the fragment's payload
    /// length, then a Fragment header (next header 17, the offset in 8-byte units, M unless it is the last,
    /// <paramref name="identification"/>), then the bytes. Returns the fragment's length.
    /// </summary>
    internal static int WriteFragment6(ReadOnlySpan<byte> packet, int offset, int chunk, uint identification, Span<byte> destination)
    {
        var payload = packet[Ipv6HeaderLength..];
        var length = Math.Min(chunk, payload.Length - offset);
        var fragment = destination[..(Ipv6HeaderLength + Ipv6FragmentHeaderLength + length)];
        packet[..Ipv6HeaderLength].CopyTo(fragment);
        BinaryPrimitives.WriteUInt16BigEndian(fragment[Ipv6PayloadLengthOffset..], (ushort)(Ipv6FragmentHeaderLength + length));
        fragment[Ipv6NextHeaderOffset] = Ipv6NextHeaderFragment;
        var header = fragment.Slice(Ipv6HeaderLength, Ipv6FragmentHeaderLength);
        header[0] = packet[Ipv6NextHeaderOffset];
        header[1] = 0;
        var more = offset + length < payload.Length ? 1 : 0;
        BinaryPrimitives.WriteUInt16BigEndian(header[2..], (ushort)(offset | more));
        BinaryPrimitives.WriteUInt32BigEndian(header[4..], identification);
        payload.Slice(offset, length).CopyTo(fragment[(Ipv6HeaderLength + Ipv6FragmentHeaderLength)..]);
        return fragment.Length;
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
    /// The MTU of the route to the outer <paramref name="packet"/>'s destination, read with IP_MTU (IPV6_MTU) on a UDP
    /// socket connected there and kept for 10 s; 65 535 when it cannot be read.
    /// </summary>
    private int RouteMtu(ReadOnlySpan<byte> packet)
    {
        var v6 = _family == Libc.AF_INET6;
        var destinationBytes = v6 ? packet.Slice(Ipv6DestinationOffset, 16) : packet.Slice(DestinationAddressOffset, 4);
        var destination = v6 ? BinaryPrimitives.ReadUInt128BigEndian(destinationBytes) : BinaryPrimitives.ReadUInt32BigEndian(destinationBytes);
        var now = Environment.TickCount64;
        if (_routeMtu.TryGetValue(destination, out var known) && now < known.Until)
        {
            return known.Mtu;
        }

        var mtu = (int)ushort.MaxValue;
        Span<byte> address = stackalloc byte[SockaddrIn6Length];
        address.Clear();
        var udpDestinationPort = packet.Slice((v6 ? Ipv6HeaderLength : Ipv4HeaderLength) + 2, 2);
        BinaryPrimitives.WriteUInt16LittleEndian(address, (ushort)_family);
        udpDestinationPort.CopyTo(address[SockaddrInPortOffset..]);
        destinationBytes.CopyTo(address[(v6 ? SockaddrIn6AddressOffset : SockaddrInAddressOffset)..]);
        var addressLength = (uint)(v6 ? SockaddrIn6Length : SockaddrInLength);
        int value;
        var length = (uint)sizeof(int);
        fixed (byte* name = address)
        {
            if (_probeFd >= 0 && Libc.connect(_probeFd, name, addressLength) == 0
                && Libc.getsockopt(_probeFd, v6 ? Libc.IPPROTO_IPV6 : Libc.IPPROTO_IP, v6 ? Libc.IPV6_MTU : IpMtu, &value, &length) == 0
                && value >= (v6 ? Ipv6MinimumMtu : MinimumMtu))
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

    /// <summary>Writes the outer IP + UDP headers in front of the frame; false without headroom or a peer of the tunnel's family.</summary>
    internal bool WriteHeaders(PacketBuffer buffer)
    {
        ReadOnlySpan<byte> peer = buffer.Peer.Used;
        var v6 = _family == Libc.AF_INET6;
        if (buffer.Peer.Family != _family || peer.Length < (v6 ? SockaddrIn6AddressOffset + 16 : SockaddrInAddressOffset + 4))
        {
            return false;
        }

        var udpLength = buffer.FrameLength + UdpHeaderLength;
        if (udpLength + (v6 ? 0 : Ipv4HeaderLength) > ushort.MaxValue || !buffer.TryPrepend(_headerLength, out var header))
        {
            return false;
        }

        var udp = header[(v6 ? Ipv6HeaderLength : Ipv4HeaderLength)..];
        if (v6)
        {
            // Version 6, traffic class 0, flow label = the source port (a function of the inner flow, RFC 6438).
            BinaryPrimitives.WriteUInt32BigEndian(header, (6u << 28) | buffer.SourcePort);
            BinaryPrimitives.WriteUInt16BigEndian(header[Ipv6PayloadLengthOffset..], (ushort)udpLength);
            header[Ipv6NextHeaderOffset] = Libc.IPPROTO_UDP;
            header[Ipv6HopLimitOffset] = Ttl;
            _source.CopyTo(header[Ipv6SourceOffset..]);
            peer.Slice(SockaddrIn6AddressOffset, 16).CopyTo(header[Ipv6DestinationOffset..]);
        }
        else
        {
            header[0] = VersionAndIhl;
            header[1] = 0;
            BinaryPrimitives.WriteUInt16BigEndian(header[TotalLengthOffset..], (ushort)(udpLength + Ipv4HeaderLength));
            BinaryPrimitives.WriteUInt16BigEndian(header[4..], 0);
            BinaryPrimitives.WriteUInt16BigEndian(header[FlagsOffset..], DontFragment);
            header[TtlOffset] = Ttl;
            header[ProtocolOffset] = Libc.IPPROTO_UDP;
            BinaryPrimitives.WriteUInt16BigEndian(header[10..], 0);
            _source.CopyTo(header[SourceAddressOffset..]);
            peer.Slice(SockaddrInAddressOffset, 4).CopyTo(header[DestinationAddressOffset..]);
        }

        BinaryPrimitives.WriteUInt16BigEndian(udp, buffer.SourcePort);
        peer.Slice(SockaddrInPortOffset, 2).CopyTo(udp[2..]);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)udpLength);
        BinaryPrimitives.WriteUInt16BigEndian(udp[6..], 0);
        if (v6)
        {
            // An IPv6 raw socket reads the address's port as the next-header value (EINVAL above 255): 0 while it sends;
            // RestorePeerPort puts it back from the UDP header.
            buffer.Peer.Bytes.Slice(SockaddrInPortOffset, 2).Clear();
        }

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
