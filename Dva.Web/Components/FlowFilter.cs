using System.Globalization;
using Dva.Web.Backend;

namespace Dva.Web.Components;

/// <summary>What the live flow list shows: every set field must match (empty = any).</summary>
internal sealed record FlowFilter
{
    /// <summary>Matches either endpoint's address: a whole address, or a prefix of one ("192.0.2.").</summary>
    public string Address { get; set; } = "";

    /// <summary>Matches either endpoint's port.</summary>
    public string Port { get; set; } = "";

    /// <summary>Node id of the unit that reported the flow.</summary>
    public string Unit { get; set; } = "";

    /// <summary>accept, drop, … (case does not matter).</summary>
    public string Verdict { get; set; } = "";

    public bool Matches(FlowRow flow)
    {
        ArgumentNullException.ThrowIfNull(flow);
        var (sourceHost, sourcePort) = Split(flow.Source);
        var (destinationHost, destinationPort) = Split(flow.Destination);
        var address = Address.Trim();
        if (address.Length > 0
            && !sourceHost.StartsWith(address, StringComparison.OrdinalIgnoreCase)
            && !destinationHost.StartsWith(address, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var port = Port.Trim();
        if (port.Length > 0 && port != sourcePort && port != destinationPort)
        {
            return false;
        }

        var unit = Unit.Trim().TrimStart('#');
        if (unit.Length > 0 && unit != flow.NodeId.ToString(CultureInfo.InvariantCulture))
        {
            return false;
        }

        var verdict = Verdict.Trim();
        return verdict.Length == 0 || string.Equals(verdict, flow.Verdict, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>"192.0.2.1:80" → ("192.0.2.1", "80"); "[2001:db8::1]:443" → ("2001:db8::1", "443"); a bare address has no port.</summary>
    public static (string Host, string Port) Split(string endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        if (endpoint.StartsWith('['))
        {
            var close = endpoint.IndexOf(']', StringComparison.Ordinal);
            return close < 0 ? (endpoint, "")
                : (endpoint[1..close], close + 2 <= endpoint.Length && endpoint.Length > close + 1 && endpoint[close + 1] == ':' ? endpoint[(close + 2)..] : "");
        }

        var colon = endpoint.LastIndexOf(':');
        // More than one colon without brackets is a bare IPv6 address.
        return colon < 0 || endpoint.IndexOf(':', StringComparison.Ordinal) != colon ? (endpoint, "") : (endpoint[..colon], endpoint[(colon + 1)..]);
    }
}
