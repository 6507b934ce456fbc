using System.Buffers.Binary;

namespace Dva.Shared.Wire;

/// <summary>
/// Framing pieces of secure mode that the sealer needs; the AEAD itself lives with the keys.
/// Ranges of a received packet come from <see cref="TunnelHeader.AadLength"/>, <see cref="TunnelHeader.PayloadOffset"/>,
/// <see cref="TunnelHeader.PayloadLength"/> and <see cref="TunnelHeader.TagOffset"/>.
/// </summary>
public static class TunnelSecurity
{
    /// <summary>Length of the AEAD nonce: HNODE (4 bytes) ‖ SEQ (8 bytes).</summary>
    public const int NonceLength = 12;

    /// <summary>Writes the nonce HNODE (as 4 bytes) ‖ SEQ; unique because each sender never reuses a SEQ.</summary>
    public static bool TryWriteNonce(Span<byte> destination, ushort hnode, ulong seq)
    {
        if (destination.Length < NonceLength)
        {
            return false;
        }

        BinaryPrimitives.WriteUInt32BigEndian(destination, hnode);
        BinaryPrimitives.WriteUInt64BigEndian(destination[4..], seq);
        return true;
    }

    /// <summary>Associated data of a secure datagram: L1 ‖ SEQ ‖ L2 with its nid list (everything before the VLAN TCI); empty when not secure.</summary>
    public static ReadOnlySpan<byte> Aad(ReadOnlySpan<byte> datagram, in TunnelHeader header) =>
        header.IsSecure ? datagram[..Math.Clamp(header.AadLength, 0, datagram.Length)] : default;

    /// <summary>Sealed payload of a secure datagram: VLAN TCI and inner frame, up to the TAG; empty when not secure.</summary>
    public static Span<byte> Payload(Span<byte> datagram, in TunnelHeader header) =>
        header.IsSecure && header.PayloadOffset >= 0 && header.PayloadOffset + header.PayloadLength <= datagram.Length
            ? datagram.Slice(header.PayloadOffset, header.PayloadLength)
            : default;

    /// <summary>TAG of a secure datagram (empty when not secure).</summary>
    public static Span<byte> Tag(Span<byte> datagram, in TunnelHeader header) =>
        header.IsSecure && header.TagOffset >= 0 && header.TagOffset + TunnelLayout.TagLength <= datagram.Length
            ? datagram.Slice(header.TagOffset, TunnelLayout.TagLength)
            : default;
}
