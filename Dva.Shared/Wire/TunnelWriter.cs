using System.Buffers.Binary;

namespace Dva.Shared.Wire;

/// <summary>
/// Builds a tunnel header in place, in front of a frame already in a buffer, so encapsulation never
/// copies the frame. Buffers keep headroom before the frame for this (128 bytes in the node engine,
/// at least <see cref="TunnelLayout.MaxHeaderLength"/>).
/// </summary>
public static class TunnelWriter
{
    /// <summary>
    /// Writes the header for <paramref name="fields"/> and <paramref name="nids"/> so that it ends exactly at
    /// <paramref name="frameOffset"/>. In secure mode SEQ is written from <see cref="TunnelFields.Seq"/> and the
    /// TAG room after the frame is zeroed for the sealer to fill (the caller leaves 16 bytes there).
    /// The datagram is then <c>buffer[headerStart..(headerStart + datagramLength)]</c>.
    /// Validates with the reader's rules, so whatever it writes <see cref="TunnelHeader.TryRead"/> accepts.
    /// </summary>
    public static WireError TryWriteInFront(
        Span<byte> buffer,
        int frameOffset,
        int frameLength,
        in TunnelFields fields,
        ReadOnlySpan<ushort> nids,
        out int headerStart,
        out int datagramLength)
    {
        headerStart = -1;
        datagramLength = 0;
        var error = TunnelLayout.Check(fields, nids.Length);
        if (error != WireError.None)
        {
            return error;
        }

        error = TunnelLayout.CheckOffload(fields.Type, fields.Offload);
        if (error == WireError.None)
        {
            error = TunnelLayout.CheckPark(fields.Type, fields.Offload, fields.Park);
        }

        if (error == WireError.None)
        {
            error = TunnelLayout.CheckShortcut(fields.Type, fields.Handoff, fields.Shortcut);
        }

        if (error != WireError.None)
        {
            return error;
        }

        foreach (var nid in nids)
        {
            error = TunnelLayout.CheckRequiredNodeId(nid);
            if (error != WireError.None)
            {
                return error;
            }
        }

        if (fields.Type == TunnelType.Control)
        {
            if (fields.VlanTci != 0)
            {
                return WireError.ReservedBitSet;
            }
        }
        else if (frameLength < TunnelLayout.MinInnerFrameLength)
        {
            return WireError.InnerFrameTooShort;
        }

        var secure = (fields.Flags & TunnelFlags.Secure) != 0;
        var offload = fields.Offload.IsPresent;
        var park = fields.Park.IsPresent;
        var shortcut = fields.Shortcut.IsPresent;
        var origin = fields.Shortcut.HasOrigin;
        var headerLength = TunnelLayout.HeaderLength(fields.Flags, nids.Length, offload, park, shortcut, origin);
        var tail = secure ? TunnelLayout.TagLength : 0;
        if (frameOffset < headerLength || frameLength < 0 || (long)frameOffset + frameLength + tail > buffer.Length)
        {
            return WireError.NoRoom;
        }

        var start = frameOffset - headerLength;
        var header = buffer.Slice(start, headerLength);
        BinaryPrimitives.WriteUInt32BigEndian(header, L1(fields.Flags, fields.DNode, fields.HNode));
        var l2 = TunnelLayout.L2Offset(fields.Flags);
        if (secure)
        {
            BinaryPrimitives.WriteUInt64BigEndian(header[TunnelLayout.L1Length..], fields.Seq);
            buffer.Slice(frameOffset + frameLength, TunnelLayout.TagLength).Clear();
        }

        var trrEraHdrSize = (uint)TunnelLayout.HdrSize(nids.Length, offload, park, shortcut, origin)
            | (fields.Trr ? TunnelLayout.TrrBit : 0u)
            | (fields.Era != 0 ? TunnelLayout.EraBit : 0u);
        var word0 = ((uint)fields.Type << 28) | ((uint)fields.Handoff << 24) | ((uint)fields.Hook << 20)
            | ((uint)fields.Table << 16) | (trrEraHdrSize << 8) | fields.Ttl;
        BinaryPrimitives.WriteUInt32BigEndian(header[(l2 + TunnelLayout.TypeHandoffOffset)..], word0);
        BinaryPrimitives.WriteUInt32BigEndian(header[(l2 + TunnelLayout.SNodeIfIdNidsOffset)..], Word1(fields.SNode, fields.IfId, nids.Length, offload, park, shortcut, origin));

        // The optional words end at the TCI in the order OFFLOAD, PARK, SHORTCUT (with its ORIGIN block): each is written where
        // the one after it starts.
        var wordsEnd = TunnelLayout.VlanTciLength + fields.Shortcut.Length;
        if (shortcut)
        {
            fields.Shortcut.Write(header[^wordsEnd..]);
        }

        if (park)
        {
            wordsEnd += TunnelPark.WordLength;
            fields.Park.Write(header[^wordsEnd..]);
        }

        if (offload)
        {
            wordsEnd += TunnelOffload.Length;
            fields.Offload.Write(header[^wordsEnd..]);
        }

        var slots = header[(l2 + TunnelLayout.NidListOffset)..^wordsEnd];
        for (var i = 0; i < nids.Length; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(slots[(2 * i)..], nids[i]);
        }

        // Padding slot after an odd NIDS must go out as zero (receivers reject it otherwise).
        slots[(2 * nids.Length)..].Clear();
        BinaryPrimitives.WriteUInt16BigEndian(header[^TunnelLayout.VlanTciLength..], fields.VlanTci);

        headerStart = start;
        datagramLength = headerLength + frameLength + tail;
        return WireError.None;
    }

    internal static uint L1(TunnelFlags flags, ushort dnode, ushort hnode) =>
        ((uint)TunnelLayout.Version << 28) | ((uint)flags << 24) | ((uint)dnode << 12) | hnode;

    internal static uint Word1(ushort snode, byte ifId, int nidCount, bool offload = false, bool park = false, bool shortcut = false, bool origin = false) =>
        ((uint)snode << 20) | ((uint)ifId << 12) | ((uint)nidCount << 8) | (offload ? TunnelLayout.OffloadBit : 0u)
        | (park ? TunnelLayout.ParkBit : 0u) | (shortcut ? TunnelLayout.ShortcutBit : 0u) | (origin ? TunnelLayout.OriginBit : 0u);
}
