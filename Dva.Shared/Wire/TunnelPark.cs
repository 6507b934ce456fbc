using System.Buffers.Binary;

namespace Dva.Shared.Wire;

/// <summary>
/// The PARK word a tunnel header carries when its P bit is set (docs/protocol.md §2): the payload of a TCP super-frame
/// stayed at the dispatcher that received it (SNODE), and the inner frame is the super-frame's headers only, its IP
/// length cut to them. The data planes decide on the headers; the EGRESS goes back to SNODE with the same word, and
/// SNODE puts the payload back behind the headers the data planes wrote.
/// <code>
///  0                               16                              32
/// +-------------------------------+-------------------------------+
/// |          TICKET (16)          |       PARKED LENGTH (16)      |
/// +-------------------------------+-------------------------------+
/// </code>
/// TICKET: SNODE's name for the parked payload (any value; only SNODE reads it). PARKED LENGTH: the payload bytes left
/// at SNODE, 1..65535 (a data plane counts them with the packet). Rules: P only with G and a TCP GSO TYPE; PARKED
/// LENGTH ≥ 1.
/// </summary>
public readonly record struct TunnelPark(ushort Ticket, ushort PayloadLength)
{
    /// <summary>Length of the PARK word.</summary>
    public const int WordLength = 4;

    /// <summary>No parked payload: the header carries no PARK word.</summary>
    public static TunnelPark None => default;

    /// <summary>True when the frame's payload is parked at SNODE (P set).</summary>
    public bool IsPresent => PayloadLength != 0;

    /// <summary>The rules of the type comment for a packet of <paramref name="type"/> with <paramref name="offload"/>.</summary>
    public WireError Check(TunnelType type, in TunnelOffload offload) =>
        !IsPresent || type == TunnelType.Control || offload.GsoType is not (GsoType.TcpV4 or GsoType.TcpV6)
            ? WireError.BadPark
            : WireError.None;

    internal static TunnelPark Read(ReadOnlySpan<byte> word) =>
        new(BinaryPrimitives.ReadUInt16BigEndian(word), BinaryPrimitives.ReadUInt16BigEndian(word[2..]));

    internal void Write(Span<byte> word)
    {
        BinaryPrimitives.WriteUInt16BigEndian(word, Ticket);
        BinaryPrimitives.WriteUInt16BigEndian(word[2..], PayloadLength);
    }
}
