using System.Buffers.Binary;

namespace Dva.Shared.Wire;

/// <summary>
/// The SHORTCUT word a tunnel header carries when its X bit is set (docs/protocol.md §2), on a final EGRESS only: the
/// data plane tells the dispatcher that later packets of this frame's flow arriving on shared interface INGRESS IFID, in
/// VLAN INGRESS VLAN, in the same direction, may be forwarded by the dispatcher itself exactly as this frame was (same
/// MACs, same VLAN, hop limit/TTL decremented by one) without visiting a data plane, until the dispatcher withdraws it.
/// The dispatcher may ignore it.
/// <code>
///  0               8               16      20                      32
/// +---------------+---------------+-------+-----------------------+
/// |INGRESS IFID(8)| RESERVED (8)  | RSV(4)|   INGRESS VLAN (12)   |
/// +---------------+---------------+-------+-----------------------+
/// </code>
/// INGRESS VLAN: 0 untagged, else the VLAN id 1..4094. Rules (one encoding each): X only on TYPE EGRESS with HANDOFF 0
/// (never on CONTROL); reserved bits 0; INGRESS VLAN ≤ 4094. With Y the word is followed by an ORIGIN block
/// (<see cref="TunnelShortcutOrigin"/>): the flow's addresses and ports as its packets arrive, for a flow the DVA translates.
/// </summary>
/// <remarks>
/// Unlike <see cref="TunnelPark"/>, no field value can stand for "absent": IFID 0 untagged is a valid shortcut. Presence is
/// the X bit, kept in <see cref="IsPresent"/>; the properties are get-only so a <c>with</c> cannot make a value that is
/// absent but not <see cref="None"/>. The same goes for the ORIGIN block (all zeros is a valid block): Y is kept in
/// <see cref="HasOrigin"/>, set only by the constructor that takes an origin, so Y without X cannot be built.
/// </remarks>
public readonly record struct TunnelShortcut
{
    /// <summary>Length of the SHORTCUT word.</summary>
    public const int WordLength = 4;

    /// <summary>Highest INGRESS VLAN: the VLAN id 4095 is reserved (IEEE 802.1Q).</summary>
    public const ushort MaxVlan = 4094;

    private const int IfIdShift = 24;
    private const uint VlanMask = 0x0FFF;
    private const uint ReservedMask = 0x00FF_F000;

    /// <summary>A shortcut for the flow's packets arriving on <paramref name="ingressIfId"/> in <paramref name="ingressVlan"/> (0 untagged).</summary>
    public TunnelShortcut(byte ingressIfId, ushort ingressVlan)
    {
        IngressIfId = ingressIfId;
        IngressVlan = ingressVlan;
        IsPresent = true;
    }

    /// <summary>
    /// A shortcut as above for a flow whose packets arrive with the addresses and ports of <paramref name="origin"/> (Y set),
    /// not those of the EGRESS frame.
    /// </summary>
    public TunnelShortcut(byte ingressIfId, ushort ingressVlan, TunnelShortcutOrigin origin)
        : this(ingressIfId, ingressVlan)
    {
        Origin = origin;
        HasOrigin = true;
    }

    /// <summary>No shortcut: the header carries no SHORTCUT word.</summary>
    public static TunnelShortcut None => default;

    /// <summary>INGRESS IFID: the shared interface the flow's later packets arrive on.</summary>
    public byte IngressIfId { get; }

    /// <summary>INGRESS VLAN: the VLAN id they arrive in (0 untagged).</summary>
    public ushort IngressVlan { get; }

    /// <summary>True when the header carries the word (X set).</summary>
    public bool IsPresent { get; }

    /// <summary>True when the word is followed by an ORIGIN block (Y set).</summary>
    public bool HasOrigin { get; }

    /// <summary>The ORIGIN block: the flow's addresses and ports as its packets arrive; default when <see cref="HasOrigin"/> is false.</summary>
    public TunnelShortcutOrigin Origin { get; }

    /// <summary>Bytes of the SHORTCUT word and ORIGIN block this value puts in a header.</summary>
    internal int Length => (IsPresent ? WordLength : 0) + (HasOrigin ? TunnelShortcutOrigin.Length : 0);

    /// <summary>The rules of the type comment for a packet of <paramref name="type"/> and <paramref name="handoff"/>.</summary>
    public WireError Check(TunnelType type, Handoff handoff) =>
        IsPresent && AllowedOn(type, handoff) && IngressVlan <= MaxVlan ? WireError.None : WireError.BadShortcut;

    /// <summary>X is allowed on a final EGRESS only: the frame leaves the DVA exactly as a shortcut would send it.</summary>
    internal static bool AllowedOn(TunnelType type, Handoff handoff) => type == TunnelType.Egress && handoff == Handoff.None;

    /// <summary>
    /// Decodes a SHORTCUT word, and the ORIGIN block after it when <paramref name="hasOrigin"/> (Y); the word's reserved bits
    /// must be 0 (the TYPE rules are <see cref="Check"/>'s). <paramref name="words"/> starts at the word.
    /// </summary>
    internal static WireError TryRead(ReadOnlySpan<byte> words, bool hasOrigin, out TunnelShortcut shortcut)
    {
        var value = BinaryPrimitives.ReadUInt32BigEndian(words);
        if ((value & ReservedMask) != 0)
        {
            shortcut = None;
            return WireError.BadShortcut;
        }

        var ingressIfId = (byte)(value >> IfIdShift);
        var ingressVlan = (ushort)(value & VlanMask);
        shortcut = hasOrigin
            ? new TunnelShortcut(ingressIfId, ingressVlan, TunnelShortcutOrigin.Read(words[WordLength..]))
            : new TunnelShortcut(ingressIfId, ingressVlan);
        return WireError.None;
    }

    /// <summary>Writes the word and, with <see cref="HasOrigin"/>, the ORIGIN block after it (<see cref="Length"/> bytes).</summary>
    internal void Write(Span<byte> words)
    {
        BinaryPrimitives.WriteUInt32BigEndian(words, ((uint)IngressIfId << IfIdShift) | IngressVlan);
        if (HasOrigin)
        {
            Origin.Write(words[WordLength..]);
        }
    }
}
