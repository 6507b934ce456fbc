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

    /// <summary>Fills the virtio fields a send needs from the parsed frame: csum_start, csum_offset and hdr_len.</summary>
    public static void Describe(PacketBuffer buffer, in TunnelOffload offload, in PacketInfo info)
    {
        buffer.Offload = offload;
        buffer.ChecksumStart = offload.NeedsChecksum ? (ushort)info.L4Offset : (ushort)0;
        buffer.ChecksumOffset = offload.NeedsChecksum ? (ushort)Checksum.TransportChecksumOffset(info) : (ushort)0;
        var l4Header = info.Protocol == PacketConstants.ProtocolTcp ? info.TcpHeaderLength : PacketConstants.UdpHeaderLength;
        buffer.GsoHeaderLength = offload.IsGso ? (ushort)(info.L4Offset + l4Header) : (ushort)0;
    }
}
