namespace Dva.Shared.Wire;

/// <summary>
/// Why a tunnel packet was rejected (reader) or could not be built (writer, mutators).
/// Every drop on the data path is counted under one of these names (docs/protocol.md, "Error reasons").
/// </summary>
public enum WireError : byte
{
    /// <summary>Accepted.</summary>
    None = 0,

    /// <summary>The datagram ends before the header, the payload or the TAG it announces.</summary>
    Truncated,

    /// <summary>VER is not 1.</summary>
    BadVersion,

    /// <summary>A reserved bit is set: FLAGS low bit, the RESERVED byte, the high 4 bits of a nid,
    /// the padding nid slot, or the VLAN TCI / reserved byte of a CONTROL packet.</summary>
    ReservedBitSet,

    /// <summary>FLAGS.E without FLAGS.S.</summary>
    EncryptedWithoutSecure,

    /// <summary>FLAGS.K without FLAGS.S: a key phase means nothing in plain mode.</summary>
    KeyPhaseWithoutSecure,

    /// <summary>HDR SIZE is not 1 + ceil(NIDS / 2) + G + P + X.</summary>
    HdrSizeMismatch,

    /// <summary>More than 15 nids (writer, append); the 4-bit NIDS field cannot say more.</summary>
    TooManyNids,

    /// <summary>Nids present (or appended) while T is clear.</summary>
    NidsWithoutTrace,

    /// <summary>TYPE is not 0..3.</summary>
    UnknownType,

    /// <summary>HANDOFF is not valid for the TYPE: DISPATCH 0; HANDOFF 1..4; EGRESS 0 or 5; CONTROL 0.</summary>
    UnknownHandoff,

    /// <summary>HOOK is not 0..5.</summary>
    UnknownHook,

    /// <summary>TABLE is not 0..4.</summary>
    UnknownTable,

    /// <summary>ERA is not 0 or 1 (writer only; one bit on the wire).</summary>
    BadEra,

    /// <summary>TTL is 0 (reader, writer), or would become 0 by this hop (decrement).</summary>
    TtlZero,

    /// <summary>A required node id is 0: DNODE, HNODE, every nid, and SNODE of DISPATCH and HANDOFF.</summary>
    NodeIdZero,

    /// <summary>A node id is 4095 (reserved) or does not fit 12 bits (writer).</summary>
    NodeIdOutOfRange,

    /// <summary>The inner frame of a DISPATCH, HANDOFF or EGRESS packet is shorter than an Ethernet header (14 bytes).</summary>
    InnerFrameTooShort,

    /// <summary>A CONTROL payload is not exactly <see cref="ControlProbe.Length"/> bytes long.</summary>
    ControlLengthMismatch,

    /// <summary>A CONTROL payload kind other than probe (0) or reply (1).</summary>
    UnknownControlKind,

    /// <summary>Writer or mutator: not enough headroom before the frame or room after it for the TAG.</summary>
    NoRoom,

    /// <summary>The OFFLOAD word (G set) breaks a rule of <see cref="TunnelOffload"/>, or G is set on a CONTROL packet.</summary>
    BadOffload,

    /// <summary>P is set without G and a TCP GSO TYPE, on a CONTROL packet, or with PARKED LENGTH 0 (<see cref="TunnelPark"/>).</summary>
    BadPark,

    /// <summary>
    /// X is set on anything but a final EGRESS (TYPE 2, HANDOFF 0), the SHORTCUT word has a reserved bit set or INGRESS
    /// VLAN 4095 (<see cref="TunnelShortcut"/>), or Y (an ORIGIN block) is set without X.
    /// </summary>
    BadShortcut,
}
