using System.Buffers.Binary;

namespace Dva.Shared.Packets;

/// <summary>
/// IPv6 neighbour discovery (RFC 4861 §4.3, §4.4, §7), the IPv6 counterpart of ARP: what a solicitation or an
/// advertisement tells (who is at which MAC), and the two messages a router on a link sends itself.
/// <code>
///  ICMPv6 after the IPv6 header (hop limit 255):
///  type 135 / 136 (1) | code 0 (1) | checksum (2) | reserved / flags R S O (4) | target address (16) | options
///  option: type (1) | length in 8-byte units (1) | data; type 1 source link-layer address (in a solicitation),
///  type 2 target link-layer address (in an advertisement)
/// </code>
/// </summary>
public static class NeighbourDiscovery
{
    public const byte SolicitationType = 135;
    public const byte AdvertisementType = 136;

    /// <summary>An ND message is accepted only with this hop limit: it never crossed a router (RFC 4861 §7.1).</summary>
    public const byte HopLimit = 255;

    /// <summary>A solicitation or an advertisement with one link-layer option, after the IPv6 header.</summary>
    public const int MessageLength = OptionsOffset + 8;

    private const int TargetOffset = 8;
    private const int OptionsOffset = 24;
    private const byte SourceLinkLayerOption = 1;
    private const byte TargetLinkLayerOption = 2;
    private const uint RouterFlag = 0x8000_0000;
    private const uint SolicitedFlag = 0x4000_0000;
    private const uint OverrideFlag = 0x2000_0000;
    private const int Ipv6HeaderLength = 40;
    private const int MacLength = 6;

    /// <summary>ff02::1:ff00:0/104, the solicited-node multicast prefix (RFC 4291 §2.7.1).</summary>
    private static readonly UInt128 SolicitedNodePrefix = new(0xff02_0000_0000_0000, 0x0000_0001_ff00_0000);

    /// <summary>ff02::1, all nodes on the link.</summary>
    private static readonly UInt128 AllNodes = new(0xff02_0000_0000_0000, 1);

    /// <summary>True for a parsed ICMPv6 neighbour solicitation or advertisement with hop limit 255.</summary>
    public static bool Is(in PacketInfo info) =>
        info.IpVersion == 6 && info.Protocol == PacketConstants.ProtocolIcmpv6 && info.HasTransportHeader
        && info.IcmpType is SolicitationType or AdvertisementType && info.HopLimit == HopLimit;

    /// <summary>
    /// What a solicitation or an advertisement in <paramref name="frame"/> tells: a solicitation, that its source is at
    /// the MAC of its source link-layer option; an advertisement, that its target is at the MAC of its target
    /// link-layer option. False when it names nobody (duplicate address detection from ::, no such option).
    /// </summary>
    public static bool TryReadNeighbour(ReadOnlySpan<byte> frame, in PacketInfo info, out IpAddr address, out ReadOnlySpan<byte> mac)
    {
        address = default;
        mac = default;
        if (!Is(info))
        {
            return false;
        }

        var message = frame[info.L4Offset..Math.Min(frame.Length, info.L3Offset + info.IpPacketLength)];
        if (message.Length < OptionsOffset)
        {
            return false;
        }

        var solicitation = info.IcmpType == SolicitationType;
        address = solicitation ? info.Source : IpAddr.Read(message.Slice(TargetOffset, 16));
        var wanted = solicitation ? SourceLinkLayerOption : TargetLinkLayerOption;
        for (var o = OptionsOffset; o + 8 <= message.Length;)
        {
            var length = message[o + 1] * 8;
            if (length == 0)
            {
                return false;
            }

            if (message[o] == wanted)
            {
                mac = message.Slice(o + 2, MacLength);
                return address.Value != UInt128.Zero;
            }

            o += length;
        }

        return false;
    }

    /// <summary>The target address of a parsed solicitation (what it asks for), or false.</summary>
    public static bool TryReadSolicitedTarget(ReadOnlySpan<byte> frame, in PacketInfo info, out IpAddr target)
    {
        target = default;
        if (!Is(info) || info.IcmpType != SolicitationType || frame.Length < info.L4Offset + OptionsOffset)
        {
            return false;
        }

        target = IpAddr.Read(frame.Slice(info.L4Offset + TargetOffset, 16));
        return true;
    }

    /// <summary>
    /// A solicitation "who has <paramref name="target"/>" from <paramref name="source"/> (a shared address) with
    /// <paramref name="senderMac"/> in a source link-layer option, to the target's solicited-node group
    /// (ff02::1:ffXX:XXXX, MAC 33:33:ff:XX:XX:XX). 86 bytes untagged.
    /// </summary>
    public static int WriteSolicitation(Span<byte> destination, ReadOnlySpan<byte> senderMac, UInt128 source, UInt128 target, ushort? vlanTci = null)
    {
        var group = SolicitedNodePrefix | (target & 0xFF_FFFF);
        Span<byte> groupMac = [0x33, 0x33, 0xFF, (byte)(target >> 16), (byte)(target >> 8), (byte)target];
        return Write(destination, groupMac, senderMac, source, group, SolicitationType, 0, target, SourceLinkLayerOption, vlanTci);
    }

    /// <summary>
    /// Answers a parsed solicitation for <paramref name="target"/> (a shared address) with <paramref name="ownMac"/>:
    /// router, solicited and override flags, to the solicitation's source at its MAC; a solicitation from :: (duplicate
    /// address detection) is answered to all nodes (ff02::1) without the solicited flag. Same VLAN as the solicitation.
    /// </summary>
    public static int WriteAdvertisement(Span<byte> destination, ReadOnlySpan<byte> request, in PacketInfo info, UInt128 target, ReadOnlySpan<byte> ownMac)
    {
        var fromUnspecified = info.Source.Value == UInt128.Zero;
        Span<byte> allNodesMac = [0x33, 0x33, 0, 0, 0, 1];
        var to = fromUnspecified ? AllNodes : info.Source.Value;
        var flags = RouterFlag | OverrideFlag | (fromUnspecified ? 0 : SolicitedFlag);
        return Write(destination, fromUnspecified ? allNodesMac : request.Slice(MacLength, MacLength), ownMac, target, to, AdvertisementType, flags, target,
            TargetLinkLayerOption, info.HasVlan ? info.VlanTci : null);
    }

    private static int Write(Span<byte> destination, ReadOnlySpan<byte> destinationMac, ReadOnlySpan<byte> sourceMac, UInt128 source, UInt128 to, byte type,
        uint flags, UInt128 target, byte option, ushort? vlanTci)
    {
        var l3 = vlanTci is { } tci
            ? PacketBuilder.WriteEthernet(destination, destinationMac, sourceMac, PacketConstants.EtherTypeIpv6, tci)
            : PacketBuilder.WriteEthernet(destination, destinationMac, sourceMac, PacketConstants.EtherTypeIpv6);
        if (l3 == 0 || destination.Length < l3 + Ipv6HeaderLength + MessageLength)
        {
            return 0;
        }

        var ip = WriteLinkHeader(destination.Slice(l3, Ipv6HeaderLength), MessageLength, source, to);
        var message = destination.Slice(l3 + Ipv6HeaderLength, MessageLength);
        message.Clear();
        message[0] = type;
        BinaryPrimitives.WriteUInt32BigEndian(message[4..], flags);
        BinaryPrimitives.WriteUInt128BigEndian(message[TargetOffset..], target);
        message[OptionsOffset] = option;
        message[OptionsOffset + 1] = 1;
        sourceMac.CopyTo(message[(OptionsOffset + 2)..]);
        WriteChecksum(ip, message);
        return l3 + Ipv6HeaderLength + MessageLength;
    }

    /// <summary>The IPv6 header of a message that never leaves the link (ICMPv6, hop limit 255); returns <paramref name="ip"/>.</summary>
    internal static Span<byte> WriteLinkHeader(Span<byte> ip, int messageLength, UInt128 source, UInt128 to)
    {
        BinaryPrimitives.WriteUInt32BigEndian(ip, 0x6000_0000);
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)messageLength);
        ip[6] = PacketConstants.ProtocolIcmpv6;
        ip[7] = HopLimit;
        BinaryPrimitives.WriteUInt128BigEndian(ip[8..], source);
        BinaryPrimitives.WriteUInt128BigEndian(ip[24..], to);
        return ip;
    }

    /// <summary>The ICMPv6 checksum of <paramref name="message"/> (its field zero) over the pseudo-header of <paramref name="ip"/>.</summary>
    internal static void WriteChecksum(ReadOnlySpan<byte> ip, Span<byte> message)
    {
        var sum = Checksum.Add(ip.Slice(8, 32)) + PacketConstants.ProtocolIcmpv6 + (uint)message.Length;
        BinaryPrimitives.WriteUInt16BigEndian(message[2..], Checksum.Compute(message, sum));
    }
}
