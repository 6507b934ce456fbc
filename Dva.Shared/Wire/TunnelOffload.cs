using System.Buffers.Binary;

namespace Dva.Shared.Wire;

/// <summary>GSO TYPE of the tunnel's OFFLOAD word: how the final sender's kernel cuts a super-frame into segments.</summary>
/// <remarks>The numeric values are the values on the wire (4 bits); never renumber them.</remarks>
public enum GsoType : byte
{
    /// <summary>Not a super-frame: one frame, one segment.</summary>
    None = 0,

    /// <summary>TCP over IPv4 (virtio_net_hdr GSO_TCPV4).</summary>
    TcpV4 = 1,

    /// <summary>TCP over IPv6 (GSO_TCPV6).</summary>
    TcpV6 = 2,

    /// <summary>UDP segmentation offload (GSO_UDP_L4), IPv4 or IPv6.</summary>
    UdpL4 = 3,
}

/// <summary>
/// The OFFLOAD word a tunnel header carries when its G bit is set (docs/protocol.md §2): what the kernel told the
/// dispatcher about a frame in its <c>virtio_net_hdr</c>, so the frame can travel whole (a TSO/GSO super-frame of up to
/// ~64 KiB, or a frame whose transport checksum is left to the device) and the egress dispatcher's kernel finishes it.
/// <code>
///  0                               16      20 21 22                      32
/// +-------------------------------+-------+--+--+-------------------------+
/// |          GSO SIZE (16)        |GSO TYP|C |N |      reserved (10)      |
/// +-------------------------------+-------+--+--+-------------------------+
/// </code>
/// C: the transport checksum field holds only the pseudo-header sum (VIRTIO_NET_HDR_F_NEEDS_CSUM; its start and offset
/// follow from the parsed frame). N: the segments carry ECN (SKB_GSO_TCP_ECN: CWR on the first segment only).
/// Rules (one encoding each): GSO TYPE ≤ 3; GSO SIZE is 0 exactly when GSO TYPE is 0; a super-frame has C; N only with
/// a TCP GSO TYPE; reserved bits 0; and a word that says nothing (no GSO, no C) is not sent at all (G clear).
/// </summary>
public readonly record struct TunnelOffload(ushort GsoSize, GsoType GsoType, bool NeedsChecksum, bool Ecn = false)
{
    /// <summary>Length of the OFFLOAD word.</summary>
    public const int Length = 4;

    private const uint NeedsChecksumBit = 0x0800;
    private const uint EcnBit = 0x0400;
    private const uint ReservedMask = 0x03FF;

    /// <summary>No offload: the header carries no OFFLOAD word.</summary>
    public static TunnelOffload None => default;

    /// <summary>True when this offload must be written (G set): anything but <see cref="None"/>.</summary>
    public bool IsPresent => this != default;

    /// <summary>True for a super-frame the egress kernel segments.</summary>
    public bool IsGso => GsoType != GsoType.None;

    /// <summary>The rules of the type comment; <see cref="WireError.BadOffload"/> names any breach.</summary>
    public WireError Check()
    {
        if (GsoType > GsoType.UdpL4)
        {
            return WireError.BadOffload;
        }

        if ((GsoType == GsoType.None) != (GsoSize == 0))
        {
            return WireError.BadOffload;
        }

        if (GsoType != GsoType.None && !NeedsChecksum)
        {
            return WireError.BadOffload;
        }

        if (Ecn && GsoType is not (GsoType.TcpV4 or GsoType.TcpV6))
        {
            return WireError.BadOffload;
        }

        return IsPresent ? WireError.None : WireError.BadOffload;
    }

    /// <summary>Decodes and checks an OFFLOAD word.</summary>
    public static WireError TryRead(ReadOnlySpan<byte> word, out TunnelOffload offload)
    {
        offload = default;
        if (word.Length < Length)
        {
            return WireError.Truncated;
        }

        var value = BinaryPrimitives.ReadUInt32BigEndian(word);
        var low = value & 0xFFFF;
        if ((low & ReservedMask) != 0)
        {
            return WireError.BadOffload;
        }

        var read = new TunnelOffload((ushort)(value >> 16), (GsoType)(low >> 12), (low & NeedsChecksumBit) != 0, (low & EcnBit) != 0);
        var error = read.Check();
        if (error == WireError.None)
        {
            offload = read;
        }

        return error;
    }

    internal void Write(Span<byte> word) =>
        BinaryPrimitives.WriteUInt32BigEndian(word,
            ((uint)GsoSize << 16) | ((uint)GsoType << 12) | (NeedsChecksum ? NeedsChecksumBit : 0) | (Ecn ? EcnBit : 0));
}
