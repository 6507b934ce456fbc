using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using System.Text.Json;
using Dva.Node.Io;
using Dva.Node.Services.Firewall;
using Dva.Node.Services.LoadBalancer;
using Dva.Shared.Packets;
using Dva.Shared.Security;

namespace Dva.Node.Config;

internal enum NodeRole
{
    Dispatcher,
    DataPlane,
}

/// <summary>A shared interface as the node uses it: validated, typed.</summary>
internal sealed record SharedInterface(
    byte Ifid,
    string Name,
    PhysicalAddress Mac,
    IReadOnlyList<IPAddress> Addresses,
    IReadOnlyList<IPNetwork> Subnets,
    string? Source,
    ushort Dispatcher,
    IReadOnlyList<ushort>? Vlans = null)
{
    /// <summary>Most VLANs one interface may list: an unresolved neighbour costs one ARP request per VLAN.</summary>
    public const int MaxVlans = 64;

    /// <summary>The VLANs of the trunk besides untagged frames (none: an access link).</summary>
    public IReadOnlyList<ushort> Vlans { get; init; } = Vlans ?? [];

    /// <summary>The dispatcher sends IPv6 router advertisements for this interface's prefixes (<c>routerAdvertisements</c>).</summary>
    public bool RouterAdvertisements { get; init; }

    /// <summary>
    /// The VLAN of each of <see cref="Addresses"/> (same index): 0 for the interface's own addresses (answered on the
    /// untagged link and on every VLAN of the trunk), a VLAN id for a sub-interface's (answered on that VLAN only, and
    /// its subnet reached tagged with it). Empty means all 0.
    /// </summary>
    public IReadOnlyList<ushort> AddressVlans { get; init; } = [];

    /// <summary>What the router advertisements tell hosts besides the prefixes: DHCPv6 flags, DNS servers, search list.</summary>
    public HostConfiguration HostConfiguration { get; init; } = HostConfiguration.None;

    /// <summary>The VLAN of address <paramref name="index"/>: 0 unless it belongs to a sub-interface.</summary>
    public ushort VlanOf(int index) => index < AddressVlans.Count ? AddressVlans[index] : (ushort)0;
}

internal sealed record StaticRoute(IPNetwork Prefix, IPAddress? NextHop, byte Ifid);

internal sealed record Peer(ushort NodeId, IPEndPoint Endpoint, int Weight);

internal sealed record FlowTimeouts(
    TimeSpan TcpEstablished,
    TimeSpan TcpTransitory,
    TimeSpan TcpClosed,
    TimeSpan Udp,
    TimeSpan Icmp,
    TimeSpan Other)
{
    public static FlowTimeouts Default { get; } = From(new TimeoutConfig());

    public TimeSpan Longest => new[] { TcpEstablished, TcpTransitory, TcpClosed, Udp, Icmp, Other }.Max();

    public static FlowTimeouts From(TimeoutConfig c) => new(
        TimeSpan.FromSeconds(c.TcpEstablishedSeconds),
        TimeSpan.FromSeconds(c.TcpTransitorySeconds),
        TimeSpan.FromSeconds(c.TcpClosedSeconds),
        TimeSpan.FromSeconds(c.UdpSeconds),
        TimeSpan.FromSeconds(c.IcmpSeconds),
        TimeSpan.FromSeconds(c.OtherSeconds));
}

/// <summary>The initial table of a statically configured DVA: every node computes the same owners from it.</summary>
internal sealed record StaticTable(
    Guid DvaId,
    ulong Version,
    int BucketCount,
    ulong Seed,
    IReadOnlyList<Peer> DataPlanes,
    IReadOnlyList<Peer> Dispatchers);

/// <summary>
/// The load balancer's VIPs and, per backend-side interface (by IFID), the shared address new flows are SNATed to;
/// an interface without an entry uses its first shared address of the member's family.
/// </summary>
internal sealed record LoadBalancerSettings(IReadOnlyList<Vip> Vips, IReadOnlyDictionary<byte, IPAddress> SnatAddresses);

/// <summary>The validated node configuration.</summary>
internal sealed record NodeSettings(
    NodeRole Role,
    ushort NodeId,
    string Name,
    IPEndPoint TunnelListen,
    int TunnelMtu,
    IPEndPoint Control,
    IReadOnlyList<SharedInterface> Interfaces,
    IReadOnlyList<StaticRoute> Routes,
    StaticTable? Table,
    FlowTimeouts Timeouts)
{
    /// <summary>The firewall (FORWARD/filter); null: no firewall, every flow is accepted.</summary>
    public FirewallPolicy? Firewall { get; init; }

    /// <summary>The load balancer (PREROUTING/POSTROUTING nat); null: no VIPs.</summary>
    public LoadBalancerSettings? LoadBalancer { get; init; }

    /// <summary>Tunnel sends leave from per-flow source ports where the system allows it (tunnel.flowSourcePorts).</summary>
    public bool FlowSourcePorts { get; init; } = true;

    /// <summary>Secure mode of the tunnel; plain unless configured.</summary>
    public TunnelSecuritySettings Security { get; init; } = TunnelSecuritySettings.Plain;

    /// <summary>Engine threads (<c>engines</c>): a data plane's flows split by tunnel source port, a dispatcher's frames by PACKET_FANOUT.</summary>
    public int Engines { get; init; } = 1;

    /// <summary>GSO/GRO super-frames (<c>superFrames</c>): 64 KiB packet buffers, <c>afpacket:IF?gso=1</c> sources.</summary>
    public bool SuperFrames { get; init; }

    /// <summary>Dispatcher: TCP super-frames cross the DVA as headers only, their payloads parked here (<c>parkPayloads</c>).</summary>
    public bool ParkPayloads { get; init; }

    /// <summary>The kernel shortcut (<c>shortcuts</c>): a data plane offers it, a dispatcher takes it for its afpacket: interfaces.</summary>
    public bool Shortcuts { get; init; }

    /// <summary>Dispatcher: entries of the kernel's shortcut map (<c>shortcutCapacity</c>).</summary>
    public int ShortcutCapacity { get; init; } = DefaultShortcutCapacity;

    public const int DefaultShortcutCapacity = 65536;
    public const int MaxShortcutCapacity = 4 << 20;

    /// <summary>Reads and validates a configuration file; on failure <paramref name="errors"/> names every bad field.</summary>
    public static bool TryLoad(string path, out NodeSettings? settings, out IReadOnlyList<string> errors)
    {
        settings = null;
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            errors = [$"cannot read '{path}': {e.Message}"];
            return false;
        }

        return TryParse(text, out settings, out errors);
    }

    public static bool TryParse(string json, out NodeSettings? settings, out IReadOnlyList<string> errors)
    {
        settings = null;
        NodeConfig? config;
        try
        {
            config = JsonSerializer.Deserialize<NodeConfig>(json, NodeConfig.JsonOptions);
        }
        catch (JsonException e)
        {
            var where = e.Path is { Length: > 0 } p ? $" at {p}" : "";
            errors = [$"invalid JSON{where} (line {e.LineNumber + 1}): {FirstSentence(e.Message)}"];
            return false;
        }

        if (config is null)
        {
            errors = ["the configuration is empty (expected a JSON object)"];
            return false;
        }

        return NodeConfigValidator.TryValidate(config, out settings, out errors);
    }

    private static string FirstSentence(string message)
    {
        var dot = message.IndexOf(". ", StringComparison.Ordinal);
        return dot > 0 ? message[..(dot + 1)] : message;
    }
}

/// <summary>Collects every error of a <see cref="NodeConfig"/> before accepting it (YARP's ConfigValidator style).</summary>
internal static class NodeConfigValidator
{
    public static bool TryValidate(NodeConfig c, out NodeSettings? settings, out IReadOnlyList<string> errorList)
    {
        var errors = new List<string>();
        settings = null;

        NodeRole role = NodeRole.DataPlane;
        switch (c.Role?.ToLowerInvariant())
        {
            case "dispatcher": role = NodeRole.Dispatcher; break;
            case "dataplane" or "data-plane" or "data_plane": role = NodeRole.DataPlane; break;
            case null: errors.Add("role: required (dispatcher or dataplane)"); break;
            default: errors.Add($"role: '{c.Role}' is not a role (dispatcher or dataplane)"); break;
        }

        CheckNodeId(c.NodeId, "nodeId", errors);

        IPEndPoint? listen = null;
        if (c.Tunnel is null)
        {
            errors.Add("tunnel: required (tunnel.listen = ip:port)");
        }
        else
        {
            listen = ParseEndPoint(c.Tunnel.Listen, "tunnel.listen", errors);
            if (c.SuperFrames && c.Tunnel.Mtu is > 0 and < SuperFrameMinMtu)
            {
                errors.Add($"tunnel.mtu: {c.Tunnel.Mtu} is too small for superFrames (at least {SuperFrameMinMtu}; 0 means 65535 with superFrames, e.g. a tunnel over loopback)");
            }

            if (c.Tunnel.Mtu != 0 && (c.Tunnel.Mtu < 576 || c.Tunnel.Mtu > 65535))
            {
                errors.Add($"tunnel.mtu: {c.Tunnel.Mtu} is out of range (576..65535, or 0 for 1500)");
            }
        }

        var control = c.Control is null ? new IPEndPoint(IPAddress.Loopback, 0) : ParseEndPoint(c.Control, "control", errors);

        var interfaces = new List<SharedInterface>();
        var ifids = new HashSet<int>();
        for (var i = 0; i < c.Interfaces.Count; i++)
        {
            var x = c.Interfaces[i];
            var at = $"interfaces[{i}]";
            if (x.Ifid is < 1 or > 255)
            {
                errors.Add($"{at}.ifid: {x.Ifid} is out of range (1..255)");
            }
            else if (!ifids.Add(x.Ifid))
            {
                errors.Add($"{at}.ifid: {x.Ifid} is used by another interface");
            }

            PhysicalAddress? mac = null;
            if (string.IsNullOrWhiteSpace(x.Mac) || !PhysicalAddress.TryParse(x.Mac.Replace(':', '-'), out mac) || mac.GetAddressBytes().Length != 6)
            {
                errors.Add($"{at}.mac: '{x.Mac}' is not a MAC address (02:00:00:00:00:01)");
                mac = null;
            }
            else if ((mac.GetAddressBytes()[0] & 1) != 0)
            {
                errors.Add($"{at}.mac: '{x.Mac}' is a multicast address; a shared MAC must be unicast");
            }

            var addresses = new List<IPAddress>();
            var subnets = new List<IPNetwork>();
            var addressVlans = new List<ushort>();
            ParseAddresses(x.Addresses, $"{at}.addresses", 0, addresses, subnets, addressVlans, errors);

            if (role == NodeRole.Dispatcher && string.IsNullOrWhiteSpace(x.Source))
            {
                errors.Add($"{at}.source: required on a dispatcher (afpacket:IF, tap:NAME or udp:LOCAL=ip:port,PEER=ip:port)");
            }
            else if (x.Source is not null)
            {
                if (!Io.FrameSourceSpec.TryParse(x.Source, out var sourceSpec, out var sourceError))
                {
                    errors.Add($"{at}.source: {sourceError}");
                }
                else if (sourceSpec.Gso && !c.SuperFrames)
                {
                    errors.Add($"{at}.source: '{x.Source}' receives GSO super-frames of up to 64 KiB; set \"superFrames\": true on this node (and on its data planes)");
                }
            }

            if (x.Dispatcher != 0)
            {
                CheckNodeId(x.Dispatcher, $"{at}.dispatcher", errors);
            }
            else if (role == NodeRole.DataPlane)
            {
                errors.Add($"{at}.dispatcher: required on a data plane (node id of the interface's dispatcher)");
            }

            var vlans = new List<ushort>();
            if (x.Vlans.Count > SharedInterface.MaxVlans)
            {
                errors.Add($"{at}.vlans: {x.Vlans.Count} VLANs; at most {SharedInterface.MaxVlans}");
            }

            for (var v = 0; v < x.Vlans.Count; v++)
            {
                if (x.Vlans[v] is < 1 or > 4094)
                {
                    errors.Add($"{at}.vlans[{v}]: {x.Vlans[v]} is not a VLAN id (1..4094)");
                }
                else if (vlans.Contains((ushort)x.Vlans[v]))
                {
                    errors.Add($"{at}.vlans[{v}]: VLAN {x.Vlans[v]} is listed twice");
                }
                else
                {
                    vlans.Add((ushort)x.Vlans[v]);
                }
            }

            var subVlans = new HashSet<int>();
            for (var v = 0; v < x.SubInterfaces.Count; v++)
            {
                var sub = x.SubInterfaces[v];
                var subAt = $"{at}.subInterfaces[{v}]";
                if (sub.Vlan is < 1 or > 4094)
                {
                    errors.Add($"{subAt}.vlan: {sub.Vlan} is not a VLAN id (1..4094)");
                    continue;
                }

                if (!subVlans.Add(sub.Vlan))
                {
                    errors.Add($"{subAt}.vlan: VLAN {sub.Vlan} has another sub-interface; list all its addresses in one");
                    continue;
                }

                if (sub.Addresses.Count == 0)
                {
                    errors.Add($"{subAt}.addresses: a sub-interface needs at least one address (198.51.100.1/24)");
                }

                ParseAddresses(sub.Addresses, $"{subAt}.addresses", (ushort)sub.Vlan, addresses, subnets, addressVlans, errors);
                if (!vlans.Contains((ushort)sub.Vlan))
                {
                    // A sub-interface's VLAN is one of the trunk's (an unknown neighbour is looked for on it too).
                    vlans.Add((ushort)sub.Vlan);
                }
            }

            if (vlans.Count > SharedInterface.MaxVlans && x.Vlans.Count <= SharedInterface.MaxVlans)
            {
                errors.Add($"{at}.subInterfaces: with the sub-interfaces' VLANs the trunk has {vlans.Count} VLANs; at most {SharedInterface.MaxVlans}");
            }

            for (var a = 0; a < subnets.Count; a++)
            {
                for (var b = 0; b < a; b++)
                {
                    if (addressVlans[a] != addressVlans[b] && subnets[a].BaseAddress.AddressFamily == subnets[b].BaseAddress.AddressFamily
                        && (subnets[a].Contains(subnets[b].BaseAddress) || subnets[b].Contains(subnets[a].BaseAddress)))
                    {
                        errors.Add($"{at}: {subnets[a]} ({LinkName(addressVlans[a])}) overlaps {subnets[b]} ({LinkName(addressVlans[b])}); "
                            + "a subnet is on one link");
                    }
                }
            }

            if (x.RouterAdvertisements)
            {
                if (role != NodeRole.Dispatcher)
                {
                    errors.Add($"{at}.routerAdvertisements: a dispatcher's setting (the dispatcher faces the hosts)");
                }
                else if (!addresses.Any(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6))
                {
                    errors.Add($"{at}.routerAdvertisements: the interface has no IPv6 address, so there is no prefix to advertise");
                }
                else if (addresses.Select((a, n) => (Address: a, Vlan: addressVlans[n]))
                    .Where(p => p.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)
                    .GroupBy(p => p.Vlan).Any(g => g.Count() > RouterAdvertisement.MaxPrefixes))
                {
                    errors.Add($"{at}.routerAdvertisements: at most {RouterAdvertisement.MaxPrefixes} IPv6 prefixes fit one advertisement (per link)");
                }
            }

            var hostConfiguration = ParseHostConfiguration(x, at, errors);
            if (mac is not null)
            {
                interfaces.Add(new SharedInterface((byte)x.Ifid, x.Name ?? $"if{x.Ifid}", mac, addresses, subnets, x.Source,
                    (ushort)(x.Dispatcher == 0 ? c.NodeId : x.Dispatcher), vlans)
                {
                    RouterAdvertisements = x.RouterAdvertisements,
                    AddressVlans = addressVlans,
                    HostConfiguration = hostConfiguration,
                });
            }
        }

        if (c.Interfaces.Count == 0)
        {
            errors.Add("interfaces: at least one shared interface is required");
        }

        var routes = new List<StaticRoute>();
        for (var i = 0; i < c.Routes.Count; i++)
        {
            var r = c.Routes[i];
            var at = $"routes[{i}]";
            if (r.Prefix is null || !IPNetwork.TryParse(r.Prefix, out var prefix))
            {
                errors.Add($"{at}.prefix: '{r.Prefix}' is not a prefix (0.0.0.0/0, 2001:db8::/32)");
                continue;
            }

            IPAddress? nextHop = null;
            if (r.NextHop is not null && !IPAddress.TryParse(r.NextHop, out nextHop))
            {
                errors.Add($"{at}.nextHop: '{r.NextHop}' is not an address");
            }

            if (!ifids.Contains(r.Ifid))
            {
                errors.Add($"{at}.ifid: {r.Ifid} names no configured interface");
            }

            routes.Add(new StaticRoute(prefix, nextHop, (byte)r.Ifid));
        }

        StaticTable? table = null;
        if (c.Table is { } t)
        {
            table = ValidateTable(t, errors);
        }

        var timeouts = c.Timeouts is null ? FlowTimeouts.Default : FlowTimeouts.From(c.Timeouts);
        if (c.Timeouts is { } to && new[] { to.TcpEstablishedSeconds, to.TcpTransitorySeconds, to.TcpClosedSeconds, to.UdpSeconds, to.IcmpSeconds, to.OtherSeconds }.Any(s => s <= 0))
        {
            errors.Add("timeouts: every timeout must be a positive number of seconds");
        }

        var security = c.Tunnel?.Security is { } sec ? TunnelSecuritySettings.Validate(sec, errors) : TunnelSecuritySettings.Plain;
        var firewall = c.Firewall is null ? null : ServiceConfigValidator.Firewall(c.Firewall, errors);
        var loadBalancer = c.LoadBalancer is null ? null : ServiceConfigValidator.LoadBalancer(c.LoadBalancer, ifids, errors);

        CheckEngines(c, role, security, errors);
        if (c.SuperFrames && security.Mode != TunnelSecurityMode.Plain)
        {
            errors.Add("superFrames: implemented for a plain tunnel only (a sealed super-frame is not supported yet)");
        }

        if (c.ParkPayloads)
        {
            if (role != NodeRole.Dispatcher)
            {
                errors.Add("parkPayloads: a dispatcher's setting (a data plane takes parked super-frames without it)");
            }
            else if (!c.SuperFrames)
            {
                errors.Add("parkPayloads: needs \"superFrames\": true (only TCP super-frames are parked)");
            }
        }

        CheckShortcuts(c, role, interfaces, errors);
        errorList = errors;
        if (errors.Count > 0)
        {
            return false;
        }

        settings = new NodeSettings(role, (ushort)c.NodeId, c.Name ?? $"node-{c.NodeId}", listen!, c.Tunnel!.Mtu != 0 ? c.Tunnel.Mtu : c.SuperFrames ? 65535 : 1500,
            control!, interfaces, routes, table, timeouts)
        {
            Firewall = firewall,
            LoadBalancer = loadBalancer,
            FlowSourcePorts = c.Tunnel.FlowSourcePorts,
            Security = security,
            Engines = c.Engines,
            SuperFrames = c.SuperFrames,
            ParkPayloads = c.ParkPayloads,
            Shortcuts = c.Shortcuts,
            ShortcutCapacity = c.ShortcutCapacity ?? NodeSettings.DefaultShortcutCapacity,
        };
        return true;
    }

    private static void CheckShortcuts(NodeConfig c, NodeRole role, List<SharedInterface> interfaces, List<string> errors)
    {
        if (c.ShortcutCapacity is { } capacity)
        {
            if (role != NodeRole.Dispatcher || !c.Shortcuts)
            {
                errors.Add("shortcutCapacity: a dispatcher's setting, with \"shortcuts\": true");
            }
            else if (capacity is < 1 or > NodeSettings.MaxShortcutCapacity)
            {
                errors.Add($"shortcutCapacity: {capacity} is out of range (1..{NodeSettings.MaxShortcutCapacity})");
            }
        }

        if (c.Shortcuts && role == NodeRole.Dispatcher
            && !interfaces.Any(i => i.Source is { } source && FrameSourceSpec.TryParse(source, out var spec, out _) && spec.Kind == FrameSourceKind.AfPacket))
        {
            errors.Add("shortcuts: the kernel forwards shortcut flows between afpacket: interfaces, and this dispatcher has none");
        }
    }

    private const int MaxEngines = 64;

    /// <summary>Smallest tunnel MTU that makes super-frames worth carrying (a 16 KiB datagram); below it, leave them off.</summary>
    private const int SuperFrameMinMtu = 16384;

    private static void CheckEngines(NodeConfig c, NodeRole role, TunnelSecuritySettings security, List<string> errors)
    {
        if (c.Engines is < 1 or > MaxEngines)
        {
            errors.Add($"engines: {c.Engines} is out of range (1..{MaxEngines})");
            return;
        }

        if (c.Engines == 1)
        {
            return;
        }

        // A flow reaches one engine only because every sender sends it from its hash's port (DESIGN.md §2).
        if (c.Tunnel is { FlowSourcePorts: false })
        {
            errors.Add("engines: more than one engine needs tunnel.flowSourcePorts (a flow's datagrams are steered to an engine by their source port)");
        }

        // One replay window and one SEQ counter per node; split over engines they would need locks or accept replays.
        if (security.Mode != TunnelSecurityMode.Plain)
        {
            errors.Add("engines: more than one engine is implemented for a plain tunnel only");
        }

        // A dispatcher's engines share each interface's frames through PACKET_FANOUT (AF_PACKET sockets) or one receive
        // queue each (AF_XDP sockets); a TAP device or a UDP wire has neither.
        if (role == NodeRole.Dispatcher)
        {
            foreach (var shared in c.Interfaces)
            {
                if (shared.Source is { } source && FrameSourceSpec.TryParse(source, out var spec, out _) && spec.Kind is not (FrameSourceKind.AfPacket or FrameSourceKind.AfXdp))
                {
                    errors.Add($"engines: interface {shared.Ifid}: a dispatcher on more than one engine needs afpacket: sources (PACKET_FANOUT shares an interface's frames among the engines) or afxdp: sources (one receive queue per engine), not '{source}'");
                }
            }
        }
    }

    private static StaticTable? ValidateTable(TableConfig t, List<string> errors)
    {
        var ok = true;
        if (t.BucketCount is < 256 or > 65536 || (t.BucketCount & (t.BucketCount - 1)) != 0)
        {
            errors.Add($"table.bucketCount: {t.BucketCount} must be a power of two from 256 to 65536");
            ok = false;
        }

        ulong seed = 0;
        if (t.Seed is null
            || !(t.Seed.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
                ? ulong.TryParse(t.Seed.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out seed)
                : ulong.TryParse(t.Seed, NumberStyles.None, CultureInfo.InvariantCulture, out seed)))
        {
            errors.Add($"table.seed: '{t.Seed}' is not a 64-bit number (decimal or 0x hex)");
            ok = false;
        }

        if (t.Version == 0)
        {
            errors.Add("table.version: must be 1 or more");
            ok = false;
        }

        var seen = new HashSet<int>();
        var dataPlanes = Peers(t.DataPlanes, "table.dataPlanes", seen, errors, ref ok);
        var dispatchers = Peers(t.Dispatchers, "table.dispatchers", seen, errors, ref ok);
        if (t.DataPlanes.Count == 0)
        {
            errors.Add("table.dataPlanes: at least one data plane is required");
            ok = false;
        }

        return ok ? new StaticTable(t.DvaId, t.Version, t.BucketCount, seed, dataPlanes, dispatchers) : null;
    }

    private static List<Peer> Peers(List<PeerConfig> list, string at, HashSet<int> seen, List<string> errors, ref bool ok)
    {
        var peers = new List<Peer>();
        for (var i = 0; i < list.Count; i++)
        {
            var p = list[i];
            var before = errors.Count;
            CheckNodeId(p.NodeId, $"{at}[{i}].nodeId", errors);
            if (p.NodeId is >= 1 and <= 4094 && !seen.Add(p.NodeId))
            {
                errors.Add($"{at}[{i}].nodeId: {p.NodeId} appears twice in the table");
            }

            var ep = ParseEndPoint(p.Endpoint, $"{at}[{i}].endpoint", errors);
            if (p.Weight is < 1 or > 1_000_000)
            {
                errors.Add($"{at}[{i}].weight: {p.Weight} is out of range (1..1000000)");
            }

            if (errors.Count > before || ep is null)
            {
                ok = false;
                continue;
            }

            peers.Add(new Peer((ushort)p.NodeId, ep, p.Weight));
        }

        return peers;
    }

    private static void CheckNodeId(int id, string at, List<string> errors)
    {
        if (id is < 1 or > 4094)
        {
            errors.Add($"{at}: {id} is out of range (node ids are 1..4094)");
        }
    }

    private static IPEndPoint? ParseEndPoint(string? text, string at, List<string> errors)
    {
        if (text is null || !IPEndPoint.TryParse(text, out var ep) || ep.Port == 0 && !text.EndsWith(":0", StringComparison.Ordinal))
        {
            errors.Add($"{at}: '{text}' is not an endpoint (ip:port, [v6]:port)");
            return null;
        }

        return ep;
    }

    /// <summary>Parses <c>192.0.2.1/24</c> addresses into the interface's lists, each on link <paramref name="vlan"/> (0 untagged).</summary>
    private static void ParseAddresses(List<string> texts, string at, ushort vlan, List<IPAddress> addresses, List<IPNetwork> subnets,
        List<ushort> addressVlans, List<string> errors)
    {
        for (var a = 0; a < texts.Count; a++)
        {
            var text = texts[a];
            var slash = text?.IndexOf('/', StringComparison.Ordinal) ?? -1;
            if (text is null || slash < 0 || !IPAddress.TryParse(text.AsSpan(0, slash), out var addr)
                || !int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var len)
                || len > (addr.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128))
            {
                errors.Add($"{at}[{a}]: '{text}' is not an address with prefix length (192.0.2.1/24)");
                continue;
            }

            if (addresses.Contains(addr))
            {
                errors.Add($"{at}[{a}]: {addr} is already an address of this interface");
                continue;
            }

            addresses.Add(addr);
            subnets.Add(new IPNetwork(Mask(addr, len), len));
            addressVlans.Add(vlan);
        }
    }

    /// <summary>The DHCPv6 flags, DNS servers and search list an interface's router advertisements carry.</summary>
    private static HostConfiguration ParseHostConfiguration(InterfaceConfig x, string at, List<string> errors)
    {
        var mode = Dhcpv6Mode.None;
        switch (x.Dhcpv6?.ToLowerInvariant())
        {
            case null or "none": break;
            case "other": mode = Dhcpv6Mode.Other; break;
            case "managed": mode = Dhcpv6Mode.Managed; break;
            default: errors.Add($"{at}.dhcpv6: '{x.Dhcpv6}' is not one of none, other, managed"); break;
        }

        var servers = new List<UInt128>();
        for (var i = 0; i < x.DnsServers.Count; i++)
        {
            if (!IPAddress.TryParse(x.DnsServers[i] ?? "", out var server) || server.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
            {
                errors.Add($"{at}.dnsServers[{i}]: '{x.DnsServers[i]}' is not an IPv6 address (router advertisements carry IPv6 DNS servers only)");
            }
            else
            {
                servers.Add(IpAddr.From(server).Value);
            }
        }

        if (x.DnsServers.Count > RouterAdvertisement.MaxDnsServers)
        {
            errors.Add($"{at}.dnsServers: {x.DnsServers.Count} servers; at most {RouterAdvertisement.MaxDnsServers}");
        }

        if (!RouterAdvertisement.TryEncodeSearchList(x.DnsSearch, out var searchList, out var why))
        {
            errors.Add($"{at}.dnsSearch: {why}");
        }

        if (!x.RouterAdvertisements && (mode != Dhcpv6Mode.None || x.DnsServers.Count > 0 || x.DnsSearch.Count > 0))
        {
            errors.Add($"{at}: dhcpv6, dnsServers and dnsSearch are sent in router advertisements; set \"routerAdvertisements\": true");
        }

        return mode == Dhcpv6Mode.None && servers.Count == 0 && searchList.Length == 0 ? HostConfiguration.None : new HostConfiguration(mode, servers, searchList);
    }

    private static string LinkName(ushort vlan) => vlan == 0 ? "untagged" : $"VLAN {vlan}";

    private static IPAddress Mask(IPAddress address, int prefixLength)
    {
        var bytes = address.GetAddressBytes();
        for (var i = 0; i < bytes.Length; i++)
        {
            var bits = Math.Clamp(prefixLength - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - bits));
        }

        return new IPAddress(bytes);
    }
}
