using System.Buffers.Binary;
using Dva.Shared.Packets;

namespace Dva.Node.DataPlane;

/// <summary>
/// NAT of an ICMP error that quotes a translated flow's packet (port unreachable, fragmentation needed, time
/// exceeded...), as conntrack does: the outer header is translated like the flow's packets in the error's direction,
/// and the quoted header back like the quoted packet's own direction, so the receiver matches it to its socket.
/// </summary>
/// <remarks>
/// <code>
///  outer IP | ICMP type code CHECKSUM rest-of-header | quoted IP header (CHECKSUM, source, destination) | quoted L4
///                                                                                    source port, destination port, CHECKSUM (TCP 16, UDP 6)
/// </code>
/// The quoted IPv4 header checksum is recomputed; the quoted TCP/UDP checksum (when the quote reaches it; an IPv4
/// UDP zero stays zero) is updated incrementally for the changed addresses and ports, as the packet it quotes
/// would have had; the ICMP checksum is recomputed over the whole message last. No allocation, never throws.
/// </remarks>
internal static class IcmpErrorNat
{
    private const int TcpChecksumOffset = 16;
    private const int UdpChecksumOffset = 6;
    private const int SourcePortOffset = 0;
    private const int DestinationPortOffset = 2;

    /// <summary>
    /// Rewrites the quote to (<paramref name="quotedSource"/>:<paramref name="quotedSourcePort"/> →
    /// <paramref name="quotedDestination"/>:<paramref name="quotedDestinationPort"/>) and the outer destination to
    /// <paramref name="outerDestination"/>; the outer source becomes <paramref name="outerSourceTo"/> when it is
    /// <paramref name="outerSourceFrom"/> (the error came from the translated host itself), else it stays (a router
    /// on the way). Re-parses <paramref name="info"/>; false when the frame is not an ICMP error with a usable quote.
    /// </summary>
    public static bool TryTranslate(
        Span<byte> frame, ref PacketInfo info, IpAddr outerSourceFrom, IpAddr outerSourceTo, IpAddr outerDestination,
        IpAddr quotedSource, ushort quotedSourcePort, IpAddr quotedDestination, ushort quotedDestinationPort)
    {
        if (!info.IsIcmpError || info.IsFragment)
        {
            return false;
        }

        var quote = info.Inner;
        var width = quote.IpVersion == 4 ? 4 : 16;
        var quoteEnd = quote.L3Offset + quote.Length;
        if (quote.IpVersion != info.IpVersion || quote.DestinationAddressOffset + width > quoteEnd
            || quotedSource.Version != quote.IpVersion || quotedDestination.Version != quote.IpVersion)
        {
            return false;
        }

        var checksumField = quote.Protocol switch
        {
            PacketConstants.ProtocolTcp => TcpChecksumOffset,
            PacketConstants.ProtocolUdp => UdpChecksumOffset,
            _ => -1,
        };
        var checksumOffset = quote.L4Offset < 0 || checksumField < 0 ? -1 : quote.L4Offset + checksumField;
        var hasChecksum = checksumOffset >= 0 && checksumOffset + 2 <= quoteEnd
            && !(quote.Protocol == PacketConstants.ProtocolUdp && quote.IpVersion == 4 && BinaryPrimitives.ReadUInt16BigEndian(frame[checksumOffset..]) == 0);
        var l4Checksum = hasChecksum ? BinaryPrimitives.ReadUInt16BigEndian(frame[checksumOffset..]) : (ushort)0;

        l4Checksum = WriteAddress(frame, quote.SourceAddressOffset, quote.Source, quotedSource, l4Checksum);
        l4Checksum = WriteAddress(frame, quote.DestinationAddressOffset, quote.Destination, quotedDestination, l4Checksum);
        if (quote.HasPorts)
        {
            l4Checksum = WritePort(frame, quote.L4Offset + SourcePortOffset, quote.SrcPort, quotedSourcePort, l4Checksum);
            l4Checksum = WritePort(frame, quote.L4Offset + DestinationPortOffset, quote.DstPort, quotedDestinationPort, l4Checksum);
        }

        if (hasChecksum)
        {
            BinaryPrimitives.WriteUInt16BigEndian(frame[checksumOffset..], l4Checksum);
        }

        if (quote.IpVersion == 4)
        {
            var headerLength = (frame[quote.L3Offset] & 0x0F) * 4;
            if (quote.L3Offset + headerLength <= quoteEnd)
            {
                Checksum.WriteIpv4Header(frame.Slice(quote.L3Offset, headerLength));
            }
        }

        var error = PacketRewriter.SetDestinationAddress(frame, info, outerDestination);
        if (error == RewriteError.None && info.Source == outerSourceFrom)
        {
            error = PacketRewriter.SetSourceAddress(frame, info, outerSourceTo);
        }

        return error == RewriteError.None
            && PacketParser.TryParse(frame, out info) == ParseError.None
            && Checksum.WriteTransport(frame, info);
    }

    private static ushort WriteAddress(Span<byte> frame, int offset, IpAddr old, IpAddr value, ushort checksum)
    {
        if (old == value)
        {
            return checksum;
        }

        value.WriteTo(frame[offset..]);
        return value.IsV4 ? Checksum.Update(checksum, old.V4, value.V4) : Checksum.Update(checksum, old.Value, value.Value);
    }

    private static ushort WritePort(Span<byte> frame, int offset, ushort old, ushort value, ushort checksum)
    {
        BinaryPrimitives.WriteUInt16BigEndian(frame[offset..], value);
        return Checksum.Update(checksum, old, value);
    }
}
