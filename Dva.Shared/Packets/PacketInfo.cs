using System.Runtime.CompilerServices;

namespace Dva.Shared.Packets;

/// <summary>TCP header flags (the low byte of the flags field; NS is not tracked).</summary>
[Flags]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1711:Identifiers should not have incorrect suffix", Justification = "RFC 9293 calls them the TCP flags.")]
public enum TcpFlags : byte
{
    None = 0,
    Fin = 0x01,
    Syn = 0x02,
    Rst = 0x04,
    Psh = 0x08,
    Ack = 0x10,
    Urg = 0x20,
    Ece = 0x40,
    Cwr = 0x80,
}

/// <summary>Well-known EtherTypes and IP protocol numbers used by the parser.</summary>
public static class PacketConstants
{
    public const ushort EtherTypeIpv4 = 0x0800;
    public const ushort EtherTypeArp = 0x0806;
    public const ushort EtherTypeVlan = 0x8100;
    public const ushort EtherTypeQinQ = 0x88A8;
    public const ushort EtherTypeIpv6 = 0x86DD;

    public const byte ProtocolIcmp = 1;
    public const byte ProtocolTcp = 6;
    public const byte ProtocolUdp = 17;
    public const byte ProtocolIcmpv6 = 58;
    public const byte ProtocolSctp = 132;

    public const int EthernetHeaderLength = 14;
    public const int VlanTagLength = 4;
    public const int Ipv4MinHeaderLength = 20;
    public const int Ipv6HeaderLength = 40;
    public const int TcpMinHeaderLength = 20;
    public const int UdpHeaderLength = 8;
    public const int IcmpHeaderLength = 8;

    /// <summary>IPv6 minimum link MTU: an ICMPv6 error must fit in it (RFC 4443 §2.4 c).</summary>
    public const int Ipv6MinimumMtu = 1280;
}

// The parser fills one mutable record and publishes it through the readonly PacketInfo, so the
// public view cannot be altered by the data path yet the parser writes each field once.
internal struct QuotedFields
{
    public int L3Offset;
    public int Length;
    public byte IpVersion;
    public int SourceAddressOffset;
    public int DestinationAddressOffset;
    public IpAddr Source;
    public IpAddr Destination;
    public byte Protocol;
    public bool IsFragment;
    public int FragmentOffset;
    public int L4Offset;
    public bool HasPorts;
    public ushort SrcPort;
    public ushort DstPort;
    public bool HasIcmpHeader;
    public byte IcmpType;
    public byte IcmpCode;
    public ushort IcmpId;
}

internal struct PacketFields
{
    public ushort EtherType;
    public bool HasVlan;
    public ushort VlanTci;
    public int L3Offset;
    public ushort ArpOperation;
    public int ArpSenderMacOffset;
    public int ArpTargetMacOffset;
    public uint ArpSenderIp;
    public uint ArpTargetIp;
    public byte IpVersion;
    public int IpHeaderLength;
    public int IpPacketLength;
    public int SourceAddressOffset;
    public int DestinationAddressOffset;
    public IpAddr Source;
    public IpAddr Destination;
    public byte Protocol;
    public byte HopLimit;
    public bool IsFragment;
    public bool MoreFragments;
    public int FragmentOffset;
    public uint FragmentId;
    public int FragmentHeaderOffset;
    public int L4Offset;
    public bool HasTransportHeader;
    public ushort SrcPort;
    public ushort DstPort;
    public uint TcpSequence;
    public uint TcpAcknowledgment;
    public TcpFlags TcpFlags;
    public int TcpHeaderLength;
    public int TcpOptionsOffset;
    public int TcpMssOptionOffset;
    public ushort UdpLength;
    public byte IcmpType;
    public byte IcmpCode;
    public ushort IcmpId;
    public ushort IcmpSequence;
    public bool IsIcmpError;
    public int PayloadOffset;
    public int PayloadLength;
    public QuotedFields Quote;
}

/// <summary>
/// The IP header and first 8 bytes of L4 quoted by an ICMP/ICMPv6 error. Offsets are into the outer
/// frame. The quote may be truncated after the IP header (RFC 792/4443 only promise "as much as
/// fits"), so ports and ICMP fields are present only when <see cref="HasPorts"/>/<see cref="HasIcmpHeader"/>.
/// </summary>
public readonly struct QuotedPacket
{
    private readonly QuotedFields _f;

    internal QuotedPacket(in QuotedFields fields) => _f = fields;

    /// <summary>Offset of the quoted IP header in the frame.</summary>
    public int L3Offset => _f.L3Offset;

    /// <summary>Bytes of the quote present in the frame (from <see cref="L3Offset"/>).</summary>
    public int Length => _f.Length;

    public byte IpVersion => _f.IpVersion;

    public int SourceAddressOffset => _f.SourceAddressOffset;

    public int DestinationAddressOffset => _f.DestinationAddressOffset;

    public IpAddr Source => _f.Source;

    public IpAddr Destination => _f.Destination;

    public byte Protocol => _f.Protocol;

    public bool IsFragment => _f.IsFragment;

    /// <summary>Fragment offset in bytes.</summary>
    public int FragmentOffset => _f.FragmentOffset;

    /// <summary>Offset of the quoted L4 header, or -1 when it is a non-first fragment or cut off.</summary>
    public int L4Offset => _f.L4Offset;

    /// <summary>True when the quoted packet is TCP/UDP/SCTP and its two ports are present.</summary>
    public bool HasPorts => _f.HasPorts;

    public ushort SrcPort => _f.SrcPort;

    public ushort DstPort => _f.DstPort;

    /// <summary>True when the quoted packet is ICMP/ICMPv6 and its type, code and identifier are present.</summary>
    public bool HasIcmpHeader => _f.HasIcmpHeader;

    public byte IcmpType => _f.IcmpType;

    public byte IcmpCode => _f.IcmpCode;

    public ushort IcmpId => _f.IcmpId;
}

/// <summary>
/// What <see cref="PacketParser.TryParse"/> learnt about a frame: offsets into the frame and the values
/// the data path keys on. Offsets are -1 when the layer is absent. Values are a snapshot: after an
/// in-place rewrite (<see cref="PacketRewriter"/>) the offsets stay valid but addresses/ports are stale.
/// </summary>
public readonly struct PacketInfo
{
#pragma warning disable CS0649 // assigned through FieldsOf by the parser
    private readonly PacketFields _f;
#pragma warning restore CS0649

    // The parser writes straight into the caller's PacketInfo, saving a per-packet copy of this
    // ~300-byte record (not yet measured apart: PacketBenchmarks ran on a saturated machine).
    internal static ref PacketFields FieldsOf(ref PacketInfo info) => ref Unsafe.AsRef(in info._f);

    /// <summary>EtherType after the VLAN tag (if any).</summary>
    public ushort EtherType => _f.EtherType;

    /// <summary>True when the frame carried one 802.1Q tag; false when untagged or already stripped.</summary>
    public bool HasVlan => _f.HasVlan;

    /// <summary>The 802.1Q tag control information (PCP, DEI, VID); 0 when untagged.</summary>
    public ushort VlanTci => _f.VlanTci;

    public ushort VlanId => (ushort)(_f.VlanTci & 0x0FFF);

    /// <summary>Offset of the ARP or IP header.</summary>
    public int L3Offset => _f.L3Offset;

    public bool IsArp => _f.EtherType == PacketConstants.EtherTypeArp && _f.ArpOperation != 0;

    /// <summary>1 = request, 2 = reply.</summary>
    public ushort ArpOperation => _f.ArpOperation;

    public int ArpSenderMacOffset => _f.ArpSenderMacOffset;

    public int ArpTargetMacOffset => _f.ArpTargetMacOffset;

    public uint ArpSenderIp => _f.ArpSenderIp;

    public uint ArpTargetIp => _f.ArpTargetIp;

    /// <summary>4, 6, or 0 when the frame is not IP.</summary>
    public byte IpVersion => _f.IpVersion;

    public bool IsIp => _f.IpVersion != 0;

    /// <summary>IPv4 IHL × 4, or 40 + all IPv6 extension headers up to the upper layer.</summary>
    public int IpHeaderLength => _f.IpHeaderLength;

    /// <summary>IPv4 total length, or 40 + IPv6 payload length; Ethernet padding after it is excluded.</summary>
    public int IpPacketLength => _f.IpPacketLength;

    public int SourceAddressOffset => _f.SourceAddressOffset;

    public int DestinationAddressOffset => _f.DestinationAddressOffset;

    public IpAddr Source => _f.Source;

    public IpAddr Destination => _f.Destination;

    /// <summary>Upper-layer protocol: IPv4 protocol, or the IPv6 next header after extension headers.</summary>
    public byte Protocol => _f.Protocol;

    /// <summary>IPv4 TTL or IPv6 hop limit.</summary>
    public byte HopLimit => _f.HopLimit;

    /// <summary>True for every fragment of a fragmented datagram (first or later); atomic IPv6 fragments are not (RFC 6946).</summary>
    public bool IsFragment => _f.IsFragment;

    public bool MoreFragments => _f.MoreFragments;

    /// <summary>Fragment offset in bytes (wire value × 8).</summary>
    public int FragmentOffset => _f.FragmentOffset;

    /// <summary>IPv4 identification (16 bits) or IPv6 fragment identification (32 bits).</summary>
    public uint FragmentId => _f.FragmentId;

    /// <summary>Offset of the IPv6 fragment extension header, -1 when absent.</summary>
    public int FragmentHeaderOffset => _f.FragmentHeaderOffset;

    /// <summary>Offset of the upper-layer header (for a fragment: of the fragment's payload).</summary>
    public int L4Offset => _f.L4Offset;

    /// <summary>True when the TCP/UDP/ICMP header was parsed (never for fragments: they are reassembled first).</summary>
    public bool HasTransportHeader => _f.HasTransportHeader;

    public bool HasPorts => _f.HasTransportHeader && (_f.Protocol is PacketConstants.ProtocolTcp or PacketConstants.ProtocolUdp or PacketConstants.ProtocolSctp);

    public ushort SrcPort => _f.SrcPort;

    public ushort DstPort => _f.DstPort;

    public uint TcpSequence => _f.TcpSequence;

    public uint TcpAcknowledgment => _f.TcpAcknowledgment;

    public TcpFlags TcpFlags => _f.TcpFlags;

    /// <summary>TCP data offset × 4.</summary>
    public int TcpHeaderLength => _f.TcpHeaderLength;

    /// <summary>Offset of the first TCP option, -1 when there are none.</summary>
    public int TcpOptionsOffset => _f.TcpOptionsOffset;

    /// <summary>Offset of the MSS option (kind 2, length 4), -1 when absent or the options are malformed.</summary>
    public int TcpMssOptionOffset => _f.TcpMssOptionOffset;

    /// <summary>The UDP length field.</summary>
    public ushort UdpLength => _f.UdpLength;

    public byte IcmpType => _f.IcmpType;

    public byte IcmpCode => _f.IcmpCode;

    /// <summary>Echo identifier (echo request/reply only).</summary>
    public ushort IcmpId => _f.IcmpId;

    /// <summary>Echo sequence number (echo request/reply only).</summary>
    public ushort IcmpSequence => _f.IcmpSequence;

    /// <summary>True for ICMP destination unreachable / time exceeded / parameter problem and ICMPv6 packet too big too; <see cref="Inner"/> is then valid.</summary>
    public bool IsIcmpError => _f.IsIcmpError;

    public bool IsIcmpEcho => _f.HasTransportHeader && ((_f.Protocol == PacketConstants.ProtocolIcmp && _f.IcmpType is 0 or 8)
        || (_f.Protocol == PacketConstants.ProtocolIcmpv6 && _f.IcmpType is 128 or 129));

    /// <summary>The quoted packet of an ICMP error.</summary>
    public QuotedPacket Inner => new(_f.Quote);

    /// <summary>Offset of the upper-layer payload (after TCP/UDP/ICMP header; after L3 for other protocols).</summary>
    public int PayloadOffset => _f.PayloadOffset;

    public int PayloadLength => _f.PayloadLength;
}
