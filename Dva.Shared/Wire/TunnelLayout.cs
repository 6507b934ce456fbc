namespace Dva.Shared.Wire;

/// <summary>
/// Sizes and offsets of the tunnel header (diagram in <see cref="TunnelHeader"/>), and the field rules
/// shared by the reader, the writer and the in-place mutators so that all three accept exactly the same packets.
/// </summary>
public static class TunnelLayout
{
    /// <summary>Tunnel version this code speaks.</summary>
    public const int Version = 1;

    /// <summary>Default UDP destination port of the tunnel (configurable per DVA).</summary>
    public const ushort DefaultUdpPort = 6090;

    /// <summary>Length of L1 (VER, FLAGS, DNODE, HNODE).</summary>
    public const int L1Length = 4;

    /// <summary>Length of SEQ (secure mode only), right after L1.</summary>
    public const int SeqLength = 8;

    /// <summary>Length of the two fixed L2 words.</summary>
    public const int L2FixedLength = 8;

    /// <summary>Length of the VLAN TCI word before the inner frame (or CONTROL payload).</summary>
    public const int VlanTciLength = 2;

    /// <summary>Length of the AEAD TAG after the frame (secure mode only).</summary>
    public const int TagLength = 16;

    /// <summary>Shortest inner frame accepted: an Ethernet header.</summary>
    public const int MinInnerFrameLength = 14;

    /// <summary>Most nids the 4-bit NIDS field can carry.</summary>
    public const int MaxNids = 15;

    /// <summary>Highest usable node id; 4095 is reserved and 0 means none.</summary>
    public const ushort MaxNodeId = 4094;

    /// <summary>
    /// Longest header (secure, 15 nids, a SHORTCUT word and its ORIGIN block) up to the inner frame: the headroom a writer
    /// may need. The OFFLOAD and PARK words are left out: a super-frame never meets secure mode (refused at configuration,
    /// docs/node.md).
    /// </summary>
    public const int MaxHeaderLength = L1Length + SeqLength + L2FixedLength + 4 * ((MaxNids + 1) / 2) + TunnelShortcut.WordLength
        + TunnelShortcutOrigin.Length + VlanTciLength;

    // L1, relative to the datagram start. VER|FLAGS is one byte; DNODE|HNODE are 24 bits read with it as one word.
    internal const int VerFlagsOffset = 0;

    // L2, relative to the L2 start (4, or 12 in secure mode).
    internal const int TypeHandoffOffset = 0;
    internal const int HookTableOffset = 1;
    internal const int TrrEraHdrSizeOffset = 2;
    internal const int TtlOffset = 3;
    internal const int SNodeIfIdNidsOffset = 4;
    internal const int NidListOffset = 8;

    // Bits of the byte at TrrEraHdrSizeOffset.
    internal const byte TrrBit = 0x80;
    internal const byte EraBit = 0x40;
    internal const byte HdrSizeMask = 0x3F;

    // G: the high bit of the RESERVED byte (the low byte of the second L2 word): an OFFLOAD word follows the nid list.
    internal const byte OffloadBit = 0x80;

    // P: the bit below G: a PARK word follows the OFFLOAD word.
    internal const byte ParkBit = 0x40;

    // X: the bit below P: a SHORTCUT word follows the PARK word (or whichever of the OFFLOAD word and the nid list is last).
    internal const byte ShortcutBit = 0x20;

    // Y: the bit below X: an ORIGIN block follows the SHORTCUT word (only with X).
    internal const byte OriginBit = 0x10;

    // Masks within the 16-bit nid slot and the 4-bit FLAGS.
    internal const ushort NodeIdMask = 0x0FFF;
    internal const byte FlagsReservedBit = 0x1;
    internal const byte FlagsMask = 0xF;

    /// <summary>Offset of L2 from the datagram start.</summary>
    public static int L2Offset(TunnelFlags flags) => (flags & TunnelFlags.Secure) != 0 ? L1Length + SeqLength : L1Length;

    /// <summary>
    /// HDR SIZE for a nid count: 32-bit words after the first L2 word up to the VLAN TCI (one more with an OFFLOAD word,
    /// one more with a PARK word, one more with a SHORTCUT word, nine more with an ORIGIN block).
    /// </summary>
    public static int HdrSize(int nidCount, bool offload = false, bool park = false, bool shortcut = false, bool origin = false) =>
        1 + ((nidCount + 1) >> 1) + (offload ? 1 : 0) + (park ? 1 : 0) + (shortcut ? 1 : 0) + (origin ? TunnelShortcutOrigin.Length / 4 : 0);

    /// <summary>Bytes from the datagram start to the inner frame (OFFLOAD, PARK and SHORTCUT words, ORIGIN block and VLAN TCI included).</summary>
    public static int HeaderLength(TunnelFlags flags, int nidCount, bool offload = false, bool park = false, bool shortcut = false, bool origin = false) =>
        L2Offset(flags) + 4 + (4 * HdrSize(nidCount, offload, park, shortcut, origin)) + VlanTciLength;

    /// <summary>Bytes from the datagram start to the inner frame of a header with these <paramref name="fields"/>.</summary>
    public static int HeaderLength(in TunnelFields fields, int nidCount) =>
        HeaderLength(fields.Flags, nidCount, fields.Offload.IsPresent, fields.Park.IsPresent, fields.Shortcut.IsPresent, fields.Shortcut.HasOrigin);

    /// <summary>
    /// Bytes of the optional words (OFFLOAD, PARK, SHORTCUT, ORIGIN) between the nid list and the VLAN TCI, from the G, P, X
    /// and Y bits of the RESERVED byte (the low byte of the second L2 word).
    /// </summary>
    internal static int WordsLength(byte reservedByte) =>
        ((reservedByte & OffloadBit) != 0 ? TunnelOffload.Length : 0)
        + ((reservedByte & ParkBit) != 0 ? TunnelPark.WordLength : 0)
        + ((reservedByte & ShortcutBit) != 0 ? TunnelShortcut.WordLength : 0)
        + ((reservedByte & OriginBit) != 0 ? TunnelShortcutOrigin.Length : 0);

    /// <summary>G set: the OFFLOAD word is allowed on frame packets only, and must follow its rules (<see cref="TunnelOffload"/>).</summary>
    internal static WireError CheckOffload(TunnelType type, in TunnelOffload offload)
    {
        if (!offload.IsPresent)
        {
            return WireError.None;
        }

        return type == TunnelType.Control ? WireError.BadOffload : offload.Check();
    }

    /// <summary>P set: the PARK word's rules (<see cref="TunnelPark"/>), after the OFFLOAD word's.</summary>
    internal static WireError CheckPark(TunnelType type, in TunnelOffload offload, in TunnelPark park) =>
        park.IsPresent ? park.Check(type, offload) : WireError.None;

    /// <summary>X set: the SHORTCUT word's rules (<see cref="TunnelShortcut"/>), after the PARK word's.</summary>
    internal static WireError CheckShortcut(TunnelType type, Handoff handoff, in TunnelShortcut shortcut) =>
        shortcut.IsPresent ? shortcut.Check(type, handoff) : WireError.None;

    /// <summary>UDP source port of the outer datagram: one path per inner flow through an ECMP fabric.</summary>
    public static ushort UdpSourcePort(ulong innerFlowHash) => (ushort)(49152 + (innerFlowHash >> 50));

    /// <summary>
    /// Checks every value rule of §2 that does not depend on raw bits (those the reader checks itself).
    /// The order is the order documented in docs/protocol.md, so a packet with several faults always gets the same reason.
    /// </summary>
    internal static WireError Check(in TunnelFields f, int nidCount)
    {
        var flags = (byte)f.Flags;
        if ((flags & FlagsReservedBit) != 0 || flags > FlagsMask)
        {
            return WireError.ReservedBitSet;
        }

        if ((f.Flags & TunnelFlags.Secure) == 0)
        {
            if ((f.Flags & TunnelFlags.Encrypted) != 0)
            {
                return WireError.EncryptedWithoutSecure;
            }

            if ((f.Flags & TunnelFlags.KeyPhase) != 0)
            {
                return WireError.KeyPhaseWithoutSecure;
            }
        }

        var error = CheckRequiredNodeId(f.DNode);
        if (error == WireError.None)
        {
            error = CheckRequiredNodeId(f.HNode);
        }

        if (error != WireError.None)
        {
            return error;
        }

        error = CheckTypeHandoff(f.Type, f.Handoff);
        if (error != WireError.None)
        {
            return error;
        }

        error = CheckStage(f.Hook, f.Table);
        if (error != WireError.None)
        {
            return error;
        }

        if (f.Era > 1)
        {
            return WireError.BadEra;
        }

        if (f.Ttl == 0)
        {
            return WireError.TtlZero;
        }

        if ((uint)nidCount > MaxNids)
        {
            return WireError.TooManyNids;
        }

        if (nidCount > 0 && !f.Trr)
        {
            return WireError.NidsWithoutTrace;
        }

        // A frame that came from outside always names its dispatcher; EGRESS and CONTROL may originate at a node.
        if (f.SNode == 0)
        {
            return f.Type is TunnelType.Dispatch or TunnelType.Handoff ? WireError.NodeIdZero : WireError.None;
        }

        return f.SNode > MaxNodeId ? WireError.NodeIdOutOfRange : WireError.None;
    }

    /// <summary>DNODE, HNODE and nids: 1..4094.</summary>
    internal static WireError CheckRequiredNodeId(ushort nodeId) => nodeId switch
    {
        0 => WireError.NodeIdZero,
        > MaxNodeId => WireError.NodeIdOutOfRange,
        _ => WireError.None,
    };

    internal static WireError CheckTypeHandoff(TunnelType type, Handoff handoff) => type switch
    {
        TunnelType.Dispatch or TunnelType.Control => handoff == Handoff.None ? WireError.None : WireError.UnknownHandoff,
        TunnelType.Handoff => handoff is >= Handoff.Punt and <= Handoff.Steer ? WireError.None : WireError.UnknownHandoff,
        TunnelType.Egress => handoff is Handoff.None or Handoff.Resolve ? WireError.None : WireError.UnknownHandoff,
        _ => WireError.UnknownType,
    };

    internal static WireError CheckStage(Hook hook, NetfilterTable table)
    {
        if (hook > Hook.PostRouting)
        {
            return WireError.UnknownHook;
        }

        return table > NetfilterTable.Filter ? WireError.UnknownTable : WireError.None;
    }
}
