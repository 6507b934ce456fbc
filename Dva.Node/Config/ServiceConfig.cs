using System.Globalization;
using System.Net;
using Dva.Node.Services;
using Dva.Node.Services.Firewall;
using Dva.Node.Services.LoadBalancer;

namespace Dva.Node.Config;

/// <summary>The <c>firewall</c> section of the node configuration (docs/services.md).</summary>
internal sealed record FirewallConfig
{
    /// <summary><c>accept</c>, <c>drop</c> or <c>reject</c>: what a flow no rule matches gets.</summary>
    public string? DefaultAction { get; init; }

    /// <summary><c>strict</c> or <c>loose</c>: a TCP packet that is not a SYN and belongs to no flow (DESIGN.md §6).</summary>
    public string? MidStream { get; init; }

    public List<RuleConfig> Rules { get; init; } = [];
}

/// <summary>One firewall rule; an absent field matches anything.</summary>
internal sealed record RuleConfig
{
    public int Id { get; init; }

    /// <summary>Lower first; ties by id.</summary>
    public int Priority { get; init; }

    /// <summary><c>accept</c>, <c>drop</c> or <c>reject</c>.</summary>
    public string? Action { get; init; }

    /// <summary><c>tcp</c>, <c>udp</c>, <c>sctp</c>, <c>icmp</c>, <c>icmpv6</c> or a protocol number.</summary>
    public string? Protocol { get; init; }

    /// <summary>A network, <c>192.0.2.0/24</c>.</summary>
    public string? Source { get; init; }

    public string? Destination { get; init; }

    /// <summary><c>80</c> or <c>1024-65535</c>.</summary>
    public string? SourcePorts { get; init; }

    public string? DestinationPorts { get; init; }

    /// <summary>The shared interface the flow's first packet came in on.</summary>
    public int? Ifid { get; init; }

    /// <summary>The VLAN id the flow's first packet came in tagged with: 0 untagged, 1..4094 (a sub-interface's, say).</summary>
    public int? Vlan { get; init; }

    public int? IcmpType { get; init; }

    public bool Enabled { get; init; } = true;

    public string? Description { get; init; }
}

/// <summary>The <c>loadBalancer</c> section of the node configuration.</summary>
internal sealed record LoadBalancerSection
{
    public List<VipConfig> Vips { get; init; } = [];

    /// <summary>The SNAT source address per backend-side interface; absent: the interface's first shared address.</summary>
    public List<SnatConfig> Snat { get; init; } = [];
}

internal sealed record VipConfig
{
    public string? Address { get; init; }

    public int Port { get; init; }

    /// <summary><c>tcp</c> (default), <c>udp</c> or <c>sctp</c>.</summary>
    public string? Protocol { get; init; }

    /// <summary><c>roundRobin</c> (default), <c>weightedRoundRobin</c>, <c>leastConnections</c>, <c>sourceHash</c>.</summary>
    public string? Method { get; init; }

    public string? Pool { get; init; }

    public List<MemberConfig> Members { get; init; } = [];
}

internal sealed record MemberConfig
{
    public string? Address { get; init; }

    public int Port { get; init; }

    public int Weight { get; init; } = 1;

    /// <summary><c>enabled</c> (default), <c>draining</c> or <c>disabled</c>.</summary>
    public string? State { get; init; }
}

internal sealed record SnatConfig
{
    public int Ifid { get; init; }

    public string? Address { get; init; }
}

/// <summary>Validates the service sections field by field, adding every error to the node's list.</summary>
internal static class ServiceConfigValidator
{
    public static FirewallPolicy? Firewall(FirewallConfig c, List<string> errors)
    {
        var before = errors.Count;
        var defaultAction = Action(c.DefaultAction ?? "drop", "firewall.defaultAction", errors);
        var midStream = MidStreamPolicy.Strict;
        switch (c.MidStream?.ToLowerInvariant())
        {
            case null or "strict": break;
            case "loose": midStream = MidStreamPolicy.Loose; break;
            default: errors.Add($"firewall.midStream: '{c.MidStream}' is not a policy (strict or loose)"); break;
        }

        var rules = new List<FirewallRule>();
        for (var i = 0; i < c.Rules.Count; i++)
        {
            var r = c.Rules[i];
            var at = $"firewall.rules[{i}]";
            var action = Action(r.Action ?? "accept", $"{at}.action", errors);
            var protocol = r.Protocol is null ? (byte?)null : Protocol(r.Protocol, $"{at}.protocol", errors);
            var source = Network(r.Source, $"{at}.source", errors);
            var destination = Network(r.Destination, $"{at}.destination", errors);
            var sourcePorts = Ports(r.SourcePorts, $"{at}.sourcePorts", errors);
            var destinationPorts = Ports(r.DestinationPorts, $"{at}.destinationPorts", errors);
            if (r.Ifid is { } ifid and (< 1 or > 255))
            {
                errors.Add($"{at}.ifid: {ifid} is out of range (1..255)");
            }

            if (r.Vlan is { } vlan and (< 0 or > 4094))
            {
                errors.Add($"{at}.vlan: {vlan} is not a VLAN id (0 untagged, 1..4094)");
            }

            if (r.IcmpType is { } type and (< 0 or > 255))
            {
                errors.Add($"{at}.icmpType: {type} is out of range (0..255)");
            }

            rules.Add(new FirewallRule
            {
                Id = r.Id,
                Priority = r.Priority,
                Action = action,
                Protocol = protocol,
                Source = source,
                Destination = destination,
                SourcePorts = sourcePorts,
                DestinationPorts = destinationPorts,
                IngressIfid = r.Ifid is { } f ? (byte)f : null,
                IngressVlan = r.Vlan is { } v and >= 0 and <= 4094 ? (ushort)v : null,
                IcmpType = r.IcmpType is { } t ? (byte)t : null,
                Enabled = r.Enabled,
                Description = r.Description ?? "",
            });
        }

        var policy = new FirewallPolicy { Rules = rules, DefaultAction = defaultAction, MidStream = midStream };
        if (errors.Count == before)
        {
            // The policy's own checks (duplicate ids, families, ports on port-less protocols) name the rule by id.
            errors.AddRange(policy.Validate().Select(e => $"firewall: {e}"));
        }

        return errors.Count == before ? policy : null;
    }

    public static LoadBalancerSettings? LoadBalancer(LoadBalancerSection c, HashSet<int> ifids, List<string> errors)
    {
        var before = errors.Count;
        var vips = new List<Vip>();
        for (var i = 0; i < c.Vips.Count; i++)
        {
            var v = c.Vips[i];
            var at = $"loadBalancer.vips[{i}]";
            var address = Address(v.Address, $"{at}.address", errors);
            var port = Port(v.Port, $"{at}.port", errors);
            var protocol = Protocol(v.Protocol ?? "tcp", $"{at}.protocol", errors);
            if (!IpProtocols.HasPorts(protocol))
            {
                errors.Add($"{at}.protocol: '{v.Protocol}' has no ports (tcp, udp or sctp)");
            }

            var method = LbMethod.RoundRobin;
            switch (v.Method?.ToLowerInvariant())
            {
                case null or "roundrobin" or "round-robin": break;
                case "weightedroundrobin" or "weighted-round-robin": method = LbMethod.WeightedRoundRobin; break;
                case "leastconnections" or "least-connections": method = LbMethod.LeastConnections; break;
                case "sourcehash" or "source-hash": method = LbMethod.SourceHash; break;
                default: errors.Add($"{at}.method: '{v.Method}' is not a method (roundRobin, weightedRoundRobin, leastConnections, sourceHash)"); break;
            }

            var members = new List<Member>();
            for (var m = 0; m < v.Members.Count; m++)
            {
                var x = v.Members[m];
                var mat = $"{at}.members[{m}]";
                var memberAddress = Address(x.Address, $"{mat}.address", errors);
                var memberPort = Port(x.Port, $"{mat}.port", errors);
                if (x.Weight is < 1 or > 1_000_000)
                {
                    errors.Add($"{mat}.weight: {x.Weight} is out of range (1..1000000; disable a member instead of weight 0)");
                }

                var state = MemberAdminState.Enabled;
                switch (x.State?.ToLowerInvariant())
                {
                    case null or "enabled": break;
                    case "draining": state = MemberAdminState.Draining; break;
                    case "disabled": state = MemberAdminState.Disabled; break;
                    default: errors.Add($"{mat}.state: '{x.State}' is not a state (enabled, draining, disabled)"); break;
                }

                if (memberAddress is not null)
                {
                    members.Add(new Member { Address = memberAddress, Port = memberPort, Weight = x.Weight, AdminState = state });
                }
            }

            if (address is not null)
            {
                vips.Add(new Vip { Address = address, Port = port, Protocol = protocol, Pool = new Pool { Name = v.Pool ?? $"pool-{i}", Method = method, Members = members } });
            }
        }

        if (errors.Count == before)
        {
            errors.AddRange(LoadBalancerConfig.Validate(vips).Select(e => $"loadBalancer: {e}"));
        }

        var snat = new Dictionary<byte, IPAddress>();
        for (var i = 0; i < c.Snat.Count; i++)
        {
            var s = c.Snat[i];
            var at = $"loadBalancer.snat[{i}]";
            if (!ifids.Contains(s.Ifid))
            {
                errors.Add($"{at}.ifid: {s.Ifid} names no configured interface");
            }
            else if (snat.ContainsKey((byte)s.Ifid))
            {
                errors.Add($"{at}.ifid: {s.Ifid} has a SNAT address already");
            }

            if (Address(s.Address, $"{at}.address", errors) is { } a && s.Ifid is >= 1 and <= 255)
            {
                snat[(byte)s.Ifid] = a;
            }
        }

        return errors.Count == before ? new LoadBalancerSettings(vips, snat) : null;
    }

    private static FirewallAction Action(string text, string at, List<string> errors)
    {
        switch (text.ToLowerInvariant())
        {
            case "accept": return FirewallAction.Accept;
            case "drop": return FirewallAction.Drop;
            case "reject": return FirewallAction.Reject;
            default:
                errors.Add($"{at}: '{text}' is not an action (accept, drop or reject)");
                return FirewallAction.Drop;
        }
    }

    private static byte Protocol(string text, string at, List<string> errors)
    {
        switch (text.ToLowerInvariant())
        {
            case "tcp": return IpProtocols.Tcp;
            case "udp": return IpProtocols.Udp;
            case "sctp": return IpProtocols.Sctp;
            case "icmp": return IpProtocols.Icmp;
            case "icmpv6": return IpProtocols.IcmpV6;
        }

        if (byte.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var number))
        {
            return number;
        }

        errors.Add($"{at}: '{text}' is not a protocol (tcp, udp, sctp, icmp, icmpv6 or 0..255)");
        return 0;
    }

    private static IPNetwork? Network(string? text, string at, List<string> errors)
    {
        if (text is null)
        {
            return null;
        }

        if (IPNetwork.TryParse(text, out var network))
        {
            // A rule on 192.0.2.1/24 is a typo more often than a meaning: ask for the network itself.
            var slash = text.IndexOf('/', StringComparison.Ordinal);
            if (slash > 0 && IPAddress.TryParse(text.AsSpan(0, slash), out var written) && written.Equals(network.BaseAddress))
            {
                return network;
            }
        }

        errors.Add($"{at}: '{text}' is not a network with its host bits clear (192.0.2.0/24, 2001:db8::/32)");
        return null;
    }

    private static PortRange? Ports(string? text, string at, List<string> errors)
    {
        if (text is null)
        {
            return null;
        }

        var dash = text.IndexOf('-', StringComparison.Ordinal);
        var fromText = dash < 0 ? text : text[..dash];
        var toText = dash < 0 ? text : text[(dash + 1)..];
        if (ushort.TryParse(fromText, NumberStyles.None, CultureInfo.InvariantCulture, out var from)
            && ushort.TryParse(toText, NumberStyles.None, CultureInfo.InvariantCulture, out var to) && from <= to)
        {
            return new PortRange(from, to);
        }

        errors.Add($"{at}: '{text}' is not a port or range (80, 1024-65535)");
        return null;
    }

    private static IPAddress? Address(string? text, string at, List<string> errors)
    {
        if (text is not null && IPAddress.TryParse(text, out var address))
        {
            return address;
        }

        errors.Add($"{at}: '{text}' is not an address");
        return null;
    }

    private static ushort Port(int port, string at, List<string> errors)
    {
        if (port is < 1 or > 65535)
        {
            errors.Add($"{at}: {port} is out of range (1..65535)");
            return 0;
        }

        return (ushort)port;
    }
}
