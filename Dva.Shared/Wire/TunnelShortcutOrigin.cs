using System.Buffers.Binary;

namespace Dva.Shared.Wire;

/// <summary>
/// The ORIGIN block a tunnel header carries after its SHORTCUT word when its Y bit is set (docs/protocol.md §2): the
/// flow's packets arrive at the dispatcher with these addresses and ports, before the DVA translated them (load balancer,
/// SNAT) into what the EGRESS frame carries. The dispatcher keys its shortcut on them.
/// <code>
///  0                               16                              32
/// +---------------------------------------------------------------+
/// |                    SOURCE ADDRESS (128)                       |  4 words
/// +---------------------------------------------------------------+
/// |                  DESTINATION ADDRESS (128)                    |  4 words
/// +-------------------------------+-------------------------------+
/// |        SOURCE PORT (16)       |     DESTINATION PORT (16)     |
/// +-------------------------------+-------------------------------+
/// </code>
/// An IPv4 address is its 4 bytes followed by 12 zero bytes. Nothing in the block is checked: the receiver reads it by the
/// inner frame's IP version. Rule: Y only with X (<see cref="WireError.BadShortcut"/>).
/// </summary>
/// <param name="Source">SOURCE ADDRESS, its 16 bytes read big-endian (IPv4 a.b.c.d is <c>(UInt128)0xaabbccdd &lt;&lt; 96</c>).</param>
/// <param name="Destination">DESTINATION ADDRESS, read the same way.</param>
/// <param name="SourcePort">SOURCE PORT.</param>
/// <param name="DestinationPort">DESTINATION PORT.</param>
public readonly record struct TunnelShortcutOrigin(UInt128 Source, UInt128 Destination, ushort SourcePort, ushort DestinationPort)
{
    /// <summary>Length of the ORIGIN block: 9 words.</summary>
    public const int Length = 36;

    private const int AddressLength = 16;
    private const int DestinationOffset = AddressLength;
    private const int SourcePortOffset = 2 * AddressLength;
    private const int DestinationPortOffset = SourcePortOffset + 2;

    internal static TunnelShortcutOrigin Read(ReadOnlySpan<byte> block) => new(
        BinaryPrimitives.ReadUInt128BigEndian(block),
        BinaryPrimitives.ReadUInt128BigEndian(block[DestinationOffset..]),
        BinaryPrimitives.ReadUInt16BigEndian(block[SourcePortOffset..]),
        BinaryPrimitives.ReadUInt16BigEndian(block[DestinationPortOffset..]));

    internal void Write(Span<byte> block)
    {
        BinaryPrimitives.WriteUInt128BigEndian(block, Source);
        BinaryPrimitives.WriteUInt128BigEndian(block[DestinationOffset..], Destination);
        BinaryPrimitives.WriteUInt16BigEndian(block[SourcePortOffset..], SourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(block[DestinationPortOffset..], DestinationPort);
    }
}
