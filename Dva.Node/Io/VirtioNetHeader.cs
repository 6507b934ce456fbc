using System.Buffers.Binary;
using Dva.Shared.Wire;

namespace Dva.Node.Io;

/// <summary>
/// The 10-byte <c>struct virtio_net_hdr</c> that precedes every frame on an AF_PACKET socket with PACKET_VNET_HDR
/// (include/uapi/linux/virtio_net.h; little-endian, as the kernel writes it for packet sockets on a little-endian host):
/// <code>
///  0       1          2          4           6             8              10
/// +-------+----------+----------+-----------+-------------+--------------+
/// | flags | gso_type | hdr_len  | gso_size  | csum_start  | csum_offset  |
/// +-------+----------+----------+-----------+-------------+--------------+
/// </code>
/// Received: the kernel describes a TSO/GSO super-frame (gso_type, gso_size) and a frame whose transport checksum is
/// left to the device (NEEDS_CSUM: the field holds the pseudo-header sum, csum_start/csum_offset say where to finish).
/// Sent: the same words ask the kernel to segment the frame and finish the checksum (net/packet/af_packet.c,
/// virtio_net_hdr_to_skb).
/// </summary>
internal static class VirtioNetHeader
{
    public const int Length = 10;

    public const byte NeedsChecksum = 1;
    public const byte DataValid = 2;

    public const byte GsoNone = 0;
    public const byte GsoTcpV4 = 1;
    public const byte GsoUdp = 3;
    public const byte GsoTcpV6 = 4;
    public const byte GsoUdpL4 = 5;
    public const byte GsoEcn = 0x80;

    /// <summary>
    /// Decodes a received header into <paramref name="buffer"/>'s offload fields. False (a counted drop) for what the
    /// tunnel cannot carry: UFO (GSO_UDP), an unknown GSO type, ECN without TCP, a super-frame without NEEDS_CSUM or
    /// with a zero gso_size. DATA_VALID (the checksum was verified) needs nothing carried.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> header, PacketBuffer buffer)
    {
        var flags = header[0];
        var gso = header[1];
        var gsoSize = BinaryPrimitives.ReadUInt16LittleEndian(header[4..]);
        var needsChecksum = (flags & NeedsChecksum) != 0;
        var type = (gso & ~GsoEcn) switch
        {
            GsoNone => GsoType.None,
            GsoTcpV4 => GsoType.TcpV4,
            GsoTcpV6 => GsoType.TcpV6,
            GsoUdpL4 => GsoType.UdpL4,
            _ => (GsoType)0xFF,
        };
        var offload = new TunnelOffload(type == GsoType.None ? (ushort)0 : gsoSize, type, needsChecksum, (gso & GsoEcn) != 0);
        if (offload.IsPresent && offload.Check() != WireError.None)
        {
            return false;
        }

        buffer.Offload = offload;
        buffer.ChecksumStart = needsChecksum ? BinaryPrimitives.ReadUInt16LittleEndian(header[6..]) : (ushort)0;
        buffer.ChecksumOffset = needsChecksum ? BinaryPrimitives.ReadUInt16LittleEndian(header[8..]) : (ushort)0;
        buffer.GsoHeaderLength = offload.IsGso ? BinaryPrimitives.ReadUInt16LittleEndian(header[2..]) : (ushort)0;
        return true;
    }

    /// <summary>Encodes <paramref name="buffer"/>'s offload fields for a send; all zero for a plain frame.</summary>
    public static void Write(Span<byte> header, PacketBuffer buffer)
    {
        header[..Length].Clear();
        var offload = buffer.Offload;
        if (!offload.IsPresent)
        {
            return;
        }

        header[0] = offload.NeedsChecksum ? NeedsChecksum : (byte)0;
        header[1] = (byte)(offload.GsoType switch
        {
            GsoType.TcpV4 => GsoTcpV4,
            GsoType.TcpV6 => GsoTcpV6,
            GsoType.UdpL4 => GsoUdpL4,
            _ => GsoNone,
        } | (offload.Ecn ? GsoEcn : 0));
        BinaryPrimitives.WriteUInt16LittleEndian(header[2..], buffer.GsoHeaderLength);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], offload.GsoSize);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], buffer.ChecksumStart);
        BinaryPrimitives.WriteUInt16LittleEndian(header[8..], buffer.ChecksumOffset);
    }
}
