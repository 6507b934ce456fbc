using System.Buffers.Binary;
using static Dva.Shared.Packets.PacketConstants;

namespace Dva.Shared.Packets;

/// <summary>
/// Writes complete frames (with correct checksums) into a caller-provided buffer and returns their
/// length, or 0 when the buffer is too small or the request does not qualify (e.g. never an ICMP error
/// about an ICMP error, never a RST answering a RST). Answers to a parsed frame swap its MAC addresses
/// (the DVA answers from the MAC the frame was sent to) and keep its 802.1Q tag.
/// </summary>
public static class PacketBuilder
{
    private const int MacLength = 6;
    private const int ArpLength = 28;
    private const byte DefaultTtl = 64;
    private const int TcpChecksumOffset = 16;
    private const int IcmpChecksumOffset = 2;
    private const int Ipv4SourceOffset = 12;
    private const int Ipv6SourceOffset = 8;
    private const int Ipv6DestinationOffset = 24;

    /// <summary>Maximum quote of an ICMPv6 error: the whole error must fit in the IPv6 minimum MTU.</summary>
    public const int Icmpv6MaxQuote = Ipv6MinimumMtu - Ipv6HeaderLength - IcmpHeaderLength;

    private static ReadOnlySpan<byte> BroadcastMac => [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];

    /// <summary>Writes an untagged Ethernet II header (14 bytes).</summary>
    public static int WriteEthernet(Span<byte> destination, ReadOnlySpan<byte> destinationMac, ReadOnlySpan<byte> sourceMac, ushort etherType)
    {
        if (destination.Length < EthernetHeaderLength || destinationMac.Length != MacLength || sourceMac.Length != MacLength)
        {
            return 0;
        }

        destinationMac.CopyTo(destination);
        sourceMac.CopyTo(destination[MacLength..]);
        BinaryPrimitives.WriteUInt16BigEndian(destination[12..], etherType);
        return EthernetHeaderLength;
    }

    /// <summary>Writes an Ethernet II header with one 802.1Q tag (18 bytes).</summary>
    public static int WriteEthernet(Span<byte> destination, ReadOnlySpan<byte> destinationMac, ReadOnlySpan<byte> sourceMac, ushort etherType, ushort vlanTci)
    {
        if (destination.Length < EthernetHeaderLength + VlanTagLength
            || WriteEthernet(destination, destinationMac, sourceMac, EtherTypeVlan) == 0)
        {
            return 0;
        }

        BinaryPrimitives.WriteUInt16BigEndian(destination[14..], vlanTci);
        BinaryPrimitives.WriteUInt16BigEndian(destination[16..], etherType);
        return EthernetHeaderLength + VlanTagLength;
    }

    private static int WriteEthernet(Span<byte> destination, ReadOnlySpan<byte> destinationMac, ReadOnlySpan<byte> sourceMac, ushort etherType, ushort? vlanTci) =>
        vlanTci is { } tci
            ? WriteEthernet(destination, destinationMac, sourceMac, etherType, tci)
            : WriteEthernet(destination, destinationMac, sourceMac, etherType);

    // Answer header: to the request's source MAC, from the MAC it was sent to, same VLAN.
    private static int WriteAnswerEthernet(Span<byte> destination, ReadOnlySpan<byte> request, in PacketInfo info, ushort etherType) =>
        WriteEthernet(destination, request.Slice(MacLength, MacLength), request[..MacLength], etherType, info.HasVlan ? info.VlanTci : null);

    /// <summary>Broadcast ARP request "who has <paramref name="targetIp"/>, tell <paramref name="senderIp"/>" (42 bytes untagged).</summary>
    public static int ArpRequest(Span<byte> destination, ReadOnlySpan<byte> senderMac, uint senderIp, uint targetIp, ushort? vlanTci = null)
    {
        int l2 = WriteEthernet(destination, BroadcastMac, senderMac, EtherTypeArp, vlanTci);
        return l2 == 0 ? 0 : WriteArp(destination, l2, 1, senderMac, senderIp, default, targetIp);
    }

    /// <summary>Unicast ARP reply "<paramref name="senderIp"/> is at <paramref name="senderMac"/>" to the requester.</summary>
    public static int ArpReply(Span<byte> destination, ReadOnlySpan<byte> senderMac, uint senderIp, ReadOnlySpan<byte> targetMac, uint targetIp, ushort? vlanTci = null)
    {
        int l2 = WriteEthernet(destination, targetMac, senderMac, EtherTypeArp, vlanTci);
        return l2 == 0 ? 0 : WriteArp(destination, l2, 2, senderMac, senderIp, targetMac, targetIp);
    }

    /// <summary>Answers a parsed ARP request for its target address with <paramref name="ownMac"/>.</summary>
    public static int ArpReply(Span<byte> destination, ReadOnlySpan<byte> request, in PacketInfo info, ReadOnlySpan<byte> ownMac)
    {
        if (!info.IsArp || info.ArpOperation != 1)
        {
            return 0;
        }

        return ArpReply(destination, ownMac, info.ArpTargetIp, request.Slice(info.ArpSenderMacOffset, MacLength), info.ArpSenderIp,
            info.HasVlan ? info.VlanTci : null);
    }

    private static int WriteArp(Span<byte> destination, int offset, ushort operation, ReadOnlySpan<byte> senderMac, uint senderIp, ReadOnlySpan<byte> targetMac, uint targetIp)
    {
        if (destination.Length - offset < ArpLength)
        {
            return 0;
        }

        Span<byte> arp = destination.Slice(offset, ArpLength);
        BinaryPrimitives.WriteUInt16BigEndian(arp, 1);
        BinaryPrimitives.WriteUInt16BigEndian(arp[2..], EtherTypeIpv4);
        arp[4] = MacLength;
        arp[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(arp[6..], operation);
        senderMac.CopyTo(arp[8..]);
        BinaryPrimitives.WriteUInt32BigEndian(arp[14..], senderIp);
        if (targetMac.IsEmpty)
        {
            arp.Slice(18, MacLength).Clear();
        }
        else
        {
            targetMac.CopyTo(arp[18..]);
        }

        BinaryPrimitives.WriteUInt32BigEndian(arp[24..], targetIp);
        return offset + ArpLength;
    }

    /*
     IPv4 header written by the builders: no options, DF clear, identification 0 (RFC 6864 allows
     it for atomic datagrams), TTL 64.
    */
    private static void WriteIpv4Header(Span<byte> ip, int totalLength, byte protocol, uint source, uint destination)
    {
        ip[0] = 0x45;
        ip[1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)totalLength);
        BinaryPrimitives.WriteUInt32BigEndian(ip[4..], 0);
        ip[8] = DefaultTtl;
        ip[9] = protocol;
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], 0);
        BinaryPrimitives.WriteUInt32BigEndian(ip[Ipv4SourceOffset..], source);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], destination);
        Checksum.WriteIpv4Header(ip[..Ipv4MinHeaderLength]);
    }

    // IPv6 header: traffic class and flow label 0, hop limit 64.
    private static void WriteIpv6Header(Span<byte> ip, int payloadLength, byte nextHeader, UInt128 source, UInt128 destination)
    {
        BinaryPrimitives.WriteUInt32BigEndian(ip, 0x60000000);
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)payloadLength);
        ip[6] = nextHeader;
        ip[7] = DefaultTtl;
        BinaryPrimitives.WriteUInt128BigEndian(ip[Ipv6SourceOffset..], source);
        BinaryPrimitives.WriteUInt128BigEndian(ip[Ipv6DestinationOffset..], destination);
    }

    // Writes the L3 header for an answer travelling from source to destination and returns the
    // upper-layer offset in the frame, or 0 when the frame would not fit.
    private static int WriteIpHeader(Span<byte> frame, int l3, int upperLength, byte protocol, IpAddr source, IpAddr destination)
    {
        int headerLength = source.IsV4 ? Ipv4MinHeaderLength : Ipv6HeaderLength;
        if (frame.Length - l3 < headerLength + upperLength)
        {
            return 0;
        }

        if (source.IsV4)
        {
            WriteIpv4Header(frame[l3..], headerLength + upperLength, protocol, source.V4, destination.V4);
        }
        else
        {
            WriteIpv6Header(frame[l3..], upperLength, protocol, source.Value, destination.Value);
        }

        return l3 + headerLength;
    }

    // ICMPv4 checksums cover the message only; ICMPv6, TCP and UDP add the pseudo-header.
    private static void WriteUpperChecksum(Span<byte> frame, int l4, int length, byte protocol, IpAddr source, IpAddr destination, int checksumOffset)
    {
        Span<byte> upper = frame.Slice(l4, length);
        BinaryPrimitives.WriteUInt16BigEndian(upper[checksumOffset..], 0);
        ulong sum = 0;
        if (protocol != ProtocolIcmp)
        {
            Span<byte> addresses = stackalloc byte[32];
            int addressLength = source.WriteTo(addresses);
            destination.WriteTo(addresses[addressLength..]);
            sum = Checksum.Add(addresses[..(addressLength * 2)]) + protocol + (uint)length;
        }

        BinaryPrimitives.WriteUInt16BigEndian(upper[checksumOffset..], Checksum.Compute(upper, sum));
    }

    /// <summary>Answers an ICMPv4 echo request with an echo reply carrying the same identifier, sequence and data.</summary>
    public static int Icmpv4EchoReply(Span<byte> destination, ReadOnlySpan<byte> request, in PacketInfo info) =>
        info.IpVersion == 4 && info.Protocol == ProtocolIcmp && info.IcmpType == 8 && info.HasTransportHeader
            ? EchoReply(destination, request, info, 0)
            : 0;

    /// <summary>Answers an ICMPv6 echo request with an echo reply carrying the same identifier, sequence and data.</summary>
    public static int Icmpv6EchoReply(Span<byte> destination, ReadOnlySpan<byte> request, in PacketInfo info) =>
        info.IpVersion == 6 && info.Protocol == ProtocolIcmpv6 && info.IcmpType == 128 && info.HasTransportHeader
            ? EchoReply(destination, request, info, 129)
            : 0;

    private static int EchoReply(Span<byte> destination, ReadOnlySpan<byte> request, in PacketInfo info, byte replyType)
    {
        int messageLength = info.IpPacketLength - info.IpHeaderLength;
        int l3 = WriteAnswerEthernet(destination, request, info, info.IpVersion == 4 ? EtherTypeIpv4 : EtherTypeIpv6);
        int l4 = l3 == 0 ? 0 : WriteIpHeader(destination, l3, messageLength, info.Protocol, info.Destination, info.Source);
        if (l4 == 0)
        {
            return 0;
        }

        request.Slice(info.L4Offset, messageLength).CopyTo(destination[l4..]);
        destination[l4] = replyType;
        destination[l4 + 1] = 0;
        WriteUpperChecksum(destination, l4, messageLength, info.Protocol, info.Destination, info.Source, IcmpChecksumOffset);
        return l4 + messageLength;
    }

    /// <summary>
    /// ICMPv4 destination unreachable (type 3) with the given code; for code 4 (fragmentation needed,
    /// RFC 1191) <paramref name="nextHopMtu"/> fills the low 16 bits of the second word. Quotes the
    /// original IP header and the first 8 bytes of its payload. Sent from <paramref name="source"/>.
    /// </summary>
    public static int Icmpv4DestinationUnreachable(Span<byte> destination, ReadOnlySpan<byte> request, in PacketInfo info, byte code, ushort nextHopMtu, uint source) =>
        Icmpv4Error(destination, request, info, 3, code, code == 4 ? nextHopMtu : 0u, source);

    /// <summary>ICMPv4 time exceeded in transit (type 11, code 0).</summary>
    public static int Icmpv4TimeExceeded(Span<byte> destination, ReadOnlySpan<byte> request, in PacketInfo info, uint source) =>
        Icmpv4Error(destination, request, info, 11, 0, 0, source);

    /// <summary>Any ICMPv4 error: header + IP header + 8 bytes quote (RFC 792).</summary>
    public static int Icmpv4Error(Span<byte> destination, ReadOnlySpan<byte> request, in PacketInfo info, byte type, byte code, uint restOfHeader, uint source)
    {
        if (info.IpVersion != 4 || info.IsIcmpError || info.FragmentOffset != 0)
        {
            return 0; // RFC 1122 §3.2.2: never about an ICMP error or a non-first fragment.
        }

        int quoteLength = Math.Min(info.IpPacketLength, info.IpHeaderLength + 8);
        return IcmpError(destination, request, info, type, code, restOfHeader, IpAddr.FromV4(source), quoteLength);
    }

    /// <summary>ICMPv6 packet too big (type 2) reporting <paramref name="mtu"/>, quoting as much of the packet as fits in 1280 bytes.</summary>
    public static int Icmpv6PacketTooBig(Span<byte> destination, ReadOnlySpan<byte> request, in PacketInfo info, uint mtu, UInt128 source) =>
        Icmpv6Error(destination, request, info, 2, 0, mtu, source);

    /// <summary>ICMPv6 time exceeded (type 3, code 0: hop limit exceeded in transit).</summary>
    public static int Icmpv6TimeExceeded(Span<byte> destination, ReadOnlySpan<byte> request, in PacketInfo info, UInt128 source) =>
        Icmpv6Error(destination, request, info, 3, 0, 0, source);

    /// <summary>Any ICMPv6 error (RFC 4443), quoting as much of the packet as fits in the minimum MTU.</summary>
    public static int Icmpv6Error(Span<byte> destination, ReadOnlySpan<byte> request, in PacketInfo info, byte type, byte code, uint restOfHeader, UInt128 source)
    {
        if (info.IpVersion != 6 || info.IsIcmpError)
        {
            return 0; // RFC 4443 §2.4 e.1: never about an ICMPv6 error.
        }

        int quoteLength = Math.Min(info.IpPacketLength, Icmpv6MaxQuote);
        return IcmpError(destination, request, info, type, code, restOfHeader, IpAddr.FromV6(source), quoteLength);
    }

    private static int IcmpError(Span<byte> destination, ReadOnlySpan<byte> request, in PacketInfo info, byte type, byte code, uint restOfHeader, IpAddr source, int quoteLength)
    {
        byte protocol = info.IpVersion == 4 ? ProtocolIcmp : ProtocolIcmpv6;
        int messageLength = IcmpHeaderLength + quoteLength;
        int l3 = WriteAnswerEthernet(destination, request, info, info.IpVersion == 4 ? EtherTypeIpv4 : EtherTypeIpv6);
        int l4 = l3 == 0 ? 0 : WriteIpHeader(destination, l3, messageLength, protocol, source, info.Source);
        if (l4 == 0)
        {
            return 0;
        }

        Span<byte> icmp = destination.Slice(l4, messageLength);
        icmp[0] = type;
        icmp[1] = code;
        BinaryPrimitives.WriteUInt32BigEndian(icmp[4..], restOfHeader);
        request.Slice(info.L3Offset, quoteLength).CopyTo(icmp[IcmpHeaderLength..]);
        WriteUpperChecksum(destination, l4, messageLength, protocol, source, info.Source, IcmpChecksumOffset);
        return l4 + messageLength;
    }

    /// <summary>
    /// A TCP RST answering a parsed TCP segment (IPv4 or IPv6), as RFC 9293 §3.10.7.1 prescribes:
    /// if the segment has ACK, RST with SEQ = SEG.ACK; otherwise RST|ACK with SEQ = 0 and
    /// ACK = SEG.SEQ + SEG.LEN (SYN and FIN count one each). Never answers a RST.
    /// </summary>
    public static int TcpRst(Span<byte> destination, ReadOnlySpan<byte> request, in PacketInfo info)
    {
        if (info.Protocol != ProtocolTcp || !info.HasTransportHeader || (info.TcpFlags & TcpFlags.Rst) != 0)
        {
            return 0;
        }

        int l3 = WriteAnswerEthernet(destination, request, info, info.IpVersion == 4 ? EtherTypeIpv4 : EtherTypeIpv6);
        int l4 = l3 == 0 ? 0 : WriteIpHeader(destination, l3, TcpMinHeaderLength, ProtocolTcp, info.Destination, info.Source);
        if (l4 == 0)
        {
            return 0;
        }

        uint sequence;
        uint acknowledgment;
        TcpFlags flags;
        if ((info.TcpFlags & TcpFlags.Ack) != 0)
        {
            sequence = info.TcpAcknowledgment;
            acknowledgment = 0;
            flags = TcpFlags.Rst;
        }
        else
        {
            uint segmentLength = (uint)info.PayloadLength
                + ((info.TcpFlags & TcpFlags.Syn) != 0 ? 1u : 0u)
                + ((info.TcpFlags & TcpFlags.Fin) != 0 ? 1u : 0u);
            sequence = 0;
            acknowledgment = unchecked(info.TcpSequence + segmentLength);
            flags = TcpFlags.Rst | TcpFlags.Ack;
        }

        Span<byte> tcp = destination.Slice(l4, TcpMinHeaderLength);
        BinaryPrimitives.WriteUInt16BigEndian(tcp, info.DstPort);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], info.SrcPort);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], sequence);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[8..], acknowledgment);
        tcp[12] = (TcpMinHeaderLength / 4) << 4;
        tcp[13] = (byte)flags;
        BinaryPrimitives.WriteUInt32BigEndian(tcp[14..], 0); // window 0, checksum placeholder
        BinaryPrimitives.WriteUInt16BigEndian(tcp[18..], 0); // urgent pointer
        WriteUpperChecksum(destination, l4, TcpMinHeaderLength, ProtocolTcp, info.Destination, info.Source, TcpChecksumOffset);
        return l4 + TcpMinHeaderLength;
    }
}
