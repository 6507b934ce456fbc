namespace Dva.Shared.Wire;

/// <summary>
/// The values of a tunnel header that a sender chooses; positions and lengths follow from them
/// (<see cref="TunnelHeader"/>). The nid list travels beside it as a span so this stays a small value.
/// </summary>
public readonly record struct TunnelFields
{
    /// <summary>TTL a dispatcher puts on every packet it sends into the DVA.</summary>
    public const byte InitialTtl = 255;

    /// <summary>FLAGS: S, E, K.</summary>
    public TunnelFlags Flags { get; init; }

    /// <summary>DNODE: receiver of this hop (1..4094).</summary>
    public ushort DNode { get; init; }

    /// <summary>HNODE: sender of this hop (1..4094).</summary>
    public ushort HNode { get; init; }

    /// <summary>SEQ: per-sender sequence number; on the wire only when <see cref="TunnelFlags.Secure"/>.</summary>
    public ulong Seq { get; init; }

    /// <summary>TYPE.</summary>
    public TunnelType Type { get; init; }

    /// <summary>HANDOFF (valid values depend on <see cref="Type"/>).</summary>
    public Handoff Handoff { get; init; }

    /// <summary>HOOK: last pipeline hook completed.</summary>
    public Hook Hook { get; init; }

    /// <summary>TABLE: last netfilter table completed.</summary>
    public NetfilterTable Table { get; init; }

    /// <summary>T (TRR): every data plane that handles the packet appends its node id.</summary>
    public bool Trr { get; init; }

    /// <summary>E (ERA): the era bit (0 or 1) of the table the dispatcher used.</summary>
    public byte Era { get; init; }

    /// <summary>TTL: 255 from the dispatcher, minus one per DP-to-DP hop.</summary>
    public byte Ttl { get; init; }

    /// <summary>SNODE: the dispatcher that received the frame from outside (0 allowed for EGRESS and CONTROL).</summary>
    public ushort SNode { get; init; }

    /// <summary>IFID: the shared interface, unique in the DVA.</summary>
    public byte IfId { get; init; }

    /// <summary>VLAN TCI the dispatcher stripped (0 = untagged; always 0 for CONTROL).</summary>
    public ushort VlanTci { get; init; }

    /// <summary>G and the OFFLOAD word: a GSO super-frame or a frame whose checksum is left to the device; <see cref="TunnelOffload.None"/> for neither.</summary>
    public TunnelOffload Offload { get; init; }

    /// <summary>P and the PARK word: the frame is a super-frame's headers, its payload parked at SNODE; <see cref="TunnelPark.None"/> otherwise.</summary>
    public TunnelPark Park { get; init; }

    /// <summary>
    /// X and the SHORTCUT word (with Y, its ORIGIN block): a final EGRESS offers the dispatcher to forward the flow's later
    /// packets itself; <see cref="TunnelShortcut.None"/> otherwise.
    /// </summary>
    public TunnelShortcut Shortcut { get; init; }
}
