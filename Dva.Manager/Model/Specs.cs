namespace Dva.Manager.Model;

// Specs are what a client writes (REST bodies, dashboard forms); entities add identity and bookkeeping.
// Strings default to "" and lists to empty so that a missing field is reported by validation, not by
// the JSON reader.

internal sealed record DvaSpec
{
    public const int DefaultBucketCount = 4096;
    public const int DefaultTunnelPort = 6090;

    public string Name { get; init; } = "";

    public string Description { get; init; } = "";

    public ServiceKind ServiceKind { get; init; } = ServiceKind.Firewall;

    /// <summary>Power of two, 256..65536.</summary>
    public int BucketCount { get; init; } = DefaultBucketCount;

    public int TunnelPort { get; init; } = DefaultTunnelPort;

    public bool SecureTunnel { get; init; }

    public FirewallPolicy FirewallDefaultPolicy { get; init; } = FirewallPolicy.Drop;

    public MidStreamPolicy MidStreamPolicy { get; init; } = MidStreamPolicy.Strict;

    public ScalingPolicy Scaling { get; init; } = new();
}

internal sealed record ScalingPolicy
{
    public int MinDataPlanes { get; init; } = 1;

    public int MaxDataPlanes { get; init; } = 8;

    /// <summary>Utilisation the elasticity controller aims every data plane at.</summary>
    public int TargetUtilizationPercent { get; init; } = 60;
}

internal sealed record SharedInterfaceSpec
{
    /// <summary>Interface id carried in the tunnel header, 1..255, unique in the DVA.</summary>
    public int Ifid { get; init; }

    public string Name { get; init; } = "";

    /// <summary>The shared MAC address, "02:00:5e:00:00:01".</summary>
    public string Mac { get; init; } = "";

    /// <summary>Shared addresses with prefix length, IPv4 or IPv6 ("192.0.2.1/24").</summary>
    public IReadOnlyList<string> Addresses { get; init; } = [];

    public InterfaceAttachment Attachment { get; init; } = new();
}

internal sealed record InterfaceAttachment
{
    /// <summary>Name of the dispatcher node that receives this interface's frames ("" = not attached yet).</summary>
    public string NodeName { get; init; } = "";

    /// <summary>Where that node takes frames from, e.g. "af_packet:eth1" or "tap:dva0".</summary>
    public string FrameSource { get; init; } = "";
}

internal sealed record StaticRouteSpec
{
    public string Prefix { get; init; } = "";

    /// <summary>Gateway address; "" for a directly connected prefix.</summary>
    public string NextHop { get; init; } = "";

    /// <summary>IFID of the shared interface the route leaves by.</summary>
    public int Ifid { get; init; }
}

internal sealed record FirewallRuleSpec
{
    /// <summary>Evaluation order, lowest first. On create, null appends after the last rule.</summary>
    public int? Priority { get; init; }

    public RuleAction Action { get; init; } = RuleAction.Accept;

    public RuleProtocol Protocol { get; init; } = RuleProtocol.Any;

    /// <summary>Source prefix, "" = any.</summary>
    public string Source { get; init; } = "";

    /// <summary>Destination prefix, "" = any.</summary>
    public string Destination { get; init; } = "";

    /// <summary>"80", "1024-65535" or "" = any; only with TCP, UDP or SCTP.</summary>
    public string SourcePorts { get; init; } = "";

    public string DestinationPorts { get; init; } = "";

    /// <summary>IFID the packet must arrive on; null = any.</summary>
    public int? IngressIfid { get; init; }

    /// <summary>ICMP type 0..255; only with ICMP or ICMPv6.</summary>
    public int? IcmpType { get; init; }

    public bool Enabled { get; init; } = true;

    public string Description { get; init; } = "";
}

/// <summary>Partial update of a firewall rule: null leaves a field as it is.</summary>
internal sealed record FirewallRulePatch
{
    public int? Priority { get; init; }

    public RuleAction? Action { get; init; }

    public RuleProtocol? Protocol { get; init; }

    public string? Source { get; init; }

    public string? Destination { get; init; }

    public string? SourcePorts { get; init; }

    public string? DestinationPorts { get; init; }

    public int? IngressIfid { get; init; }

    public int? IcmpType { get; init; }

    public bool? Enabled { get; init; }

    public string? Description { get; init; }

    public FirewallRuleSpec ApplyTo(FirewallRuleSpec spec) => spec with
    {
        Priority = Priority ?? spec.Priority,
        Action = Action ?? spec.Action,
        Protocol = Protocol ?? spec.Protocol,
        Source = Source ?? spec.Source,
        Destination = Destination ?? spec.Destination,
        SourcePorts = SourcePorts ?? spec.SourcePorts,
        DestinationPorts = DestinationPorts ?? spec.DestinationPorts,
        IngressIfid = IngressIfid ?? spec.IngressIfid,
        IcmpType = IcmpType ?? spec.IcmpType,
        Enabled = Enabled ?? spec.Enabled,
        Description = Description ?? spec.Description,
    };
}

internal sealed record VipSpec
{
    public string Name { get; init; } = "";

    public string Address { get; init; } = "";

    public int Port { get; init; }

    public VipProtocol Protocol { get; init; } = VipProtocol.Tcp;

    public long PoolId { get; init; }
}

internal sealed record PoolSpec
{
    public string Name { get; init; } = "";

    public BalancingMethod Method { get; init; } = BalancingMethod.RoundRobin;
}

internal sealed record MemberSpec
{
    public string Address { get; init; } = "";

    public int Port { get; init; }

    public int Weight { get; init; } = 1;

    public MemberAdminState AdminState { get; init; } = MemberAdminState.Enabled;
}

internal sealed record ScaleRequest
{
    public int DataPlanes { get; init; }
}

internal sealed record NodeAssignment
{
    public long DvaId { get; init; }

    public NodeRole Role { get; init; } = NodeRole.DataPlane;
}

internal sealed record ApiKeySpec
{
    public string Name { get; init; } = "";

    public ApiRole Role { get; init; } = ApiRole.Viewer;
}
