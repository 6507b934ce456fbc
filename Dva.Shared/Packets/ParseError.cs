namespace Dva.Shared.Packets;

/// <summary>Why <see cref="PacketParser.TryParse"/> rejected a frame; <see cref="None"/> means accepted.</summary>
public enum ParseError : byte
{
    None = 0,
    EthernetTruncated,
    VlanTagTruncated,
    StackedVlanUnsupported,
    ArpTruncated,
    ArpUnsupportedFormat,
    Ipv4Truncated,
    Ipv4BadVersion,
    Ipv4BadHeaderLength,
    Ipv4TotalLengthTooSmall,
    Ipv4TotalLengthExceedsFrame,
    Ipv6Truncated,
    Ipv6BadVersion,
    Ipv6PayloadLengthExceedsFrame,
    Ipv6ExtensionHeaderTruncated,
    Ipv6TooManyExtensionHeaders,
    TcpTruncated,
    TcpBadDataOffset,
    UdpTruncated,
    UdpBadLength,
    SctpTruncated,
    IcmpTruncated,
    IcmpQuoteTruncated,
    IcmpQuoteBadVersion,
    IcmpQuoteBadHeaderLength,
}
