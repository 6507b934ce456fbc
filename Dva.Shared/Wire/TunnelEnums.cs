using System.Diagnostics.CodeAnalysis;

namespace Dva.Shared.Wire;

// The numeric values of these enums are the values on the wire (4-bit fields); never renumber them.

/// <summary>TYPE field of the tunnel header: which hop this packet is making.</summary>
public enum TunnelType : byte
{
    /// <summary>Dispatcher to data plane: a frame received from outside.</summary>
    Dispatch = 0,

    /// <summary>Data plane to data plane; the HANDOFF field says why.</summary>
    Handoff = 1,

    /// <summary>Data plane to dispatcher: a frame to transmit outside.</summary>
    Egress = 2,

    /// <summary>Probe between two nodes; carries a <see cref="ControlProbe"/>, no frame.</summary>
    Control = 3,
}

/// <summary>HANDOFF field: the reason for a hand-off (TYPE 1) or the egress mode (TYPE 2).</summary>
public enum Handoff : byte
{
    /// <summary>No hand-off (DISPATCH, CONTROL), or an EGRESS frame that is final.</summary>
    None = 0,

    /// <summary>HANDOFF: to a predecessor owner of the bucket.</summary>
    Punt = 1,

    /// <summary>HANDOFF: back to the owner, because no predecessor had the flow.</summary>
    Claim = 2,

    /// <summary>HANDOFF: broadcast or ARP frame passed down the chain.</summary>
    Broadcast = 3,

    /// <summary>HANDOFF: to the data plane that owns the flow after a rewrite (NAT, reassembly).</summary>
    Steer = 4,

    /// <summary>EGRESS: the dispatcher fills the destination MAC from its neighbour table.</summary>
    Resolve = 5,
}

/// <summary>HOOK field: the last netfilter hook completed before the hand-off.</summary>
public enum Hook : byte
{
    /// <summary>No stage completed yet.</summary>
    None = 0,

    /// <summary>PREROUTING.</summary>
    PreRouting = 1,

    /// <summary>INPUT (to the DVA itself).</summary>
    Input = 2,

    /// <summary>FORWARD.</summary>
    Forward = 3,

    /// <summary>OUTPUT.</summary>
    Output = 4,

    /// <summary>POSTROUTING.</summary>
    PostRouting = 5,
}

/// <summary>TABLE field: the last netfilter table completed within <see cref="Hook"/>.</summary>
public enum NetfilterTable : byte
{
    /// <summary>No table completed yet.</summary>
    None = 0,

    /// <summary>raw.</summary>
    Raw = 1,

    /// <summary>mangle.</summary>
    Mangle = 2,

    /// <summary>nat.</summary>
    Nat = 3,

    /// <summary>filter.</summary>
    Filter = 4,
}

/// <summary>FLAGS field (4 bits, high to low: S, E, K, reserved).</summary>
[Flags]
[SuppressMessage("Naming", "CA1711:Identifiers should not have incorrect suffix",
    Justification = "FLAGS is the name of the field in docs/protocol.md; the domain word wins.")]
public enum TunnelFlags : byte
{
    /// <summary>Plain mode.</summary>
    None = 0,

    /// <summary>K: key phase, so a receiver can tell which of two keys sealed the packet during a key change.</summary>
    KeyPhase = 2,

    /// <summary>E: the payload (VLAN TCI and frame) is encrypted; requires <see cref="Secure"/>.</summary>
    Encrypted = 4,

    /// <summary>S: secure mode, SEQ after L1 and TAG after the frame.</summary>
    Secure = 8,
}
