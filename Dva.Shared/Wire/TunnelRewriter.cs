using System.Buffers.Binary;

namespace Dva.Shared.Wire;

/// <summary>
/// In-place changes a data plane makes when it forwards a received tunnel packet to the next hop,
/// so the frame is never copied. Each takes the datagram (or the buffer holding it) whose header
/// <see cref="TunnelHeader.TryRead"/> accepted, applies the same rules as the writer, and leaves the
/// packet unchanged when it returns an error. In secure mode the header is associated data: the caller
/// re-seals with its own SEQ after changing it (the next hop's nonce uses the new HNODE anyway).
/// </summary>
public static class TunnelRewriter
{
    /// <summary>Sets DNODE (next receiver) and HNODE (this sender).</summary>
    public static WireError SetNodes(Span<byte> datagram, ushort dnode, ushort hnode)
    {
        if (datagram.Length < TunnelLayout.L1Length)
        {
            return WireError.Truncated;
        }

        var error = TunnelLayout.CheckRequiredNodeId(dnode);
        if (error == WireError.None)
        {
            error = TunnelLayout.CheckRequiredNodeId(hnode);
        }

        if (error != WireError.None)
        {
            return error;
        }

        var flags = (TunnelFlags)(datagram[TunnelLayout.VerFlagsOffset] & TunnelLayout.FlagsMask);
        BinaryPrimitives.WriteUInt32BigEndian(datagram, TunnelWriter.L1(flags, dnode, hnode));
        return WireError.None;
    }

    /// <summary>
    /// Sets TYPE and HANDOFF (for example DISPATCH → HANDOFF PUNT, PUNT → CLAIM). A packet with a SHORTCUT word (X) stays a
    /// final EGRESS (<see cref="WireError.BadShortcut"/> otherwise).
    /// </summary>
    public static WireError SetType(Span<byte> datagram, TunnelType type, Handoff handoff)
    {
        if (!TryL2(datagram, out var l2))
        {
            return WireError.Truncated;
        }

        var error = TunnelLayout.CheckTypeHandoff(type, handoff);
        if (error != WireError.None)
        {
            return error;
        }

        // CONTROL carries no frame, so no forwarded packet can become one (or stop being one).
        var current = (TunnelType)(l2[TunnelLayout.TypeHandoffOffset] >> 4);
        if ((type == TunnelType.Control) != (current == TunnelType.Control))
        {
            return WireError.UnknownType;
        }

        var snode = BinaryPrimitives.ReadUInt16BigEndian(l2[TunnelLayout.SNodeIfIdNidsOffset..]) >> 4;
        if (snode == 0 && type is TunnelType.Dispatch or TunnelType.Handoff)
        {
            return WireError.NodeIdZero;
        }

        if ((l2[TunnelLayout.SNodeIfIdNidsOffset + 3] & TunnelLayout.ShortcutBit) != 0 && !TunnelShortcut.AllowedOn(type, handoff))
        {
            return WireError.BadShortcut;
        }

        l2[TunnelLayout.TypeHandoffOffset] = (byte)(((byte)type << 4) | (byte)handoff);
        return WireError.None;
    }

    /// <summary>Sets HOOK and TABLE to the last stage this node completed.</summary>
    public static WireError SetStage(Span<byte> datagram, Hook hook, NetfilterTable table)
    {
        if (!TryL2(datagram, out var l2))
        {
            return WireError.Truncated;
        }

        var error = TunnelLayout.CheckStage(hook, table);
        if (error != WireError.None)
        {
            return error;
        }

        l2[TunnelLayout.HookTableOffset] = (byte)(((byte)hook << 4) | (byte)table);
        return WireError.None;
    }

    /// <summary>
    /// Decrements TTL for a DP-to-DP hop. Returns <see cref="WireError.TtlZero"/> (and changes nothing)
    /// when the result would be 0: the packet must be dropped here rather than sent to be dropped there.
    /// </summary>
    public static WireError DecrementTtl(Span<byte> datagram)
    {
        if (!TryL2(datagram, out var l2))
        {
            return WireError.Truncated;
        }

        if (l2[TunnelLayout.TtlOffset] <= 1)
        {
            return WireError.TtlZero;
        }

        l2[TunnelLayout.TtlOffset]--;
        return WireError.None;
    }

    /// <summary>
    /// Appends <paramref name="nid"/> to the nid list of the packet starting at <paramref name="headerStart"/>
    /// in <paramref name="buffer"/> (T must be set). When NIDS goes from odd to even the nid fills the padding
    /// slot and nothing moves. When NIDS goes from even to odd the header grows by one 32-bit word: L1, SEQ
    /// and L2 move 4 bytes earlier, so the caller needs 4 bytes of headroom before <paramref name="headerStart"/>;
    /// the OFFLOAD, PARK and SHORTCUT words, the ORIGIN block, the VLAN TCI, the frame and the TAG stay where they are. The
    /// datagram then starts at <paramref name="newHeaderStart"/> and is 4 bytes longer.
    /// </summary>
    public static WireError AppendNid(Span<byte> buffer, int headerStart, ushort nid, out int newHeaderStart)
    {
        newHeaderStart = headerStart;
        if ((uint)headerStart > (uint)buffer.Length)
        {
            return WireError.NoRoom;
        }

        var datagram = buffer[headerStart..];
        if (!TryL2(datagram, out var l2))
        {
            return WireError.Truncated;
        }

        if ((l2[TunnelLayout.TrrEraHdrSizeOffset] & TunnelLayout.TrrBit) == 0)
        {
            return WireError.NidsWithoutTrace;
        }

        var nidCount = l2[TunnelLayout.SNodeIfIdNidsOffset + 2] & 0xF;
        if (nidCount >= TunnelLayout.MaxNids)
        {
            return WireError.TooManyNids;
        }

        var error = TunnelLayout.CheckRequiredNodeId(nid);
        if (error != WireError.None)
        {
            return error;
        }

        var l2Offset = TunnelLayout.L2Offset((TunnelFlags)(datagram[TunnelLayout.VerFlagsOffset] & TunnelLayout.FlagsMask));
        var slotOffset = l2Offset + TunnelLayout.NidListOffset + (2 * nidCount);
        // An odd NIDS fills the padding slot already in the datagram; an even one makes its word by moving the header
        // earlier, so only the VLAN TCI must follow (a CONTROL packet may end right there; found by tests/Dva.Fuzz).
        // The OFFLOAD (G), PARK (P) and SHORTCUT (X) words and the ORIGIN block (Y) sit between the list and the TCI and stay
        // put like the TCI.
        var existingSlot = (nidCount & 1) != 0 ? 2 : 0;
        var words = TunnelLayout.WordsLength(l2[TunnelLayout.SNodeIfIdNidsOffset + 3]);
        if (datagram.Length < slotOffset + existingSlot + words + TunnelLayout.VlanTciLength)
        {
            return WireError.Truncated;
        }

        if ((nidCount & 1) == 0)
        {
            if (headerStart < 4)
            {
                return WireError.NoRoom;
            }

            // Everything before the new slot moves one word earlier; the slot is the vacated word before the TCI.
            var headerStartAfter = headerStart - 4;
            buffer.Slice(headerStart, slotOffset).CopyTo(buffer[headerStartAfter..]);
            datagram = buffer[headerStartAfter..];
            l2 = datagram[l2Offset..];
            BinaryPrimitives.WriteUInt16BigEndian(datagram[(slotOffset + 2)..], 0);
            l2[TunnelLayout.TrrEraHdrSizeOffset]++;
            newHeaderStart = headerStartAfter;
        }

        BinaryPrimitives.WriteUInt16BigEndian(datagram[slotOffset..], nid);
        l2[TunnelLayout.SNodeIfIdNidsOffset + 2] = (byte)((l2[TunnelLayout.SNodeIfIdNidsOffset + 2] & 0xF0) | (nidCount + 1));
        return WireError.None;
    }

    private static bool TryL2(Span<byte> datagram, out Span<byte> l2)
    {
        l2 = default;
        if (datagram.IsEmpty)
        {
            return false;
        }

        var offset = TunnelLayout.L2Offset((TunnelFlags)(datagram[TunnelLayout.VerFlagsOffset] & TunnelLayout.FlagsMask));
        if (datagram.Length < offset + TunnelLayout.L2FixedLength)
        {
            return false;
        }

        l2 = datagram[offset..];
        return true;
    }
}
