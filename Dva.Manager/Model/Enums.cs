using System.Text.Json.Serialization;

namespace Dva.Manager.Model;

internal enum ServiceKind { Firewall, LoadBalancer, FirewallAndLoadBalancer }

internal enum FirewallPolicy { Accept, Drop }

/// <summary>How a data plane treats a TCP segment of a connection it never saw the start of.</summary>
internal enum MidStreamPolicy { Strict, Loose }

internal enum RuleAction { Accept, Drop, Reject }

internal enum RuleProtocol { Any, Tcp, Udp, Sctp, Icmp, IcmpV6 }

internal enum VipProtocol { Tcp, Udp }

internal enum BalancingMethod { RoundRobin, WeightedRoundRobin, LeastConnections, SourceHash }

internal enum MemberAdminState { Enabled, Draining, Disabled }

internal enum MemberHealth { Unknown, Up, Down }

internal enum NodeRole { Unallocated, Dispatcher, DataPlane }

/// <summary>Administrative state of a node; liveness is derived from its last heartbeat.</summary>
internal enum NodeState { Active, Draining, Disabled }

internal enum ApiRole { Viewer, Operator, Admin }

/// <summary>The DVA's tunnel protection (DESIGN.md §2): plain, SEQ and TAG, or SEQ, TAG and an encrypted inner frame.</summary>
internal enum TunnelSecurity { Plain, Authenticated, Encrypted }

/// <summary>The tunnel AEAD: AES-256-GCM, or ChaCha20-Poly1305 where the CPUs lack AES instructions.</summary>
internal enum TunnelCipher { AesGcm, ChaCha20 }

internal enum ProvisioningStatus
{
    [JsonStringEnumMemberName("ACTIVE")] Active,
    [JsonStringEnumMemberName("PENDING_CREATE")] PendingCreate,
    [JsonStringEnumMemberName("PENDING_UPDATE")] PendingUpdate,
    [JsonStringEnumMemberName("PENDING_DELETE")] PendingDelete,
    [JsonStringEnumMemberName("ERROR")] Error,
}

internal enum OperatingStatus
{
    [JsonStringEnumMemberName("ONLINE")] Online,
    [JsonStringEnumMemberName("DEGRADED")] Degraded,
    [JsonStringEnumMemberName("OFFLINE")] Offline,
}
