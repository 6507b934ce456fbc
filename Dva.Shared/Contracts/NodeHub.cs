namespace Dva.Shared.Contracts;

/// <summary>
/// The node hub (SignalR) between the manager and node agents. Node → manager calls are the hub's methods
/// (<see cref="INodeHubServer"/>); manager → node calls go through the strongly typed client
/// (<see cref="INodeClient"/>). Tables travel as <see cref="Tables.TableCodec"/> bytes, never as JSON arrays.
/// </summary>
public static class NodeHubPaths
{
    /// <summary>Path of the hub on the manager.</summary>
    public const string Hub = "/hubs/nodes";

    /// <summary>Header (or query parameter <c>enrollment</c>) that carries the enrollment token.</summary>
    public const string EnrollmentHeader = "X-Dva-Enrollment";
}

/// <summary>What the manager can ask of a node agent.</summary>
public interface INodeClient
{
    /// <summary>Gives the node its role, node id and configuration in a DVA (or takes them away: <see cref="NodeAssignment.Role"/> = "unallocated").</summary>
    Task Assign(NodeAssignment assignment);

    /// <summary>Installs a table version; the node answers with <see cref="INodeHubServer.AckTable"/>.</summary>
    Task InstallTable(TableUpdate update);

    /// <summary>The rollout of <paramref name="version"/> committed: data planes may drop the previous table.</summary>
    Task Commit(Guid dvaId, ulong version);

    /// <summary>
    /// One step of tunnel key delivery or rotation (install a key in a phase, switch the send phase, retire a phase);
    /// the node answers with <see cref="INodeHubServer.AckKeys"/>. The key bytes travel only here, over the
    /// authenticated hub connection.
    /// </summary>
    Task InstallKeys(KeyUpdate update);
}

/// <summary>What a node agent calls on the manager.</summary>
public interface INodeHubServer
{
    Task<NodeWelcome> Register(NodeHello hello);

    Task AckTable(TableAck ack);

    Task Heartbeat(NodeHeartbeat heartbeat);

    Task AckKeys(KeyAck ack);
}

/// <summary>A node agent introducing itself (first connection or reconnection).</summary>
/// <param name="Name">Unique name of the compute unit (host name by default).</param>
/// <param name="TunnelEndpoint">Where the node's tunnel socket listens, <c>ip:port</c>.</param>
/// <param name="FrameSources">Frame sources this unit can attach (afpacket:IF, tap:NAME, udp:…), for dispatcher placement.</param>
/// <param name="Cores">CPU cores the unit offers.</param>
/// <param name="NodeKey">The manager's id for this unit from an earlier registration, so a reconnecting agent keeps its identity.</param>
/// <param name="CurrentTableVersion">The table version the agent still forwards with (0 = none).</param>
public sealed record NodeHello(
    string Name,
    string TunnelEndpoint,
    IReadOnlyList<string> FrameSources,
    int Cores,
    string AgentVersion,
    long? NodeKey,
    ulong CurrentTableVersion);

public sealed record NodeWelcome(long NodeKey, string Message);

/// <summary>A node's place in a DVA.</summary>
/// <param name="Role"><c>dispatcher</c>, <c>dataplane</c> or <c>unallocated</c>.</param>
/// <param name="ConfigJson">The node configuration document (the same format as <c>dva-node run --config</c>).</param>
public sealed record NodeAssignment(long DvaKey, Guid DvaId, ushort NodeId, string Role, string ConfigJson);

/// <summary>One table version for one node.</summary>
/// <param name="Encoded">The <see cref="Tables.TableCodec"/> encoding.</param>
public sealed record TableUpdate(Guid DvaId, ulong Version, byte[] Encoded);

public sealed record TableAck(Guid DvaId, ulong Version, ushort NodeId, bool Installed, string? Error);

/// <summary>Sent by every node about once a second.</summary>
/// <param name="Rules">Firewall rule counters of a data plane (cumulative); null from dispatchers and from agents older than the field.</param>
/// <param name="Vips">Load balancer counters per VIP and member (cumulative, active flows live); null like <paramref name="Rules"/>.</param>
/// <param name="RoleError">
/// Why the unit does not run the role of its latest assignment (the configuration did not parse, or the role could not
/// start, e.g. a frame source that does not open); null while the role runs, and from agents older than the field.
/// </param>
public sealed record NodeHeartbeat(
    long NodeKey,
    Guid DvaId,
    ushort NodeId,
    ulong TableVersion,
    NodeStats Stats,
    IReadOnlyList<BucketFlowCount> BucketFlows,
    IReadOnlyList<FlowSample> RecentFlows,
    IReadOnlyList<RuleHitCount>? Rules = null,
    IReadOnlyList<VipCounters>? Vips = null,
    string? RoleError = null);

/// <summary>
/// One firewall rule's counters at one data plane. Evaluations: first packets the rule decided; Flows: flows created
/// under it; Packets/Bytes: every packet of those flows, first and later, both directions.
/// </summary>
/// <param name="RuleId">The rule's id as configured, or -1 for the default policy (<paramref name="IsDefault"/>).</param>
public sealed record RuleHitCount(long RuleId, bool IsDefault, long Evaluations, long Flows, long Packets, long Bytes);

/// <summary>A VIP's counters at one data plane: live flows, flows ever assigned, bytes of its flows (both directions).</summary>
/// <param name="Address">The VIP as <c>address:port/protocol</c> (IPv6 in brackets), e.g. <c>192.0.2.1:80/tcp</c>.</param>
public sealed record VipCounters(string Address, long ActiveFlows, long TotalConnections, long Bytes, IReadOnlyList<MemberCounters> Members);

/// <summary>A pool member's counters under one VIP at one data plane.</summary>
/// <param name="Address">The member as <c>address:port</c> (IPv6 in brackets).</param>
public sealed record MemberCounters(string Address, long ActiveFlows, long TotalConnections, long Bytes);

/// <summary>Cumulative counters since the agent started, plus the measured capacity.</summary>
/// <param name="CpuBusy">Share of one engine thread's time spent processing packets over the last interval, 0..1.</param>
/// <param name="PacketsPerBusySecond">Measured capacity: packets processed per busy CPU-second.</param>
public sealed record NodeStats(
    long FramesIn,
    long FramesOut,
    long BytesIn,
    long BytesOut,
    long PacketsProcessed,
    double CpuBusy,
    double PacketsPerBusySecond,
    long FlowsActive,
    long FlowsCreated,
    long FlowsExpired,
    IReadOnlyDictionary<string, long> Tunnel,
    IReadOnlyDictionary<string, long> Drops);

/// <summary>Live flows of a bucket at a node (only non-zero buckets are sent).</summary>
public sealed record BucketFlowCount(int Bucket, int Flows);

/// <summary>One flow as the dashboard shows it (a bounded sample of recent flows, not every flow).</summary>
public sealed record FlowSample(
    string Protocol,
    string Source,
    string Destination,
    int Bucket,
    ushort NodeId,
    string State,
    string Verdict,
    string? Rule,
    string? Backend,
    long Packets,
    long Bytes);

/// <summary>
/// One step of a DVA's tunnel keys for one node (docs/protocol.md, "Keys and rotation"). Applied in order: install
/// <see cref="Key"/> (if any) in its phase, then make <see cref="SendPhase"/> the send phase (if set; its key must be
/// installed), then forget <see cref="RetirePhase"/> (if set; never the send phase).
/// </summary>
/// <param name="Sequence">Increases with every update the manager sends for the DVA; the ack echoes it.</param>
public sealed record KeyUpdate(Guid DvaId, long Sequence, TunnelKeyMaterial? Key, int? SendPhase, int? RetirePhase);

/// <summary>A tunnel key for a phase: the only message that carries key bytes. Its ToString never shows them.</summary>
/// <param name="Phase">FLAGS.K, 0 or 1.</param>
/// <param name="KeyId">Names the key in acks, counters and the audit log.</param>
/// <param name="Cipher"><c>aes-gcm</c> or <c>chacha20</c>.</param>
/// <param name="Material">32 bytes from the manager's CSPRNG.</param>
public sealed record TunnelKeyMaterial(int Phase, uint KeyId, string Cipher, byte[] Material)
{
    /// <summary>Id, phase and cipher: the material never reaches a log.</summary>
    public override string ToString() => $"key {KeyId:x8} ({Cipher}) phase {Phase}";
}

/// <summary>A node's answer to a <see cref="KeyUpdate"/>: what it holds now (key ids, never key bytes).</summary>
public sealed record KeyAck(Guid DvaId, long Sequence, ushort NodeId, bool Applied, string? Error, int SendPhase, uint Phase0KeyId, uint Phase1KeyId);
