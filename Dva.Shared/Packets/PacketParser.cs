using System.Buffers.Binary;
using static Dva.Shared.Packets.PacketConstants;

namespace Dva.Shared.Packets;

/// <summary>
/// Parses an Ethernet frame down to the upper-layer header. Allocation-free and never throws: every
/// rejection is a <see cref="ParseError"/>. Checksums are not verified (the data path forwards, it does
/// not terminate; see <see cref="Checksum"/> for verification helpers).
/// </summary>
public static class PacketParser
{
    /*
     Ethernet II, optionally with one 802.1Q tag:
      0                   1                   2                   3
      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
     |                  Destination MAC (6)  ...  Source MAC (6)     |
     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
     | TPID 0x8100 (opt.)            | TCI: PCP|DEI|VID (opt.)       |
     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
     | EtherType                     | L3 ...
    */
    private const int EtherTypeOffset = 12;
    private const int VlanTciOffset = 14;
    private const int VlanInnerEtherTypeOffset = 16;

    // ARP for IPv4 over Ethernet (RFC 826): htype(2) ptype(2) hlen(1) plen(1) op(2) sha(6) spa(4) tha(6) tpa(4).
    private const int ArpLength = 28;
    private const int ArpOperationOffset = 6;
    private const int ArpSenderMacOffset = 8;
    private const int ArpSenderIpOffset = 14;
    private const int ArpTargetMacOffset = 18;
    private const int ArpTargetIpOffset = 24;

    /*
     IPv4 (RFC 791):
     |Version|  IHL  |Type of Service|          Total Length         |  0
     |         Identification        |Flags|      Fragment Offset    |  4
     |  Time to Live |    Protocol   |         Header Checksum       |  8
     |                       Source Address                          | 12
     |                    Destination Address                        | 16
    */
    private const int Ipv4TotalLengthOffset = 2;
    private const int Ipv4IdOffset = 4;
    private const int Ipv4FlagsFragmentOffset = 6;
    private const int Ipv4TtlOffset = 8;
    private const int Ipv4ProtocolOffset = 9;
    private const int Ipv4SourceOffset = 12;
    private const int Ipv4DestinationOffset = 16;
    private const ushort Ipv4MoreFragments = 0x2000;
    private const ushort Ipv4FragmentOffsetMask = 0x1FFF;

    /*
     IPv6 (RFC 8200):
     |Version| Traffic Class |           Flow Label                  |  0
     |         Payload Length        |  Next Header  |   Hop Limit   |  4
     |                Source Address (16)                            |  8
     |                Destination Address (16)                       | 24
     Extension headers: | Next Header | Hdr Ext Len (8-octet units, excl. first 8) | ...
     Fragment header:   | Next Header | Reserved | Fragment Offset (13) |Res|M| Identification (32) |
    */
    private const int Ipv6PayloadLengthOffset = 4;
    private const int Ipv6NextHeaderOffset = 6;
    private const int Ipv6HopLimitOffset = 7;
    private const int Ipv6SourceOffset = 8;
    private const int Ipv6DestinationOffset = 24;
    private const int Ipv6FragmentHeaderLength = 8;
    private const byte Ipv6HopByHop = 0;
    private const byte Ipv6Routing = 43;
    private const byte Ipv6Fragment = 44;
    private const byte Ipv6DestinationOptions = 60;

    // More than this many extension headers is an attack on parsers, not a real packet.
    private const int MaxIpv6ExtensionHeaders = 8;

    /*
     TCP (RFC 9293):
     |          Source Port          |       Destination Port        |  0
     |                        Sequence Number                        |  4
     |                    Acknowledgment Number                      |  8
     |  Data |       |C|E|U|A|P|R|S|F|                               | 12
     | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
     |           Checksum            |         Urgent Pointer        | 16
    */
    private const int TcpSequenceOffset = 4;
    private const int TcpAckOffset = 8;
    private const int TcpDataOffsetOffset = 12;
    private const int TcpFlagsOffset = 13;
    private const byte TcpOptionEnd = 0;
    private const byte TcpOptionNop = 1;
    private const byte TcpOptionMss = 2;
    private const int TcpOptionMssLength = 4;

    // UDP: | Source Port | Destination Port | Length | Checksum |
    private const int UdpLengthOffset = 4;

    // SCTP common header (RFC 9260): | Source Port | Destination Port | Verification Tag | Checksum |
    private const int SctpCommonHeaderLength = 12;

    // ICMP/ICMPv6: | Type | Code | Checksum | Identifier / unused | Sequence / MTU | then quote or data.
    private const int IcmpIdOffset = 4;
    private const int IcmpSequenceOffset = 6;

    public static ParseError TryParse(ReadOnlySpan<byte> frame, out PacketInfo info)
    {
        info = default;
        return ParseFrame(frame, ref PacketInfo.FieldsOf(ref info));
    }

    /// <summary>
    /// The 5-tuple of the commonest frame, read without filling a <see cref="PacketInfo"/>: IPv4 (untagged or one
    /// 802.1Q tag), not a fragment, TCP or UDP. True only for a frame that <see cref="TryParse"/> accepts with the
    /// same fields (the same length checks run here: IHL, total length, TCP data offset, UDP length); false for
    /// every other frame, which the caller then parses in full. The data path's flow key and hash use it
    /// (<see cref="Flows.FlowKey.TryFromFrame"/>); a packet that needs more than its tuple parses later.
    /// </summary>
    public static bool TryReadIpv4Ports(ReadOnlySpan<byte> frame, out Ipv4Ports ports)
    {
        ports = default;
        if (frame.Length < EthernetHeaderLength + Ipv4MinHeaderLength)
        {
            return false;
        }

        int l3 = EthernetHeaderLength;
        ushort etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[EtherTypeOffset..]);
        if (etherType == EtherTypeVlan)
        {
            if (frame.Length < EthernetHeaderLength + VlanTagLength + Ipv4MinHeaderLength)
            {
                return false;
            }

            etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[VlanInnerEtherTypeOffset..]);
            l3 += VlanTagLength;
        }

        ReadOnlySpan<byte> ip = frame[l3..];
        if (etherType != EtherTypeIpv4 || ip[0] >> 4 != 4)
        {
            return false;
        }

        int headerLength = (ip[0] & 0x0F) * 4;
        int totalLength = BinaryPrimitives.ReadUInt16BigEndian(ip[Ipv4TotalLengthOffset..]);
        if (headerLength < Ipv4MinHeaderLength || totalLength < headerLength || totalLength > ip.Length
            || (BinaryPrimitives.ReadUInt16BigEndian(ip[Ipv4FlagsFragmentOffset..]) & (Ipv4MoreFragments | Ipv4FragmentOffsetMask)) != 0)
        {
            return false;
        }

        byte protocol = ip[Ipv4ProtocolOffset];
        ReadOnlySpan<byte> l4 = ip[headerLength..totalLength];
        TcpFlags flags = 0;
        if (protocol == ProtocolTcp)
        {
            if (l4.Length < TcpMinHeaderLength)
            {
                return false;
            }

            int tcpHeaderLength = (l4[TcpDataOffsetOffset] >> 4) * 4;
            if (tcpHeaderLength < TcpMinHeaderLength || tcpHeaderLength > l4.Length)
            {
                return false;
            }

            flags = (TcpFlags)l4[TcpFlagsOffset];
        }
        else if (protocol == ProtocolUdp)
        {
            if (l4.Length < UdpHeaderLength)
            {
                return false;
            }

            ushort udpLength = BinaryPrimitives.ReadUInt16BigEndian(l4[UdpLengthOffset..]);
            if (udpLength < UdpHeaderLength || udpLength > l4.Length)
            {
                return false;
            }
        }
        else
        {
            return false;
        }

        ports = new Ipv4Ports(
            protocol,
            BinaryPrimitives.ReadUInt32BigEndian(ip[Ipv4SourceOffset..]),
            BinaryPrimitives.ReadUInt32BigEndian(ip[Ipv4DestinationOffset..]),
            BinaryPrimitives.ReadUInt16BigEndian(l4),
            BinaryPrimitives.ReadUInt16BigEndian(l4[2..]),
            flags);
        return true;
    }

    private static ParseError ParseFrame(ReadOnlySpan<byte> frame, ref PacketFields f)
    {
        f.L3Offset = -1;
        f.ArpSenderMacOffset = -1;
        f.ArpTargetMacOffset = -1;
        f.SourceAddressOffset = -1;
        f.DestinationAddressOffset = -1;
        f.FragmentHeaderOffset = -1;
        f.L4Offset = -1;
        f.TcpOptionsOffset = -1;
        f.TcpMssOptionOffset = -1;
        f.PayloadOffset = -1;
        f.Quote.L3Offset = -1;
        f.Quote.L4Offset = -1;
        f.Quote.SourceAddressOffset = -1;
        f.Quote.DestinationAddressOffset = -1;

        if (frame.Length < EthernetHeaderLength)
        {
            return ParseError.EthernetTruncated;
        }

        ushort etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[EtherTypeOffset..]);
        int l3 = EthernetHeaderLength;
        if (etherType == EtherTypeVlan)
        {
            if (frame.Length < EthernetHeaderLength + VlanTagLength)
            {
                return ParseError.VlanTagTruncated;
            }

            f.HasVlan = true;
            f.VlanTci = BinaryPrimitives.ReadUInt16BigEndian(frame[VlanTciOffset..]);
            etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[VlanInnerEtherTypeOffset..]);
            l3 += VlanTagLength;
        }

        if (etherType is EtherTypeVlan or EtherTypeQinQ)
        {
            return ParseError.StackedVlanUnsupported;
        }

        f.EtherType = etherType;
        f.L3Offset = l3;
        return etherType switch
        {
            EtherTypeArp => ParseArp(frame, l3, ref f),
            EtherTypeIpv4 => ParseIpv4(frame, l3, ref f),
            EtherTypeIpv6 => ParseIpv6(frame, l3, ref f),
            // Other EtherTypes are accepted at L2: the dispatcher sends them down the broadcast chain.
            _ => ParseError.None,
        };
    }

    private static ParseError ParseArp(ReadOnlySpan<byte> frame, int l3, ref PacketFields f)
    {
        if (frame.Length - l3 < ArpLength)
        {
            return ParseError.ArpTruncated;
        }

        ReadOnlySpan<byte> arp = frame.Slice(l3, ArpLength);
        if (BinaryPrimitives.ReadUInt16BigEndian(arp) != 1
            || BinaryPrimitives.ReadUInt16BigEndian(arp[2..]) != EtherTypeIpv4
            || arp[4] != 6 || arp[5] != 4)
        {
            return ParseError.ArpUnsupportedFormat;
        }

        f.ArpOperation = BinaryPrimitives.ReadUInt16BigEndian(arp[ArpOperationOffset..]);
        f.ArpSenderMacOffset = l3 + ArpSenderMacOffset;
        f.ArpTargetMacOffset = l3 + ArpTargetMacOffset;
        f.ArpSenderIp = BinaryPrimitives.ReadUInt32BigEndian(arp[ArpSenderIpOffset..]);
        f.ArpTargetIp = BinaryPrimitives.ReadUInt32BigEndian(arp[ArpTargetIpOffset..]);
        return ParseError.None;
    }

    private static ParseError ParseIpv4(ReadOnlySpan<byte> frame, int l3, ref PacketFields f)
    {
        ReadOnlySpan<byte> ip = frame[l3..];
        if (ip.Length < Ipv4MinHeaderLength)
        {
            return ParseError.Ipv4Truncated;
        }

        if (ip[0] >> 4 != 4)
        {
            return ParseError.Ipv4BadVersion;
        }

        switch (CheckIpv4HeaderLength(ip, out int headerLength))
        {
            case Ipv4HeaderCheck.BadLength:
                return ParseError.Ipv4BadHeaderLength;
            case Ipv4HeaderCheck.Truncated:
                return ParseError.Ipv4Truncated;
        }

        int totalLength = BinaryPrimitives.ReadUInt16BigEndian(ip[Ipv4TotalLengthOffset..]);
        if (totalLength < headerLength)
        {
            return ParseError.Ipv4TotalLengthTooSmall;
        }

        if (totalLength > ip.Length)
        {
            return ParseError.Ipv4TotalLengthExceedsFrame;
        }

        ushort flagsFragment = BinaryPrimitives.ReadUInt16BigEndian(ip[Ipv4FlagsFragmentOffset..]);
        f.IpVersion = 4;
        f.IpHeaderLength = headerLength;
        f.IpPacketLength = totalLength;
        f.FragmentId = BinaryPrimitives.ReadUInt16BigEndian(ip[Ipv4IdOffset..]);
        f.MoreFragments = (flagsFragment & Ipv4MoreFragments) != 0;
        f.FragmentOffset = (flagsFragment & Ipv4FragmentOffsetMask) * 8;
        f.IsFragment = f.MoreFragments || f.FragmentOffset != 0;
        f.HopLimit = ip[Ipv4TtlOffset];
        f.Protocol = ip[Ipv4ProtocolOffset];
        f.SourceAddressOffset = l3 + Ipv4SourceOffset;
        f.DestinationAddressOffset = l3 + Ipv4DestinationOffset;
        f.Source = IpAddr.FromV4(BinaryPrimitives.ReadUInt32BigEndian(ip[Ipv4SourceOffset..]));
        f.Destination = IpAddr.FromV4(BinaryPrimitives.ReadUInt32BigEndian(ip[Ipv4DestinationOffset..]));
        return ParseUpperLayer(frame, l3 + headerLength, totalLength - headerLength, ref f);
    }

    private enum Ipv4HeaderCheck
    {
        Ok,
        Truncated,
        BadLength,
    }

    // The IHL checks shared by the outer header and an ICMP quote, which name their failures differently.
    private static Ipv4HeaderCheck CheckIpv4HeaderLength(ReadOnlySpan<byte> ip, out int headerLength)
    {
        headerLength = ip.Length < Ipv4MinHeaderLength ? 0 : (ip[0] & 0x0F) * 4;
        if (ip.Length < Ipv4MinHeaderLength)
        {
            return Ipv4HeaderCheck.Truncated;
        }

        if (headerLength < Ipv4MinHeaderLength)
        {
            return Ipv4HeaderCheck.BadLength;
        }

        return ip.Length < headerLength ? Ipv4HeaderCheck.Truncated : Ipv4HeaderCheck.Ok;
    }

    private static ParseError ParseIpv6(ReadOnlySpan<byte> frame, int l3, ref PacketFields f)
    {
        ReadOnlySpan<byte> ip = frame[l3..];
        if (ip.Length < Ipv6HeaderLength)
        {
            return ParseError.Ipv6Truncated;
        }

        if (ip[0] >> 4 != 6)
        {
            return ParseError.Ipv6BadVersion;
        }

        int packetLength = Ipv6HeaderLength + BinaryPrimitives.ReadUInt16BigEndian(ip[Ipv6PayloadLengthOffset..]);
        if (packetLength > ip.Length)
        {
            return ParseError.Ipv6PayloadLengthExceedsFrame;
        }

        f.IpVersion = 6;
        f.IpPacketLength = packetLength;
        f.HopLimit = ip[Ipv6HopLimitOffset];
        f.SourceAddressOffset = l3 + Ipv6SourceOffset;
        f.DestinationAddressOffset = l3 + Ipv6DestinationOffset;
        f.Source = IpAddr.FromV6(BinaryPrimitives.ReadUInt128BigEndian(ip[Ipv6SourceOffset..]));
        f.Destination = IpAddr.FromV6(BinaryPrimitives.ReadUInt128BigEndian(ip[Ipv6DestinationOffset..]));

        ip = ip[..packetLength];
        var walk = WalkIpv6Extensions(ip, ip[Ipv6NextHeaderOffset]);
        if (walk.Error != ParseError.None)
        {
            return walk.Error;
        }

        f.Protocol = walk.NextHeader;
        f.IpHeaderLength = walk.UpperLayerOffset;
        if (walk.FragmentHeaderOffset >= 0)
        {
            f.FragmentHeaderOffset = l3 + walk.FragmentHeaderOffset;
            f.FragmentId = walk.FragmentId;
            f.FragmentOffset = walk.FragmentOffset;
            f.MoreFragments = walk.MoreFragments;
            f.IsFragment = walk.FragmentOffset != 0 || walk.MoreFragments;
        }

        return ParseUpperLayer(frame, l3 + walk.UpperLayerOffset, packetLength - walk.UpperLayerOffset, ref f);
    }

    private struct Ipv6Walk
    {
        public ParseError Error;
        public byte NextHeader;
        public int UpperLayerOffset;
        public int FragmentHeaderOffset;
        public uint FragmentId;
        public int FragmentOffset;
        public bool MoreFragments;
    }

    // Walks hop-by-hop, routing, destination options and fragment headers within ip (which starts at
    // the IPv6 header). Stops at any other next header, or after a non-first fragment header because
    // what follows is fragment payload, not a header.
    private static Ipv6Walk WalkIpv6Extensions(ReadOnlySpan<byte> ip, byte nextHeader)
    {
        var walk = new Ipv6Walk { FragmentHeaderOffset = -1 };
        int position = Ipv6HeaderLength;
        for (int count = 0; ; count++)
        {
            bool isExtension = nextHeader is Ipv6HopByHop or Ipv6Routing or Ipv6DestinationOptions or Ipv6Fragment;
            if (!isExtension)
            {
                break;
            }

            if (count == MaxIpv6ExtensionHeaders)
            {
                walk.Error = ParseError.Ipv6TooManyExtensionHeaders;
                return walk;
            }

            if (ip.Length - position < 8)
            {
                walk.Error = ParseError.Ipv6ExtensionHeaderTruncated;
                return walk;
            }

            if (nextHeader == Ipv6Fragment)
            {
                ushort offsetFlags = BinaryPrimitives.ReadUInt16BigEndian(ip[(position + 2)..]);
                walk.FragmentHeaderOffset = position;
                walk.FragmentOffset = offsetFlags & 0xFFF8;
                walk.MoreFragments = (offsetFlags & 1) != 0;
                walk.FragmentId = BinaryPrimitives.ReadUInt32BigEndian(ip[(position + 4)..]);
                nextHeader = ip[position];
                position += Ipv6FragmentHeaderLength;
                if (walk.FragmentOffset != 0)
                {
                    break;
                }

                continue;
            }

            int length = (ip[position + 1] + 1) * 8;
            if (ip.Length - position < length)
            {
                walk.Error = ParseError.Ipv6ExtensionHeaderTruncated;
                return walk;
            }

            nextHeader = ip[position];
            position += length;
        }

        walk.NextHeader = nextHeader;
        walk.UpperLayerOffset = position;
        return walk;
    }

    private static ParseError ParseUpperLayer(ReadOnlySpan<byte> frame, int l4, int length, ref PacketFields f)
    {
        f.L4Offset = l4;
        f.PayloadOffset = l4;
        f.PayloadLength = length;
        if (f.IsFragment)
        {
            // The receiving DP reassembles before looking at L4 (DESIGN.md §3), so a first fragment's
            // partial header is deliberately not interpreted here.
            return ParseError.None;
        }

        ReadOnlySpan<byte> l4Bytes = frame.Slice(l4, length);
        switch (f.Protocol)
        {
            case ProtocolTcp:
                return ParseTcp(l4Bytes, l4, ref f);
            case ProtocolUdp:
                return ParseUdp(l4Bytes, l4, ref f);
            case ProtocolSctp:
                if (length < SctpCommonHeaderLength)
                {
                    return ParseError.SctpTruncated;
                }

                f.HasTransportHeader = true;
                f.SrcPort = BinaryPrimitives.ReadUInt16BigEndian(l4Bytes);
                f.DstPort = BinaryPrimitives.ReadUInt16BigEndian(l4Bytes[2..]);
                return ParseError.None;
            case ProtocolIcmp when f.IpVersion == 4:
            case ProtocolIcmpv6 when f.IpVersion == 6:
                return ParseIcmp(frame, l4, length, ref f);
            default:
                return ParseError.None;
        }
    }

    private static ParseError ParseTcp(ReadOnlySpan<byte> tcp, int l4, ref PacketFields f)
    {
        if (tcp.Length < TcpMinHeaderLength)
        {
            return ParseError.TcpTruncated;
        }

        int headerLength = (tcp[TcpDataOffsetOffset] >> 4) * 4;
        if (headerLength < TcpMinHeaderLength || headerLength > tcp.Length)
        {
            return ParseError.TcpBadDataOffset;
        }

        f.HasTransportHeader = true;
        f.SrcPort = BinaryPrimitives.ReadUInt16BigEndian(tcp);
        f.DstPort = BinaryPrimitives.ReadUInt16BigEndian(tcp[2..]);
        f.TcpSequence = BinaryPrimitives.ReadUInt32BigEndian(tcp[TcpSequenceOffset..]);
        f.TcpAcknowledgment = BinaryPrimitives.ReadUInt32BigEndian(tcp[TcpAckOffset..]);
        f.TcpFlags = (TcpFlags)tcp[TcpFlagsOffset];
        f.TcpHeaderLength = headerLength;
        if (headerLength > TcpMinHeaderLength)
        {
            f.TcpOptionsOffset = l4 + TcpMinHeaderLength;
            int mss = FindMssOption(tcp[TcpMinHeaderLength..headerLength]);
            f.TcpMssOptionOffset = mss < 0 ? -1 : f.TcpOptionsOffset + mss;
        }

        f.PayloadOffset = l4 + headerLength;
        f.PayloadLength = tcp.Length - headerLength;
        return ParseError.None;
    }

    // Returns the offset of a well-formed MSS option within options, or -1. Malformed options are
    // not a parse error (the endpoint decides what to do with them) but are never rewritten.
    private static int FindMssOption(ReadOnlySpan<byte> options)
    {
        int position = 0;
        while (position < options.Length)
        {
            byte kind = options[position];
            if (kind == TcpOptionEnd)
            {
                return -1;
            }

            if (kind == TcpOptionNop)
            {
                position++;
                continue;
            }

            if (options.Length - position < 2)
            {
                return -1;
            }

            int length = options[position + 1];
            if (length < 2 || options.Length - position < length)
            {
                return -1;
            }

            if (kind == TcpOptionMss && length == TcpOptionMssLength)
            {
                return position;
            }

            position += length;
        }

        return -1;
    }

    private static ParseError ParseUdp(ReadOnlySpan<byte> udp, int l4, ref PacketFields f)
    {
        if (udp.Length < UdpHeaderLength)
        {
            return ParseError.UdpTruncated;
        }

        ushort udpLength = BinaryPrimitives.ReadUInt16BigEndian(udp[UdpLengthOffset..]);
        if (udpLength < UdpHeaderLength || udpLength > udp.Length)
        {
            return ParseError.UdpBadLength;
        }

        f.HasTransportHeader = true;
        f.SrcPort = BinaryPrimitives.ReadUInt16BigEndian(udp);
        f.DstPort = BinaryPrimitives.ReadUInt16BigEndian(udp[2..]);
        f.UdpLength = udpLength;
        f.PayloadOffset = l4 + UdpHeaderLength;
        f.PayloadLength = udpLength - UdpHeaderLength;
        return ParseError.None;
    }

    private static ParseError ParseIcmp(ReadOnlySpan<byte> frame, int l4, int length, ref PacketFields f)
    {
        if (length < IcmpHeaderLength)
        {
            return ParseError.IcmpTruncated;
        }

        ReadOnlySpan<byte> icmp = frame.Slice(l4, length);
        f.HasTransportHeader = true;
        f.IcmpType = icmp[0];
        f.IcmpCode = icmp[1];
        f.PayloadOffset = l4 + IcmpHeaderLength;
        f.PayloadLength = length - IcmpHeaderLength;
        if (IsEcho(f.IpVersion, f.IcmpType))
        {
            f.IcmpId = BinaryPrimitives.ReadUInt16BigEndian(icmp[IcmpIdOffset..]);
            f.IcmpSequence = BinaryPrimitives.ReadUInt16BigEndian(icmp[IcmpSequenceOffset..]);
            return ParseError.None;
        }

        if (!IsError(f.IpVersion, f.IcmpType))
        {
            return ParseError.None;
        }

        f.IsIcmpError = true;
        return ParseQuote(frame.Slice(l4 + IcmpHeaderLength, length - IcmpHeaderLength), l4 + IcmpHeaderLength, f.IpVersion, ref f.Quote);
    }

    internal static bool IsEcho(byte ipVersion, byte icmpType) =>
        ipVersion == 4 ? icmpType is 0 or 8 : icmpType is 128 or 129;

    // ICMPv4: destination unreachable, time exceeded, parameter problem. ICMPv6: destination
    // unreachable, packet too big, time exceeded, parameter problem. All quote the offending packet.
    internal static bool IsError(byte ipVersion, byte icmpType) =>
        ipVersion == 4 ? icmpType is 3 or 11 or 12 : icmpType is 1 or 2 or 3 or 4;

    private static ParseError ParseQuote(ReadOnlySpan<byte> quote, int offset, byte version, ref QuotedFields q)
    {
        q.L3Offset = offset;
        q.Length = quote.Length;
        if (quote.Length < 1)
        {
            return ParseError.IcmpQuoteTruncated;
        }

        if (quote[0] >> 4 != version)
        {
            return ParseError.IcmpQuoteBadVersion;
        }

        int l4;
        if (version == 4)
        {
            switch (CheckIpv4HeaderLength(quote, out int headerLength))
            {
                case Ipv4HeaderCheck.BadLength:
                    return ParseError.IcmpQuoteBadHeaderLength;
                case Ipv4HeaderCheck.Truncated:
                    return ParseError.IcmpQuoteTruncated;
            }

            ushort flagsFragment = BinaryPrimitives.ReadUInt16BigEndian(quote[Ipv4FlagsFragmentOffset..]);
            q.IpVersion = 4;
            q.Protocol = quote[Ipv4ProtocolOffset];
            q.FragmentOffset = (flagsFragment & Ipv4FragmentOffsetMask) * 8;
            q.IsFragment = q.FragmentOffset != 0 || (flagsFragment & Ipv4MoreFragments) != 0;
            q.SourceAddressOffset = offset + Ipv4SourceOffset;
            q.DestinationAddressOffset = offset + Ipv4DestinationOffset;
            q.Source = IpAddr.FromV4(BinaryPrimitives.ReadUInt32BigEndian(quote[Ipv4SourceOffset..]));
            q.Destination = IpAddr.FromV4(BinaryPrimitives.ReadUInt32BigEndian(quote[Ipv4DestinationOffset..]));
            l4 = headerLength;
        }
        else
        {
            if (quote.Length < Ipv6HeaderLength)
            {
                return ParseError.IcmpQuoteTruncated;
            }

            q.IpVersion = 6;
            q.SourceAddressOffset = offset + Ipv6SourceOffset;
            q.DestinationAddressOffset = offset + Ipv6DestinationOffset;
            q.Source = IpAddr.FromV6(BinaryPrimitives.ReadUInt128BigEndian(quote[Ipv6SourceOffset..]));
            q.Destination = IpAddr.FromV6(BinaryPrimitives.ReadUInt128BigEndian(quote[Ipv6DestinationOffset..]));
            var walk = WalkIpv6Extensions(quote, quote[Ipv6NextHeaderOffset]);
            if (walk.Error != ParseError.None)
            {
                // A quote cut inside the extension headers still names the flow's addresses.
                q.Protocol = quote[Ipv6NextHeaderOffset];
                return ParseError.None;
            }

            q.Protocol = walk.NextHeader;
            q.FragmentOffset = walk.FragmentOffset;
            q.IsFragment = walk.FragmentOffset != 0 || walk.MoreFragments;
            l4 = walk.UpperLayerOffset;
        }

        if (q.FragmentOffset != 0)
        {
            return ParseError.None;
        }

        q.L4Offset = offset + l4;
        ReadOnlySpan<byte> l4Bytes = quote[l4..];
        bool isIcmp = q.Protocol == (version == 4 ? ProtocolIcmp : ProtocolIcmpv6);
        if (q.Protocol is ProtocolTcp or ProtocolUdp or ProtocolSctp && l4Bytes.Length >= 4)
        {
            q.HasPorts = true;
            q.SrcPort = BinaryPrimitives.ReadUInt16BigEndian(l4Bytes);
            q.DstPort = BinaryPrimitives.ReadUInt16BigEndian(l4Bytes[2..]);
        }
        else if (isIcmp && l4Bytes.Length >= IcmpIdOffset + 2)
        {
            q.HasIcmpHeader = true;
            q.IcmpType = l4Bytes[0];
            q.IcmpCode = l4Bytes[1];
            q.IcmpId = BinaryPrimitives.ReadUInt16BigEndian(l4Bytes[IcmpIdOffset..]);
        }

        return ParseError.None;
    }
}
