using System.Text.Json;
using System.Text.Json.Serialization;

namespace Dva.Node.Config;

/// <summary>
/// The node's static configuration file (<c>dva-node run --config node.json</c>), as written by an operator
/// or by the manager's local compute-unit provider. Every field is validated by <see cref="NodeConfigValidator"/>
/// before the node starts; the raw form keeps strings so a bad value can be named in the error.
/// </summary>
internal sealed record NodeConfig
{
    /// <summary><c>dispatcher</c> or <c>dataplane</c>.</summary>
    public string? Role { get; init; }

    /// <summary>12-bit node id, 1..4094, unique in the DVA.</summary>
    public int NodeId { get; init; }

    public string? Name { get; init; }

    public TunnelConfig? Tunnel { get; init; }

    /// <summary>
    /// Engine threads of a data plane (1..64, default 1), each with its own tunnel socket (SO_REUSEPORT, steered by
    /// outer source port) and flow table. More than one needs per-flow source ports on every node of the DVA and a
    /// plain tunnel. A dispatcher runs on one engine whatever this says.
    /// </summary>
    public int Engines { get; init; } = 1;

    /// <summary>
    /// Carry GSO/GRO super-frames (opt-in; docs/node.md "Super-frames"): packet buffers of 64 KiB instead of 2 KiB (and
    /// fewer of them), tunnel.mtu 65535 unless set, and on a dispatcher <c>afpacket:IF?gso=1</c> sources allowed. Every
    /// node of the DVA must have it, or a super-frame reaching a node without it is a counted truncation. Plain tunnel only.
    /// </summary>
    public bool SuperFrames { get; init; }

    /// <summary>
    /// Dispatcher, with <see cref="SuperFrames"/>: a TCP super-frame's payload waits here while only its
    /// headers cross the DVA (docs/node.md "Parked payloads"). Only for a DVA whose one dispatcher has every interface:
    /// a data plane drops a parked packet that must leave by another dispatcher (ParkedPayloadElsewhere).
    /// </summary>
    public bool ParkPayloads { get; init; }

    /// <summary>
    /// The kernel shortcut (docs/node.md "Kernel shortcut"). A data plane offers it for its established flows (a SHORTCUT
    /// word on their EGRESS); a dispatcher takes the offers for its <c>afpacket:</c> interfaces and lets the kernel forward
    /// those flows' frames itself (BPF on the interface), sending one frame per lease to the data plane.
    /// </summary>
    public bool Shortcuts { get; init; }

    /// <summary>Dispatcher with <see cref="Shortcuts"/>: most flow directions in the kernel's shortcut map (65 536 unless set).</summary>
    public int? ShortcutCapacity { get; init; }

    /// <summary>Local control endpoint (counters, flows, table replacement), <c>ip:port</c>; loopback by default.</summary>
    public string? Control { get; init; }

    public List<InterfaceConfig> Interfaces { get; init; } = [];

    public List<RouteConfig> Routes { get; init; } = [];

    public TableConfig? Table { get; init; }

    public TimeoutConfig? Timeouts { get; init; }

    /// <summary>The firewall (data planes): rules, default action, mid-stream policy. Absent: every flow is accepted.</summary>
    public FirewallConfig? Firewall { get; init; }

    /// <summary>The load balancer (data planes): VIPs with their pools, SNAT addresses.</summary>
    public LoadBalancerSection? LoadBalancer { get; init; }

    public static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web)
    {
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,

        // "interfaces": null (or routes, addresses, dataPlanes, dispatchers) must be a named error, not a NullReferenceException
        // in the validator (found by tests/Dva.Node.Tests/Fuzz; docs/reliability.md).
        RespectNullableAnnotations = true,
        WriteIndented = true,
    };
}

internal sealed record TunnelConfig
{
    /// <summary>The UDP endpoint this node's tunnel socket binds, <c>ip:port</c> (IPv4 or IPv6).</summary>
    public string? Listen { get; init; }

    /// <summary>Largest outer IP packet the path between units carries; 0 = 1500.</summary>
    public int Mtu { get; init; }

    /// <summary>
    /// Send each inner flow from its own outer UDP source port, <c>49152 + (flowHash >> 50)</c> (DESIGN.md §2), so an
    /// ECMP fabric spreads flows over its paths. Needs CAP_NET_RAW and an IPv4 tunnel; otherwise the node logs why
    /// and sends from the tunnel port. Default on.
    /// </summary>
    public bool FlowSourcePorts { get; init; } = true;

    /// <summary>Secure mode of the tunnel (absent: plain).</summary>
    public TunnelSecurityConfig? Security { get; init; }
}

/// <summary>
/// <c>tunnel.security</c>: the DVA's secure mode. Under a manager only mode and cipher are here (keys come over
/// the hub); a statically configured node (<c>dva-node run</c>) lists its keys too.
/// </summary>
internal sealed record TunnelSecurityConfig
{
    /// <summary><c>plain</c>, <c>authenticated</c> or <c>encrypted</c>.</summary>
    public string? Mode { get; init; }

    /// <summary><c>aes-gcm</c> (default) or <c>chacha20</c>.</summary>
    public string? Cipher { get; init; }

    /// <summary>Keys by phase (at most one per phase).</summary>
    public List<TunnelKeyConfig> Keys { get; init; } = [];

    /// <summary>The phase this node sends with; its key must be listed.</summary>
    public int SendPhase { get; init; }
}

internal sealed record TunnelKeyConfig
{
    /// <summary>FLAGS.K: 0 or 1.</summary>
    public int Phase { get; init; }

    /// <summary>Names the key in counters and logs (1.. 2³²−1).</summary>
    public uint Id { get; init; }

    /// <summary>32 bytes, base64.</summary>
    public string? Key { get; init; }
}

internal sealed record InterfaceConfig
{
    /// <summary>Shared interface id, 1..255, unique in the DVA (the IFID field of the tunnel header).</summary>
    public int Ifid { get; init; }

    public string? Name { get; init; }

    /// <summary>The shared MAC address, <c>02:00:00:00:00:01</c>.</summary>
    public string? Mac { get; init; }

    /// <summary>The shared addresses with their prefix, <c>192.0.2.1/24</c>; the prefix is a connected subnet.</summary>
    public List<string> Addresses { get; init; } = [];

    /// <summary>Frame source (dispatcher only): <c>afpacket:IF</c>, <c>tap:NAME</c> or <c>udp:LOCAL=ip:port,PEER=ip:port</c>.</summary>
    public string? Source { get; init; }

    /// <summary>Node id of the dispatcher attached to this interface (data planes send EGRESS there).</summary>
    public int Dispatcher { get; init; }

    /// <summary>
    /// The 802.1Q VLANs the interface carries besides untagged frames (a trunk), 1..4094, at most 64: a dispatcher
    /// looks for a neighbour it has not heard from on each of them as well as untagged.
    /// </summary>
    public List<int> Vlans { get; init; } = [];

    /// <summary>
    /// VLAN sub-interfaces: a VLAN of the trunk with subnets of its own (<c>{"vlan": 20, "addresses":
    /// ["198.51.100.1/24"]}</c>). Their addresses are shared addresses of this interface, answered on that VLAN only,
    /// and a packet routed into their subnets leaves tagged with it (docs/node.md "VLANs").
    /// </summary>
    public List<SubInterfaceConfig> SubInterfaces { get; init; } = [];

    /// <summary>
    /// Dispatcher: send IPv6 router advertisements on this interface (RFC 4861), so hosts take the DVA as their default
    /// router and make addresses in its /64 prefixes by themselves (docs/node.md "IPv6 router advertisements"). Needs an
    /// IPv6 address on the interface.
    /// </summary>
    public bool RouterAdvertisements { get; init; }

    /// <summary>
    /// With router advertisements: where hosts get more than SLAAC gives, <c>none</c> (default), <c>other</c> (the O flag:
    /// other configuration by DHCPv6) or <c>managed</c> (M and O: addresses by DHCPv6 too).
    /// </summary>
    public string? Dhcpv6 { get; init; }

    /// <summary>With router advertisements: IPv6 DNS servers they announce (RDNSS, RFC 8106), at most 8.</summary>
    public List<string> DnsServers { get; init; } = [];

    /// <summary>With router advertisements: DNS search domains they announce (DNSSL, RFC 8106), at most 8.</summary>
    public List<string> DnsSearch { get; init; } = [];
}

internal sealed record SubInterfaceConfig
{
    /// <summary>The 802.1Q VLAN id, 1..4094.</summary>
    public int Vlan { get; init; }

    /// <summary>The sub-interface's shared addresses with their prefix, as an interface's <c>addresses</c>.</summary>
    public List<string> Addresses { get; init; } = [];
}

internal sealed record RouteConfig
{
    public string? Prefix { get; init; }

    public string? NextHop { get; init; }

    public int Ifid { get; init; }
}

internal sealed record TableConfig
{
    public ulong Version { get; init; } = 1;

    public int BucketCount { get; init; } = 4096;

    /// <summary>The DVA's secret flow-hash seed, as a decimal or <c>0x</c> hex string.</summary>
    public string? Seed { get; init; }

    public Guid DvaId { get; init; }

    public List<PeerConfig> DataPlanes { get; init; } = [];

    public List<PeerConfig> Dispatchers { get; init; } = [];
}

internal sealed record PeerConfig
{
    public int NodeId { get; init; }

    /// <summary>Tunnel endpoint of the peer, <c>ip:port</c>.</summary>
    public string? Endpoint { get; init; }

    /// <summary>Relative capacity (data planes); buckets are split by weight.</summary>
    public int Weight { get; init; } = 1;
}

internal sealed record TimeoutConfig
{
    public int TcpEstablishedSeconds { get; init; } = 7200;

    public int TcpTransitorySeconds { get; init; } = 120;

    public int TcpClosedSeconds { get; init; } = 10;

    public int UdpSeconds { get; init; } = 60;

    public int IcmpSeconds { get; init; } = 30;

    public int OtherSeconds { get; init; } = 60;
}
