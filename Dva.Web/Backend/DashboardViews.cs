namespace Dva.Web.Backend;

// What the pages show. Enum values travel as the REST API's names ("dataPlane", "PENDING_UPDATE"), so the
// dashboard and the API speak the same words.

public sealed record DashboardUser(string Name, string KeyId, string Role)
{
    public bool CanChange => Role is DashboardRoles.Operator or DashboardRoles.Admin;
}

public sealed record StatusView(string Provisioning, string Operating, IReadOnlyList<string> Conditions);

public sealed record DvaSummary(
    long Id, string Name, string ServiceKind, int BucketCount, int DesiredDataPlanes, int Dispatchers, int DataPlanes,
    StatusView Status, ulong? TableVersion);

public sealed record DvaDetail(
    DvaSummary Summary,
    string Description,
    string Seed,
    int TunnelPort,
    bool SecureTunnel,
    string FirewallDefaultPolicy,
    int MinDataPlanes,
    int MaxDataPlanes,
    long Version,
    long Generation,
    long ObservedGeneration,
    IReadOnlyList<InterfaceView> Interfaces,
    IReadOnlyList<UnitView> Units,
    IReadOnlyList<ServiceView> Services,
    int DataPlaneEngines = 1,
    int DispatcherEngines = 1,
    bool SuperFrames = false,
    bool Shortcuts = false);

/// <param name="Version">The interface's ETag for a change.</param>
/// <param name="Vlans">The trunk's VLANs besides untagged (none: an access link).</param>
/// <param name="RouterAdvertisements">The dispatcher sends IPv6 router advertisements on the interface.</param>
/// <param name="SubInterfaces">VLAN sub-interfaces with their own addresses.</param>
/// <param name="Dhcpv6">What the advertisements' M and O flags say: none, other or managed.</param>
/// <param name="DnsServers">DNS servers the advertisements announce.</param>
/// <param name="DnsSearch">Search domains the advertisements announce.</param>
public sealed record InterfaceView(
    long Id, int Ifid, string Name, string Mac, IReadOnlyList<string> Addresses, string AttachedTo, StatusView Status, string FrameSource, long Version,
    IReadOnlyList<int>? Vlans = null, bool RouterAdvertisements = false, IReadOnlyList<SubInterfaceView>? SubInterfaces = null,
    string Dhcpv6 = "none", IReadOnlyList<string>? DnsServers = null, IReadOnlyList<string>? DnsSearch = null)
{
    /// <summary>The view as an edit form starts from.</summary>
    public InterfaceForm ToForm() => new()
    {
        Ifid = Ifid, Name = Name, Mac = Mac, Addresses = string.Join(", ", Addresses), AttachedTo = AttachedTo, FrameSource = FrameSource,
        Vlans = string.Join(", ", Vlans ?? []), RouterAdvertisements = RouterAdvertisements,
        SubInterfaces = string.Join("; ", (SubInterfaces ?? []).Select(v => v.ToString())),
        Dhcpv6 = Dhcpv6, DnsServers = string.Join(", ", DnsServers ?? []), DnsSearch = string.Join(", ", DnsSearch ?? []),
    };
}

/// <summary>A VLAN of the trunk with addresses of its own; written <c>20=203.0.113.1/24 2001:db8:20::1/64</c>.</summary>
public sealed record SubInterfaceView(int Vlan, IReadOnlyList<string> Addresses)
{
    public override string ToString() => $"{Vlan}={string.Join(' ', Addresses)}";
}

/// <summary>A compute unit (node) of a DVA.</summary>
/// <param name="NodeKey">The manager's id of the node (the hub's node key).</param>
/// <param name="NodeId">The 12-bit node id inside the DVA (what tables and flows name).</param>
public sealed record UnitView(
    long NodeKey, string Name, string Role, int NodeId, string TunnelEndpoint, string State, StatusView Status,
    DateTimeOffset? LastHeartbeat, double MeasuredCapacity, int Weight, long Version);

/// <summary>A VIP, pool or other configured service, for the status tree.</summary>
public sealed record ServiceView(string Kind, string Name, string Detail, StatusView Status);

public enum UnitAction { Drain, Enable, Remove }

public sealed record DvaCreateRequest
{
    public string Name { get; set; } = "";

    public string Description { get; set; } = "";

    /// <summary>Firewall, LoadBalancer or FirewallAndLoadBalancer.</summary>
    public string ServiceKind { get; set; } = "Firewall";

    public int BucketCount { get; set; } = 4096;

    /// <summary>Data planes to start with; also the scaling minimum.</summary>
    public int InitialDataPlanes { get; set; } = 2;

    public int MaxDataPlanes { get; set; } = 8;

    /// <summary>Engine threads per data plane unit (docs/node.md "Engines").</summary>
    public int DataPlaneEngines { get; set; } = 1;

    /// <summary>Engine threads per dispatcher unit.</summary>
    public int DispatcherEngines { get; set; } = 1;

    /// <summary>GSO/GRO super-frames end to end (docs/node.md "Super-frames").</summary>
    public bool SuperFrames { get; set; }

    /// <summary>The kernel shortcut for established flows (docs/node.md "Kernel shortcut").</summary>
    public bool Shortcuts { get; set; }

    public List<InterfaceForm> Interfaces { get; set; } = [];
}

public sealed record InterfaceForm
{
    public int Ifid { get; set; } = 1;

    public string Name { get; set; } = "";

    public string Mac { get; set; } = "";

    /// <summary>Addresses with prefix length, separated by commas or spaces.</summary>
    public string Addresses { get; set; } = "";

    /// <summary>The unit that faces the network on this interface (it becomes a dispatcher); empty for none yet.</summary>
    public string AttachedTo { get; set; } = "";

    /// <summary>Where that unit reads frames, e.g. an AF_PACKET device or a <c>udp:</c> wire; empty for its default.</summary>
    public string FrameSource { get; set; } = "";

    /// <summary>The trunk's 802.1Q VLAN ids besides untagged, separated by commas or spaces; empty for an access link.</summary>
    public string Vlans { get; set; } = "";

    /// <summary>The dispatcher advertises itself as the link's IPv6 router (needs an IPv6 address).</summary>
    public bool RouterAdvertisements { get; set; }

    /// <summary>VLAN sub-interfaces, <c>VLAN=addresses</c> separated by semicolons or lines: <c>20=203.0.113.1/24; 30=192.0.2.129/25</c>.</summary>
    public string SubInterfaces { get; set; } = "";

    /// <summary>none, other or managed: what the advertisements' M and O flags tell hosts to ask DHCPv6 for.</summary>
    public string Dhcpv6 { get; set; } = "none";

    /// <summary>IPv6 DNS servers the advertisements announce, separated by commas or spaces.</summary>
    public string DnsServers { get; set; } = "";

    /// <summary>DNS search domains the advertisements announce, separated by commas or spaces.</summary>
    public string DnsSearch { get; set; } = "";
}

/// <summary>The outcome of a change: success, or a message and the API's field errors (JSON paths).</summary>
public sealed record ChangeResult(bool Succeeded, string? Message, IReadOnlyDictionary<string, string[]> Errors, long? CreatedId = null)
{
    private static readonly Dictionary<string, string[]> NoErrors = [];

    public static ChangeResult Ok(long? createdId = null) => new(true, null, NoErrors, createdId);

    public static ChangeResult Failed(string message, IReadOnlyDictionary<string, string[]>? errors = null) =>
        new(false, message, errors ?? NoErrors);

    /// <summary>The errors of one field, joined for display; null when it has none.</summary>
    public string? ErrorFor(string field) =>
        Errors.TryGetValue(field, out var messages) && messages.Length > 0 ? string.Join(" ", messages) : null;
}

public sealed record FirewallRuleList(long DvaId, IReadOnlyList<FirewallRuleView> Rules, long Version, string DefaultPolicy);

public sealed record FirewallRuleView(long Id, int Priority, FirewallRuleForm Spec, StatusView Status, long Version);

public sealed record FirewallRuleForm
{
    /// <summary>accept, drop or reject.</summary>
    public string Action { get; set; } = "accept";

    /// <summary>any, tcp, udp, sctp, icmp or icmpV6.</summary>
    public string Protocol { get; set; } = "any";

    public string Source { get; set; } = "";

    public string Destination { get; set; } = "";

    public string SourcePorts { get; set; } = "";

    public string DestinationPorts { get; set; } = "";

    public int? IngressIfid { get; set; }

    /// <summary>The VLAN a flow must come in with: 0 untagged, 1..4094; empty for any.</summary>
    public int? IngressVlan { get; set; }

    public int? IcmpType { get; set; }

    public bool Enabled { get; set; } = true;

    public string Description { get; set; } = "";
}

public sealed record RuleHits(long Packets, long Bytes);

/// <summary>A member's flows as the data planes report them: live now, ever assigned, and bytes both ways.</summary>
public sealed record MemberLive(long ActiveFlows, long TotalConnections, long Bytes)
{
    /// <summary>The member's endpoint as data planes name it: <c>address:port</c>, IPv6 in brackets.</summary>
    public static string Key(string address, int port) =>
        address.Contains(':', StringComparison.Ordinal) ? $"[{address}]:{port}" : $"{address}:{port}";
}

public sealed record LoadBalancerView(IReadOnlyList<VipView> Vips, IReadOnlyList<PoolView> Pools);

public sealed record VipView(long Id, string Name, string Address, int Port, string Protocol, long PoolId, string PoolName, StatusView Status);

/// <param name="Version">The pool's version: the ETag of a change to its members.</param>
public sealed record PoolView(long Id, string Name, string Method, IReadOnlyList<MemberRow> Members, StatusView Status, long Version);

public sealed record MemberRow(long Id, string Address, int Port, int Weight, string AdminState, string Health, StatusView Status, long Version);

public sealed record AuditRow(long Id, string Actor, DateTimeOffset Time, string Operation, string TargetType, long? TargetId, long? DvaId, string? Before, string? After);

public sealed record AuditPage(IReadOnlyList<AuditRow> Items, int Page, int PageSize, int Total)
{
    public int Pages => Math.Max(1, (Total + PageSize - 1) / PageSize);
}

/// <param name="Stored">Whether the manager's table history holds this version.</param>
/// <param name="MovedBuckets">Null when this manager did not roll the version out itself (known from history only).</param>
public sealed record EraView(
    ulong Version, int Era, string Cause, int? MovedBuckets, TimeSpan? RolloutDuration, DateTimeOffset At, DateTimeOffset? RolledOut, bool Stored);

/// <summary>A unit's latest heartbeat, as the nodes table shows it.</summary>
/// <param name="Shortcut">What a dispatcher's kernel shortcut carries; null for a unit whose kernel never carried a flow.</param>
public sealed record UnitLive(
    long NodeKey, DateTimeOffset At, double PpsIn, double PpsOut, double CpuBusy, double PacketsPerBusySecond,
    long FlowsActive, ulong TableVersion, long Punts, IReadOnlyDictionary<string, long> Drops, ShortcutLive? Shortcut);

/// <summary>
/// A dispatcher's kernel shortcut (docs/node.md, "Kernel shortcut"): traffic its kernel forwards itself, which the
/// unit's own pps in and out leave out.
/// </summary>
/// <param name="Entries">Live entries of the shortcut map: one per flow direction the kernel carries.</param>
public sealed record ShortcutLive(double FramesPerSecond, double BitsPerSecond, long Entries);

/// <param name="ShortcutPps">Frames per second the unit's kernel shortcut forwarded; 0 for units without it.</param>
public sealed record ChartPoint(DateTimeOffset At, double PpsIn, double PpsOut, double CpuBusy, double ShortcutPps);

public sealed record FlowRow(
    DateTimeOffset At, string Protocol, string Source, string Destination, int Bucket, int NodeId, string State,
    string Verdict, string? Rule, string? Backend, long Packets, long Bytes);

public sealed record StaticRouteRow(long Id, string Prefix, string NextHop, int Ifid, StatusView Status, long Version);

public sealed record RouteForm
{
    public string Prefix { get; set; } = "";

    /// <summary>Gateway; empty for a directly connected prefix.</summary>
    public string NextHop { get; set; } = "";

    public int Ifid { get; set; } = 1;
}

public sealed record VipForm
{
    public string Name { get; set; } = "";

    public string Address { get; set; } = "";

    public int Port { get; set; } = 443;

    /// <summary>tcp or udp.</summary>
    public string Protocol { get; set; } = "tcp";

    public long PoolId { get; set; }
}

public sealed record PoolForm
{
    public string Name { get; set; } = "";

    /// <summary>roundRobin, weightedRoundRobin, leastConnections or sourceHash.</summary>
    public string Method { get; set; } = "weightedRoundRobin";
}

public sealed record MemberForm
{
    public string Address { get; set; } = "";

    public int Port { get; set; } = 8443;

    public int Weight { get; set; } = 1;
}

public sealed record ApiKeyRow(long Id, string KeyId, string Name, string Role, DateTimeOffset Created);

public sealed record ApiKeyForm
{
    public string Name { get; set; } = "";

    /// <summary>viewer, operator or admin.</summary>
    public string Role { get; set; } = DashboardRoles.Viewer;
}

/// <summary>The outcome of creating a key: the secret is in it this once and never again.</summary>
public sealed record CreatedKey(ChangeResult Result, ApiKeyRow? Key, string? Secret);
