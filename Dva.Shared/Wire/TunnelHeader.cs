using System.Buffers.Binary;

namespace Dva.Shared.Wire;

/// <summary>
/// A decoded, validated tunnel header. Offsets are relative to the start of the datagram given to
/// <see cref="TryRead"/>; the nid list and the frame stay in that datagram (read them with
/// <see cref="GetNid"/> and <see cref="InnerOffset"/>/<see cref="InnerLength"/>), so reading copies nothing.
/// </summary>
public readonly record struct TunnelHeader
{
    /*
     Tunnel header, carried in UDP (DESIGN.md §2; docs/protocol.md). All fields big-endian.

     L1 (4 bytes)
      0       4       8                      20                      32
     +-------+-------+-----------------------+-----------------------+
     |  VER  | FLAGS |       DNODE (12)      |       HNODE (12)      |
     +-------+-------+-----------------------+-----------------------+
     [ SEQ (8 bytes) — only when FLAGS.S ]

     L2 (8 bytes + node-id list)
      0       4       8       12      16 17 18         24              32
     +-------+-------+-------+-------+--+--+-----------+---------------+
     | TYPE  |HANDOFF| HOOK  | TABLE |T |E | HDR SIZE  |      TTL      |
     +-------+-------+-------+-------+--+--+-----------+---------------+
     |       SNODE (12)      |   IFID (8)    | NIDS  |G|P|X|Y|RESERVED |
     +-----------------------+---------------+-------+-----------------+
     | nid0 (16)                     | nid1 (16)                       |  ... NIDS entries,
     +-------------------------------+---------------------------------+  padded to 32 bits
     [ OFFLOAD (32) — only when G: GSO SIZE 16 | GSO TYPE 4 | C | N | 0 ]
     [ PARK (32) — only when P: TICKET 16 | PARKED LENGTH 16 ]
     [ SHORTCUT (32) — only when X: INGRESS IFID 8 | 0 (12) | INGRESS VLAN 12 ]
     [ ORIGIN (288) — only when Y (needs X): SOURCE ADDRESS 128 | DESTINATION ADDRESS 128 | SOURCE PORT 16 | DESTINATION PORT 16 ]
     | VLAN TCI (16)                 | inner Ethernet frame ...        |
     +-------------------------------+---------------------------------+
     [ TAG (16 bytes) — only when FLAGS.S ]

     FLAGS high to low: S (secure), E (encrypted, needs S), K (key phase, needs S), reserved 0.
     HDR SIZE = 1 + ceil(NIDS / 2) + G + P + X + 9 × Y. A nid is a 12-bit node id in the low bits of its 16-bit slot;
     the high 4 bits and the padding slot after an odd NIDS are 0.
    */

    private TunnelHeader(in TunnelFields fields, int nidCount, int datagramLength)
    {
        Fields = fields;
        NidCount = nidCount;
        NidsOffset = TunnelLayout.L2Offset(fields.Flags) + TunnelLayout.NidListOffset;
        InnerOffset = TunnelLayout.HeaderLength(fields, nidCount);
        DatagramLength = datagramLength;
        var secure = (fields.Flags & TunnelFlags.Secure) != 0;
        TagOffset = secure ? datagramLength - TunnelLayout.TagLength : -1;
        InnerLength = (secure ? TagOffset : datagramLength) - InnerOffset;
    }

    /// <summary>The decoded header values; feed them back to <see cref="TunnelWriter"/> to forward.</summary>
    public TunnelFields Fields { get; }

    /// <summary>VER (always <see cref="TunnelLayout.Version"/> once accepted).</summary>
    public int Version { get; } = TunnelLayout.Version;

    /// <summary>FLAGS.</summary>
    public TunnelFlags Flags => Fields.Flags;

    /// <summary>FLAGS.S: SEQ and TAG present.</summary>
    public bool IsSecure => (Fields.Flags & TunnelFlags.Secure) != 0;

    /// <summary>DNODE: receiver of this hop.</summary>
    public ushort DNode => Fields.DNode;

    /// <summary>HNODE: sender of this hop.</summary>
    public ushort HNode => Fields.HNode;

    /// <summary>SEQ (0 when not secure).</summary>
    public ulong Seq => Fields.Seq;

    /// <summary>TYPE.</summary>
    public TunnelType Type => Fields.Type;

    /// <summary>HANDOFF.</summary>
    public Handoff Handoff => Fields.Handoff;

    /// <summary>HOOK.</summary>
    public Hook Hook => Fields.Hook;

    /// <summary>TABLE.</summary>
    public NetfilterTable Table => Fields.Table;

    /// <summary>T: nids are being recorded.</summary>
    public bool Trr => Fields.Trr;

    /// <summary>E: era bit of the dispatcher's table (0 or 1).</summary>
    public byte Era => Fields.Era;

    /// <summary>TTL.</summary>
    public byte Ttl => Fields.Ttl;

    /// <summary>SNODE.</summary>
    public ushort SNode => Fields.SNode;

    /// <summary>IFID.</summary>
    public byte IfId => Fields.IfId;

    /// <summary>VLAN TCI.</summary>
    public ushort VlanTci => Fields.VlanTci;

    /// <summary>The VLAN id of <see cref="VlanTci"/> (its low 12 bits; 0 untagged).</summary>
    public ushort VlanId => (ushort)(Fields.VlanTci & 0x0FFF);

    /// <summary>G and the OFFLOAD word (<see cref="TunnelOffload.None"/> when G is clear).</summary>
    public TunnelOffload Offload => Fields.Offload;

    /// <summary>P and the PARK word (<see cref="TunnelPark.None"/> when P is clear): the frame's payload waits at SNODE.</summary>
    public TunnelPark Park => Fields.Park;

    /// <summary>X and the SHORTCUT word (<see cref="TunnelShortcut.None"/> when X is clear): the dispatcher may forward the flow's later packets itself.</summary>
    public TunnelShortcut Shortcut => Fields.Shortcut;

    /// <summary>NIDS: entries in the nid list.</summary>
    public int NidCount { get; }

    /// <summary>Offset of nid0.</summary>
    public int NidsOffset { get; }

    /// <summary>Offset of the inner frame (CONTROL: of the probe payload); also the header length.</summary>
    public int InnerOffset { get; }

    /// <summary>Length of the inner frame (CONTROL: of the probe payload), TAG excluded.</summary>
    public int InnerLength { get; }

    /// <summary>Offset of the TAG, or -1 when not secure.</summary>
    public int TagOffset { get; }

    /// <summary>Bytes before the inner frame: L1, SEQ, L2, nid list, VLAN TCI.</summary>
    public int HeaderLength => InnerOffset;

    /// <summary>Length of the whole datagram as read.</summary>
    public int DatagramLength { get; }

    /// <summary>Offset of the VLAN TCI word.</summary>
    public int VlanTciOffset => InnerOffset - TunnelLayout.VlanTciLength;

    /// <summary>Secure mode: associated data is datagram[0..AadLength) = L1 ‖ SEQ ‖ L2 with its nid list, OFFLOAD, PARK and SHORTCUT words and ORIGIN block.</summary>
    public int AadLength => VlanTciOffset;

    /// <summary>Secure mode: the sealed payload starts at the VLAN TCI.</summary>
    public int PayloadOffset => VlanTciOffset;

    /// <summary>Secure mode: the sealed payload is VLAN TCI and inner frame, up to the TAG.</summary>
    public int PayloadLength => InnerLength + TunnelLayout.VlanTciLength;

    /// <summary>Nid <paramref name="index"/> from <paramref name="datagram"/> (the span this header was read from); 0 when out of range.</summary>
    public ushort GetNid(ReadOnlySpan<byte> datagram, int index)
    {
        var offset = NidsOffset + (2 * index);
        if ((uint)index >= (uint)NidCount || datagram.Length < offset + 2)
        {
            return 0;
        }

        return (ushort)(BinaryPrimitives.ReadUInt16BigEndian(datagram[offset..]) & TunnelLayout.NodeIdMask);
    }

    /// <summary>Copies the nid list into <paramref name="destination"/>; returns how many were copied.</summary>
    public int CopyNids(ReadOnlySpan<byte> datagram, Span<ushort> destination)
    {
        var count = Math.Min(NidCount, destination.Length);
        for (var i = 0; i < count; i++)
        {
            destination[i] = GetNid(datagram, i);
        }

        return count;
    }

    /// <summary>
    /// Decodes and validates the header at the start of <paramref name="datagram"/> (the UDP payload).
    /// Returns the first failing rule in the order of docs/protocol.md, or <see cref="WireError.None"/>.
    /// DNODE is not compared with the receiver's own id here: the caller knows it, the wire does not.
    /// Never throws, never allocates.
    /// </summary>
    public static WireError TryRead(ReadOnlySpan<byte> datagram, out TunnelHeader header)
    {
        header = default;
        if (datagram.Length < TunnelLayout.L1Length)
        {
            return WireError.Truncated;
        }

        var l1 = BinaryPrimitives.ReadUInt32BigEndian(datagram);
        if (l1 >> 28 != TunnelLayout.Version)
        {
            return WireError.BadVersion;
        }

        var flags = (TunnelFlags)((l1 >> 24) & TunnelLayout.FlagsMask);
        var l2 = TunnelLayout.L2Offset(flags);
        if (datagram.Length < l2 + TunnelLayout.L2FixedLength)
        {
            return WireError.Truncated;
        }

        var word0 = BinaryPrimitives.ReadUInt32BigEndian(datagram[(l2 + TunnelLayout.TypeHandoffOffset)..]);
        var word1 = BinaryPrimitives.ReadUInt32BigEndian(datagram[(l2 + TunnelLayout.SNodeIfIdNidsOffset)..]);
        var nidCount = (int)((word1 >> 8) & 0xF);
        var hasOffload = ((byte)word1 & TunnelLayout.OffloadBit) != 0;
        var hasPark = ((byte)word1 & TunnelLayout.ParkBit) != 0;
        var hasShortcut = ((byte)word1 & TunnelLayout.ShortcutBit) != 0;
        var hasOrigin = ((byte)word1 & TunnelLayout.OriginBit) != 0;
        var trrEraHdrSize = (byte)(word0 >> 8);
        if ((trrEraHdrSize & TunnelLayout.HdrSizeMask) != TunnelLayout.HdrSize(nidCount, hasOffload, hasPark, hasShortcut, hasOrigin))
        {
            return WireError.HdrSizeMismatch;
        }

        if (((byte)word1 & ~(TunnelLayout.OffloadBit | TunnelLayout.ParkBit | TunnelLayout.ShortcutBit | TunnelLayout.OriginBit)) != 0)
        {
            return WireError.ReservedBitSet;
        }

        // The TCI is read now, if present, so the fields are built once; its truncation is still reported in order below.
        // The optional words end at the TCI in the order OFFLOAD, PARK, SHORTCUT, ORIGIN: each word's offset counts those after it.
        var innerOffset = TunnelLayout.HeaderLength(flags, nidCount, hasOffload, hasPark, hasShortcut, hasOrigin);
        var shortcutOffset = innerOffset - TunnelLayout.VlanTciLength - (hasOrigin ? TunnelShortcutOrigin.Length : 0)
            - (hasShortcut ? TunnelShortcut.WordLength : 0);
        var parkOffset = shortcutOffset - (hasPark ? TunnelPark.WordLength : 0);
        var vlanTci = datagram.Length >= innerOffset
            ? BinaryPrimitives.ReadUInt16BigEndian(datagram[(innerOffset - TunnelLayout.VlanTciLength)..])
            : (ushort)0;
        var fields = new TunnelFields
        {
            Flags = flags,
            DNode = (ushort)((l1 >> 12) & TunnelLayout.NodeIdMask),
            HNode = (ushort)(l1 & TunnelLayout.NodeIdMask),
            Seq = (flags & TunnelFlags.Secure) != 0 ? BinaryPrimitives.ReadUInt64BigEndian(datagram[TunnelLayout.L1Length..]) : 0,
            Type = (TunnelType)(word0 >> 28),
            Handoff = (Handoff)((word0 >> 24) & 0xF),
            Hook = (Hook)((word0 >> 20) & 0xF),
            Table = (NetfilterTable)((word0 >> 16) & 0xF),
            Trr = (trrEraHdrSize & TunnelLayout.TrrBit) != 0,
            Era = (byte)((trrEraHdrSize & TunnelLayout.EraBit) != 0 ? 1 : 0),
            Ttl = (byte)word0,
            SNode = (ushort)(word1 >> 20),
            IfId = (byte)(word1 >> 12),
            VlanTci = vlanTci,
        };

        var error = TunnelLayout.Check(fields, nidCount);
        if (error != WireError.None)
        {
            return error;
        }

        if (datagram.Length < innerOffset)
        {
            return WireError.Truncated;
        }

        error = CheckNidList(datagram.Slice(l2 + TunnelLayout.NidListOffset, innerOffset - TunnelLayout.VlanTciLength - l2 - TunnelLayout.NidListOffset), nidCount);
        if (error != WireError.None)
        {
            return error;
        }

        if (hasOffload)
        {
            if (fields.Type == TunnelType.Control)
            {
                return WireError.BadOffload;
            }

            error = TunnelOffload.TryRead(datagram[(parkOffset - TunnelOffload.Length)..], out var offload);
            if (error != WireError.None)
            {
                return error;
            }

            fields = fields with { Offload = offload };
        }

        if (hasPark)
        {
            var park = TunnelPark.Read(datagram[parkOffset..]);
            error = park.Check(fields.Type, fields.Offload);
            if (error != WireError.None)
            {
                return error;
            }

            fields = fields with { Park = park };
        }

        // Y needs X: an ORIGIN block without its SHORTCUT word offers nothing.
        if (hasOrigin && !hasShortcut)
        {
            return WireError.BadShortcut;
        }

        if (hasShortcut)
        {
            error = TunnelShortcut.TryRead(datagram[shortcutOffset..], hasOrigin, out var shortcut);
            if (error == WireError.None)
            {
                error = shortcut.Check(fields.Type, fields.Handoff);
            }

            if (error != WireError.None)
            {
                return error;
            }

            fields = fields with { Shortcut = shortcut };
        }

        var tail = (flags & TunnelFlags.Secure) != 0 ? TunnelLayout.TagLength : 0;
        if (datagram.Length < innerOffset + tail)
        {
            return WireError.Truncated;
        }

        var innerLength = datagram.Length - innerOffset - tail;
        if (fields.Type == TunnelType.Control)
        {
            // A probe has no 802.1Q tag to restore; the word is kept only for alignment.
            if (fields.VlanTci != 0)
            {
                return WireError.ReservedBitSet;
            }
        }
        else if (innerLength < TunnelLayout.MinInnerFrameLength)
        {
            return WireError.InnerFrameTooShort;
        }

        header = new TunnelHeader(fields, nidCount, datagram.Length);
        return WireError.None;
    }

    private static WireError CheckNidList(ReadOnlySpan<byte> slots, int nidCount)
    {
        for (var i = 0; i < nidCount; i++)
        {
            var slot = BinaryPrimitives.ReadUInt16BigEndian(slots[(2 * i)..]);
            if (slot > TunnelLayout.NodeIdMask)
            {
                return WireError.ReservedBitSet;
            }

            var error = TunnelLayout.CheckRequiredNodeId(slot);
            if (error != WireError.None)
            {
                return error;
            }
        }

        if ((nidCount & 1) != 0 && BinaryPrimitives.ReadUInt16BigEndian(slots[(2 * nidCount)..]) != 0)
        {
            return WireError.ReservedBitSet;
        }

        return WireError.None;
    }
}
