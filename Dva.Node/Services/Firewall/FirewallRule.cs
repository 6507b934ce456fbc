using System.Net;
using System.Net.Sockets;

namespace Dva.Node.Services.Firewall;

/// <summary>What happens to a flow whose first packet a rule (or the default policy) decides.</summary>
internal enum FirewallAction : byte
{
    Accept = 0,
    Drop = 1,

    /// <summary>Drop and tell the sender: a TCP RST for TCP, ICMP/ICMPv6 administratively prohibited otherwise.</summary>
    Reject = 2,
}

/// <summary>What to do with a TCP packet that is not a SYN and belongs to no known flow (DESIGN.md §6, CLAIM).</summary>
internal enum MidStreamPolicy : byte
{
    /// <summary>Drop it and count <c>MidStreamNoState</c>.</summary>
    Strict = 0,

    /// <summary>Classify it as a new flow and track it as already established.</summary>
    Loose = 1,
}

/// <summary>An inclusive port range; a rule with a range only matches TCP, UDP and SCTP.</summary>
internal readonly record struct PortRange(ushort From, ushort To)
{
    public static PortRange Single(ushort port) => new(port, port);

    public bool Contains(ushort port) => port >= From && port <= To;

    public override string ToString() => From == To ? $"{From}" : $"{From}-{To}";
}

/// <summary>
/// One FORWARD/filter rule. A null field matches anything. Rules are evaluated by ascending
/// <see cref="Priority"/>, ties by ascending <see cref="Id"/>; the first match decides.
/// A rule whose source or destination is an IPv4 network never matches IPv6 traffic and vice versa.
/// </summary>
internal sealed record FirewallRule
{
    public required int Id { get; init; }
    public int Priority { get; init; }
    public FirewallAction Action { get; init; } = FirewallAction.Accept;
    public byte? Protocol { get; init; }
    public IPNetwork? Source { get; init; }
    public IPNetwork? Destination { get; init; }
    public PortRange? SourcePorts { get; init; }
    public PortRange? DestinationPorts { get; init; }
    public byte? IngressIfid { get; init; }

    /// <summary>Matches only flows whose first packet came in with this VLAN id (0: untagged), e.g. one sub-interface's.</summary>
    public ushort? IngressVlan { get; init; }

    /// <summary>Matches only ICMP (over IPv4) or ICMPv6 (over IPv6) packets of this type.</summary>
    public byte? IcmpType { get; init; }

    public bool Enabled { get; init; } = true;
    public string Description { get; init; } = "";

    /// <summary>The address family the rule is limited to by its networks, or null if it matches both.</summary>
    public AddressFamily? Family => Source?.BaseAddress.AddressFamily ?? Destination?.BaseAddress.AddressFamily;

    /// <summary>
    /// The plain meaning of the rule, field by field; the compiled <see cref="RuleSet"/> must agree with it.
    /// Not for the data path (it compares field by field); the tests use it as the reference.
    /// </summary>
    public bool Matches(in FlowTuple tuple)
    {
        return Enabled
            && (Protocol is not { } p || p == tuple.Protocol)
            && PrefixMatches(Source, tuple.Family, tuple.Source)
            && PrefixMatches(Destination, tuple.Family, tuple.Destination)
            && (SourcePorts is not { } sp || (tuple.HasPorts && sp.Contains(tuple.SourcePort)))
            && (DestinationPorts is not { } dp || (tuple.HasPorts && dp.Contains(tuple.DestinationPort)))
            && (IngressIfid is not { } ifid || ifid == tuple.IngressIfid)
            && (IngressVlan is not { } vlan || vlan == tuple.IngressVlan)
            && (IcmpType is not { } t || (tuple.IsIcmp && t == tuple.IcmpType));
    }

    private static bool PrefixMatches(IPNetwork? network, AddressFamily family, UInt128 address)
    {
        if (network is not { } n)
        {
            return true;
        }

        if (n.BaseAddress.AddressFamily != family)
        {
            return false;
        }

        (UInt128 low, UInt128 high) = PrefixRange.Of(n);
        return address >= low && address <= high;
    }
}

/// <summary>A firewall configuration: ordered rules, the default action and the mid-stream policy.</summary>
internal sealed record FirewallPolicy
{
    public IReadOnlyList<FirewallRule> Rules { get; init; } = [];
    public FirewallAction DefaultAction { get; init; } = FirewallAction.Drop;
    public MidStreamPolicy MidStream { get; init; } = MidStreamPolicy.Strict;

    /// <summary>Every problem with the policy, so a caller can report them all at once; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        var ids = new HashSet<int>();
        foreach (FirewallRule rule in Rules)
        {
            if (!ids.Add(rule.Id))
            {
                errors.Add($"rule {rule.Id}: duplicate id");
            }

            if (!Enum.IsDefined(rule.Action))
            {
                errors.Add($"rule {rule.Id}: unknown action {(int)rule.Action}");
            }

            if (rule.Source is { } s && rule.Destination is { } d
                && s.BaseAddress.AddressFamily != d.BaseAddress.AddressFamily)
            {
                errors.Add($"rule {rule.Id}: source {s} and destination {d} are of different address families");
            }

            ValidatePorts(rule, rule.SourcePorts, "source", errors);
            ValidatePorts(rule, rule.DestinationPorts, "destination", errors);

            if (rule.IngressVlan is > RuleSet.MaxVlan)
            {
                errors.Add($"rule {rule.Id}: VLAN {rule.IngressVlan} is not a VLAN id (0 untagged, 1..4094)");
            }

            if (rule.IcmpType is not null && rule.Protocol is { } p && p is not (IpProtocols.Icmp or IpProtocols.IcmpV6))
            {
                errors.Add($"rule {rule.Id}: ICMP type given for protocol {p}");
            }
        }

        if (!Enum.IsDefined(DefaultAction))
        {
            errors.Add($"default action: unknown action {(int)DefaultAction}");
        }

        return errors;
    }

    private static void ValidatePorts(FirewallRule rule, PortRange? range, string which, List<string> errors)
    {
        if (range is not { } r)
        {
            return;
        }

        if (r.From > r.To)
        {
            errors.Add($"rule {rule.Id}: {which} port range {r.From}-{r.To} is empty");
        }

        if (rule.Protocol is { } p && !IpProtocols.HasPorts(p))
        {
            errors.Add($"rule {rule.Id}: {which} ports given for protocol {p}, which has no ports");
        }
    }
}

/// <summary>The address interval a network covers, as big-endian numbers (IPv4 in the low 32 bits).</summary>
internal static class PrefixRange
{
    public static (UInt128 Low, UInt128 High) Of(IPNetwork network)
    {
        int width = AddressBits.Width(network.BaseAddress.AddressFamily);
        UInt128 low = AddressBits.ToUInt128(network.BaseAddress);
        int hostBits = width - network.PrefixLength;
        UInt128 hostMask = hostBits == 0 ? UInt128.Zero : (hostBits == 128 ? UInt128.MaxValue : (UInt128.One << hostBits) - 1);
        return (low, low | hostMask);
    }
}
