namespace Dva.Manager.Model;

internal sealed class FirewallRule : DvaChildEntity<FirewallRuleSpec>
{
    public int Priority { get; set; }

    public RuleAction Action { get; set; }

    public RuleProtocol Protocol { get; set; }

    public string Source { get; set; } = "";

    public string Destination { get; set; } = "";

    public string SourcePorts { get; set; } = "";

    public string DestinationPorts { get; set; } = "";

    public int? IngressIfid { get; set; }

    /// <summary>The VLAN match, in its own table (FirewallRuleVlans).</summary>
    public RuleVlanMatch Vlan { get; set; } = new();

    public int? IcmpType { get; set; }

    public bool Enabled { get; set; } = true;

    public string Description { get; set; } = "";

    public override FirewallRuleSpec ToSpec() => new()
    {
        Priority = Priority,
        Action = Action,
        Protocol = Protocol,
        Source = Source,
        Destination = Destination,
        SourcePorts = SourcePorts,
        DestinationPorts = DestinationPorts,
        IngressIfid = IngressIfid,
        IngressVlan = Vlan.IngressVlan,
        IcmpType = IcmpType,
        Enabled = Enabled,
        Description = Description,
    };

    public override void Apply(FirewallRuleSpec spec)
    {
        Priority = spec.Priority ?? Priority;
        Action = spec.Action;
        Protocol = spec.Protocol;
        Source = spec.Source;
        Destination = spec.Destination;
        SourcePorts = spec.SourcePorts;
        DestinationPorts = spec.DestinationPorts;
        IngressIfid = spec.IngressIfid;
        Vlan.IngressVlan = spec.IngressVlan;
        IcmpType = spec.IcmpType;
        Enabled = spec.Enabled;
        Description = spec.Description;
    }
}

internal sealed class RuleVlanMatch
{
    /// <summary>The VLAN id a flow's first packet must come in with (<see cref="FirewallRuleSpec.IngressVlan"/>); null = any.</summary>
    public int? IngressVlan { get; set; }
}
