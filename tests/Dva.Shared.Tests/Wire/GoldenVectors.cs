using Dva.Shared.Wire;

namespace Dva.Shared.Tests.Wire;

/// <summary>
/// Byte-exact tunnel datagrams. docs/protocol.md ("Golden vectors") prints the same hex;
/// change both together or the protocol changed without its documentation.
/// </summary>
internal static class GoldenVectors
{
    public const string Frame = "02 00 00 00 00 0a 02 00 00 00 00 0b 08 00 45 00";
    public const string BroadcastFrame = "ff ff ff ff ff ff 02 00 00 00 00 0b 08 06 00 01";
    public const string ResolveFrame = "00 00 00 00 00 00 02 00 00 00 00 0b 08 00 45 00";

    // Dispatcher 1 sends a frame received on interface 2 to DP 5, era 1.
    public const string DispatchHeader = "10 00 50 01  00 00 41 ff  00 10 20 00  00 00";
    public const string Dispatch = DispatchHeader + " " + Frame;

    public static readonly TunnelFields DispatchFields = new()
    {
        DNode = 5, HNode = 1, Type = TunnelType.Dispatch, Era = 1, Ttl = 255, SNode = 1, IfId = 2,
    };

    // DP 12 punts to DP 13 after DPs 10, 11, 12 handled it (T set), VLAN 100, after PREROUTING/nat, era 0.
    public const string PuntHeader = "10 00 d0 0c  11 13 83 fc  00 10 23 00  00 0a 00 0b  00 0c 00 00  00 64";
    public const string Punt = PuntHeader + " " + Frame;
    public static readonly ushort[] PuntNids = [10, 11, 12];

    public static readonly TunnelFields PuntFields = new()
    {
        DNode = 13, HNode = 12, Type = TunnelType.Handoff, Handoff = Handoff.Punt, Hook = Hook.PreRouting,
        Table = NetfilterTable.Nat, Trr = true, Era = 0, Ttl = 252, SNode = 1, IfId = 2, VlanTci = 100,
    };

    // DP 11 passes a broadcast (ARP) down the chain to DP 12; DPs 10 and 11 recorded themselves.
    public const string BroadcastHeader = "10 00 c0 0b  13 00 c2 fd  00 10 22 00  00 0a 00 0b  00 00";
    public const string Broadcast = BroadcastHeader + " " + BroadcastFrame;
    public static readonly ushort[] BroadcastNids = [10, 11];

    public static readonly TunnelFields BroadcastFields = new()
    {
        DNode = 12, HNode = 11, Type = TunnelType.Handoff, Handoff = Handoff.Broadcast, Trr = true, Era = 1,
        Ttl = 253, SNode = 1, IfId = 2,
    };

    // DP 12 sends a frame after POSTROUTING/nat to dispatcher 2 of interface 3, asking it to fill the destination MAC.
    public const string EgressResolveHeader = "10 00 20 0c  25 53 c2 ff  00 10 31 00  00 0c 00 00  00 00";
    public const string EgressResolve = EgressResolveHeader + " " + ResolveFrame;
    public static readonly ushort[] EgressResolveNids = [12];

    public static readonly TunnelFields EgressResolveFields = new()
    {
        DNode = 2, HNode = 12, Type = TunnelType.Egress, Handoff = Handoff.Resolve, Hook = Hook.PostRouting,
        Table = NetfilterTable.Nat, Trr = true, Era = 1, Ttl = 255, SNode = 1, IfId = 3,
    };

    // The DISPATCH above carrying a TCP/IPv4 super-frame (G set): GSO SIZE 1448, GSO TYPE 1, C (checksum left to the device).
    public const string OffloadDispatchHeader = "10 00 50 01  00 00 42 ff  00 10 20 80  05 a8 18 00  00 00";
    public const string OffloadDispatch = OffloadDispatchHeader + " " + Frame;

    public static readonly TunnelFields OffloadDispatchFields = DispatchFields with
    {
        Offload = new TunnelOffload(1448, GsoType.TcpV4, NeedsChecksum: true),
    };

    // The super-frame DISPATCH above as headers only (P set): its payload of 64 000 bytes is parked at the dispatcher
    // under ticket 0x0107 (generation 1, slot 7). HDR SIZE 3: the nid word, OFFLOAD, PARK.
    public const string ParkDispatchHeader = "10 00 50 01  00 00 43 ff  00 10 20 c0  05 a8 18 00  01 07 fa 00  00 00";
    public const string ParkDispatch = ParkDispatchHeader + " " + Frame;

    public static readonly TunnelFields ParkDispatchFields = OffloadDispatchFields with
    {
        Park = new TunnelPark(0x0107, 64000),
    };

    // DP 12 sends a final frame after POSTROUTING/nat to dispatcher 2 of interface 3 (T set, nid 12) and offers it a
    // shortcut for the flow's later packets arriving on interface 2 in VLAN 2000 (X set). HDR SIZE 3: the nid word,
    // SHORTCUT 02 00 07 d0 (INGRESS IFID 2, INGRESS VLAN 0x7d0).
    public const string ShortcutEgressHeader = "10 00 20 0c  20 53 c3 ff  00 10 31 20  00 0c 00 00  02 00 07 d0  00 00";
    public const string ShortcutEgress = ShortcutEgressHeader + " " + Frame;
    public static readonly ushort[] ShortcutEgressNids = [12];

    public static readonly TunnelFields ShortcutEgressFields = EgressResolveFields with
    {
        Handoff = Handoff.None,
        Shortcut = new TunnelShortcut(2, 2000),
    };

    // The shortcut EGRESS above for a flow the load balancer translates (Y set): its packets arrive at the dispatcher from
    // 198.51.100.7:40000 for 203.0.113.10:443. HDR SIZE 12: the nid word, SHORTCUT, ORIGIN (9 words: each IPv4 address
    // then 12 zero bytes, then the two ports).
    public const string OriginEgressHeader = "10 00 20 0c  20 53 cc ff  00 10 31 30  00 0c 00 00  02 00 07 d0  "
        + "c6 33 64 07  00 00 00 00  00 00 00 00  00 00 00 00  cb 00 71 0a  00 00 00 00  00 00 00 00  00 00 00 00  9c 40 01 bb  00 00";
    public const string OriginEgress = OriginEgressHeader + " " + Frame;

    public static readonly TunnelShortcutOrigin OriginEgressOrigin = new((UInt128)0xc6336407 << 96, (UInt128)0xcb00710a << 96, 40000, 443);

    public static readonly TunnelFields OriginEgressFields = ShortcutEgressFields with
    {
        Shortcut = new TunnelShortcut(2, 2000, OriginEgressOrigin),
    };

    // The DISPATCH above in secure mode (S+E), SEQ 0x102; TAG left zero for the sealer.
    public const string SecureDispatchHeader = "1c 00 50 01  00 00 00 00 00 00 01 02  00 00 41 ff  00 10 20 00  00 00";
    public const string SecureTag = "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00";
    public const string SecureDispatch = SecureDispatchHeader + " " + Frame + " " + SecureTag;

    public static readonly TunnelFields SecureDispatchFields = DispatchFields with
    {
        Flags = TunnelFlags.Secure | TunnelFlags.Encrypted, Seq = 0x102,
    };

    // DP 5 probes DP 2: sequence 7, prober timestamp 0x0102030405.
    public const string ControlHeader = "10 00 20 05  30 00 01 ff  00 00 00 00  00 00";
    public const string ControlPayload = "00 00 00 00 00 07 00 00 00 01 02 03 04 05";
    public const string Control = ControlHeader + " " + ControlPayload;

    public static readonly TunnelFields ControlFields = new()
    {
        DNode = 2, HNode = 5, Type = TunnelType.Control, Ttl = 255,
    };

    public static readonly ControlProbe ControlProbeValue = new(ControlKind.Probe, 7, 0x0102030405);

    public static byte[] Bytes(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    public static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexString(bytes).ToLowerInvariant();
}
