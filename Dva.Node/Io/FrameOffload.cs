using System.Buffers.Binary;
using Dva.Shared.Packets;
using Dva.Shared.Wire;

namespace Dva.Node.Io;

/// <summary>
/// How an offload (<see cref="TunnelOffload"/>: a GSO super-frame, a checksum left to the device) fits the frame it
/// describes. The kernel's csum_start/csum_offset and hdr_len are not carried through the tunnel: a node that needs them
/// derives them from the parsed frame, which also re-checks that the offload can apply to it.
/// </summary>
internal static class FrameOffload
{
    /// <summary>
    /// True when <paramref name="offload"/> can describe the frame <paramref name="info"/> was parsed from: an unfragmented
    /// TCP or UDP packet (an inet checksum; SCTP's CRC offload is not one), of the IP version its GSO TYPE names.
    /// </summary>
    public static bool Fits(in TunnelOffload offload, in PacketInfo info)
    {
        if (!info.IsIp || info.IsFragment || !info.HasTransportHeader || info.Protocol is not (PacketConstants.ProtocolTcp or PacketConstants.ProtocolUdp))
        {
            return false;
        }

        return offload.GsoType switch
        {
            GsoType.None => true,
            GsoType.TcpV4 => info.IpVersion == 4 && info.Protocol == PacketConstants.ProtocolTcp,
            GsoType.TcpV6 => info.IpVersion == 6 && info.Protocol == PacketConstants.ProtocolTcp,
            _ => info.Protocol == PacketConstants.ProtocolUdp,
        };
    }

    /// <summary>True when the kernel's csum_start/csum_offset of a received frame are where the parser puts the transport checksum.</summary>
    public static bool ChecksumWhereParsed(PacketBuffer buffer, in PacketInfo info) =>
        !buffer.Offload.NeedsChecksum
        || (buffer.ChecksumStart == info.L4Offset && buffer.ChecksumOffset == Checksum.TransportChecksumOffset(info));

    /// <summary>A checksum left to the device (NEEDS_CSUM, no GSO): what a source that carries no offload asks to be finished.</summary>
    public static TunnelOffload ChecksumLeftToDevice => new(0, GsoType.None, NeedsChecksum: true);

    /// <summary>
    /// Finishes in software the transport checksum <paramref name="buffer"/>'s offload leaves to the device, for a frame
    /// that no port will hand to a kernel as it is, and clears the offload. False (the offload cleared all the same) when
    /// the frame is not an unfragmented TCP/UDP packet the offload fits, or is a super-frame, which is not segmented here.
    /// </summary>
    public static bool TryFinishChecksum(PacketBuffer buffer)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        var offload = buffer.Offload;
        buffer.ClearOffload();
        if (offload.IsGso || PacketParser.TryParse(buffer.Frame, out var info) != ParseError.None || !Fits(offload, info))
        {
            return false;
        }

        _ = Checksum.WriteTransport(buffer.Frame, info);
        return true;
    }

    /// <summary>Fills the virtio fields a send needs from the parsed frame: csum_start, csum_offset and hdr_len.</summary>
    public static void Describe(PacketBuffer buffer, in TunnelOffload offload, in PacketInfo info)
    {
        buffer.Offload = offload;
        buffer.ChecksumStart = offload.NeedsChecksum ? (ushort)info.L4Offset : (ushort)0;
        buffer.ChecksumOffset = offload.NeedsChecksum ? (ushort)Checksum.TransportChecksumOffset(info) : (ushort)0;
        var l4Header = info.Protocol == PacketConstants.ProtocolTcp ? info.TcpHeaderLength : PacketConstants.UdpHeaderLength;
        buffer.GsoHeaderLength = offload.IsGso ? (ushort)(info.L4Offset + l4Header) : (ushort)0;
    }

    /// <summary>
    /// Adds <paramref name="delta"/> (negative to cut) to the IP length of the packet <paramref name="info"/> was parsed
    /// from (IPv4 total length, with its header checksum written again; IPv6 payload length). The transport checksum is
    /// left as it is: a parked super-frame's pseudo-header sum keeps the length it will have again (docs/node.md
    /// "Parked payloads").
    /// </summary>
    public static void AdjustIpLength(Span<byte> frame, in PacketInfo info, int delta)
    {
        var ip = frame[info.L3Offset..];
        var offset = info.IpVersion == 4 ? Ipv4TotalLengthOffset : Ipv6PayloadLengthOffset;
        BinaryPrimitives.WriteUInt16BigEndian(ip[offset..], (ushort)(BinaryPrimitives.ReadUInt16BigEndian(ip[offset..]) + delta));
        if (info.IpVersion == 4)
        {
            Checksum.WriteIpv4Header(ip[..info.IpHeaderLength]);
        }
    }

    /// <summary>The TCP sequence number of the segment <paramref name="info"/> was parsed from.</summary>
    public static uint TcpSequence(ReadOnlySpan<byte> frame, in PacketInfo info) =>
        BinaryPrimitives.ReadUInt32BigEndian(frame[(info.L4Offset + TcpSequenceOffset)..]);

    private const int Ipv4TotalLengthOffset = 2;
    private const int Ipv4IdOffset = 4;
    private const int Ipv6PayloadLengthOffset = 4;
    private const int TcpSequenceOffset = 4;
    private const int TcpFlagsOffset = 13;
    private const int TcpChecksumOffset = 16;

    /// <summary>
    /// Splits a TCP super-frame too long for one tunnel datagram into two at a multiple of gso_size, as the kernel's GSO
    /// would have cut it: <paramref name="frame"/> keeps the first part (its new length in <paramref name="firstLength"/>),
    /// <paramref name="second"/> gets the headers and the rest. Each part's IP length (and IPv4 header checksum), TCP
    /// sequence number and pseudo-header sum (the checksum is left to the device) are its own; the second's IPv4 id
    /// follows the first's segments; FIN and PSH stay on the last part only, CWR on the first only. False, with nothing
    /// changed, when it cannot: not a TCP super-frame with its checksum left to the device, or no multiple of gso_size
    /// leaves both parts within <paramref name="maxFrameLength"/>.
    /// </summary>
    public static bool TrySplitTcp(Span<byte> frame, in PacketInfo info, in TunnelOffload offload, int maxFrameLength, Span<byte> second,
        out int firstLength, out int secondLength)
    {
        firstLength = frame.Length;
        secondLength = 0;
        if (offload.GsoType is not (GsoType.TcpV4 or GsoType.TcpV6) || !offload.NeedsChecksum || !Fits(offload, info) || offload.GsoSize == 0)
        {
            return false;
        }

        var headers = info.L4Offset + info.TcpHeaderLength;
        var end = info.L3Offset + info.IpPacketLength;
        var payload = end - headers;
        var firstPayload = (maxFrameLength - headers) / offload.GsoSize * offload.GsoSize;
        var secondPayload = payload - firstPayload;
        if (firstPayload <= 0 || secondPayload <= 0 || headers + secondPayload > maxFrameLength || headers + secondPayload > second.Length)
        {
            return false;
        }

        frame[..headers].CopyTo(second);
        frame[(headers + firstPayload)..end].CopyTo(second[headers..]);
        firstLength = headers + firstPayload;
        secondLength = headers + secondPayload;
        var segments = firstPayload / offload.GsoSize;
        FixPart(frame[..firstLength], info, firstPayload, sequenceAdvance: 0, idAdvance: 0, clear: TcpFlags.Fin | TcpFlags.Psh);
        FixPart(second[..secondLength], info, secondPayload, sequenceAdvance: (uint)firstPayload, idAdvance: segments, clear: TcpFlags.Cwr);
        return true;
    }

    private static void FixPart(Span<byte> part, in PacketInfo info, int payload, uint sequenceAdvance, int idAdvance, TcpFlags clear)
    {
        var ip = part[info.L3Offset..];
        var tcpLength = info.TcpHeaderLength + payload;
        if (info.IpVersion == 4)
        {
            BinaryPrimitives.WriteUInt16BigEndian(ip[Ipv4TotalLengthOffset..], (ushort)(info.IpHeaderLength + tcpLength));
            BinaryPrimitives.WriteUInt16BigEndian(ip[Ipv4IdOffset..], (ushort)(BinaryPrimitives.ReadUInt16BigEndian(ip[Ipv4IdOffset..]) + idAdvance));
            Checksum.WriteIpv4Header(ip[..info.IpHeaderLength]);
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(ip[Ipv6PayloadLengthOffset..], (ushort)(info.IpHeaderLength - PacketConstants.Ipv6HeaderLength + tcpLength));
        }

        var tcp = part[info.L4Offset..];
        BinaryPrimitives.WriteUInt32BigEndian(tcp[TcpSequenceOffset..], BinaryPrimitives.ReadUInt32BigEndian(tcp[TcpSequenceOffset..]) + sequenceAdvance);
        tcp[TcpFlagsOffset] &= (byte)~clear;
        var addressLength = info.IpVersion == 4 ? 4 : 16;
        var pseudo = info.IpVersion == 4
            ? Checksum.PseudoHeaderV4(part.Slice(info.SourceAddressOffset, addressLength), part.Slice(info.DestinationAddressOffset, addressLength), PacketConstants.ProtocolTcp, tcpLength)
            : Checksum.PseudoHeaderV6(part.Slice(info.SourceAddressOffset, addressLength), part.Slice(info.DestinationAddressOffset, addressLength), PacketConstants.ProtocolTcp, tcpLength);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[TcpChecksumOffset..], Checksum.Fold(pseudo));
    }
}
