using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Serialization;
using Dva.Manager.Model;
using Dva.Shared.Contracts;

namespace Dva.Manager.Rollout;

/// <summary>
/// The node configuration the manager sends with an assignment: the document <c>dva-node run --config</c> reads
/// (Dva.Node/Config/NodeConfig.cs), without the table, which comes through the hub. Field names must stay in step
/// with that file.
/// </summary>
internal sealed record NodeConfigDocument(
    string Role,
    int NodeId,
    string Name,
    TunnelDocument Tunnel,
    IReadOnlyList<InterfaceDocument> Interfaces,
    IReadOnlyList<RouteDocument> Routes,
    FirewallDocument? Firewall = null,
    LoadBalancerDocument? LoadBalancer = null,
    int? Engines = null,
    bool? SuperFrames = null,
    bool? ParkPayloads = null,
    bool? Shortcuts = null)
{
    public const string Dispatcher = "dispatcher";
    public const string DataPlane = "dataplane";
    public const string Unallocated = "unallocated";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static string RoleName(NodeRole role) => role switch
    {
        NodeRole.Dispatcher => Dispatcher,
        NodeRole.DataPlane => DataPlane,
        _ => Unallocated,
    };

    /// <summary>
    /// The document for <paramref name="node"/>. A dispatcher gets the interfaces attached to it, with their frame
    /// source; a data plane gets every interface whose dispatcher is allocated, naming that dispatcher's node id,
    /// and the DVA's <paramref name="services"/> (firewall, load balancer). With super-frames, a dispatcher that holds
    /// every interface of the DVA parks payloads (docs/node.md "Parked payloads"): every EGRESS comes back to it, so the
    /// data planes need only the headers. A DVA with interfaces on several dispatchers sends super-frames whole. With the
    /// kernel shortcut every data plane offers it, and a dispatcher takes it only with an <c>afpacket:</c> interface: the
    /// node refuses <c>shortcuts</c> on a dispatcher without one, so such a dispatcher runs without it.
    /// </summary>
    public static NodeConfigDocument For(
        Node node, IReadOnlyList<SharedInterface> interfaces, IReadOnlyList<StaticRoute> routes, IReadOnlyDictionary<string, int> dispatcherIdsByName,
        Appliance? dva = null, NodeServices? services = null)
    {
        var isDispatcher = node.Role == NodeRole.Dispatcher;
        var superFrames = dva?.Offload.SuperFrames == true;
        var shortcuts = dva?.Shortcut.Enabled == true;
        var documents = new List<InterfaceDocument>();
        foreach (var i in interfaces.OrderBy(i => i.Ifid))
        {
            if (!dispatcherIdsByName.TryGetValue(i.AttachmentNodeName, out var dispatcher) || (isDispatcher && dispatcher != node.NodeId))
            {
                continue;
            }

            documents.Add(new InterfaceDocument(i.Ifid, i.Name, i.Mac, i.Addresses, isDispatcher ? Source(i.AttachmentFrameSource, superFrames) : null, dispatcher,
                isDispatcher && i.Trunk.Vlans.Count > 0 ? i.Trunk.Vlans : null, isDispatcher && i.Ipv6Router.RouterAdvertisements ? true : null,
                i.SubInterfaces.Count == 0 ? null : [.. i.SubInterfaces.OrderBy(v => v.Vlan).Select(v => new SubInterfaceDocument(v.Vlan, v.Addresses))],
                isDispatcher && i.Ipv6Router.RouterAdvertisements && i.HostConfiguration.Dhcpv6 != "none" ? i.HostConfiguration.Dhcpv6 : null,
                isDispatcher && i.Ipv6Router.RouterAdvertisements && i.HostConfiguration.DnsServers.Count > 0 ? i.HostConfiguration.DnsServers : null,
                isDispatcher && i.Ipv6Router.RouterAdvertisements && i.HostConfiguration.DnsSearch.Count > 0 ? i.HostConfiguration.DnsSearch : null));
        }

        var ifids = documents.Select(d => d.Ifid).ToHashSet();
        var holdsEveryInterface = isDispatcher && interfaces.Count > 0
            && interfaces.All(i => dispatcherIdsByName.TryGetValue(i.AttachmentNodeName, out var holder) && holder == node.NodeId);
        return new NodeConfigDocument(
            RoleName(node.Role), node.NodeId, node.Name, new TunnelDocument(node.TunnelEndpoint, TunnelSecurityDocument.For(dva)), documents,
            [.. routes.Where(r => ifids.Contains(r.Ifid)).OrderBy(r => r.Id).Select(r => new RouteDocument(r.Prefix, r.NextHop.Length == 0 ? null : r.NextHop, r.Ifid))],
            isDispatcher ? null : services?.Firewall,
            isDispatcher ? null : services?.LoadBalancer,
            // Each role its own engine count (docs/node.md "Engines"); 1 is the node's default and is left out.
            (isDispatcher ? dva?.Dispatcher.Engines : dva?.DataPlane.Engines) is > 1 and var engines ? engines : null,
            superFrames ? true : null,
            superFrames && holdsEveryInterface ? true : null,
            shortcuts && (!isDispatcher || documents.Any(d => IsAfPacket(d.Source))) ? true : null);
    }

    /// <summary>True for an <c>afpacket:</c> frame source (with or without options): the only kind the kernel shortcut forwards between.</summary>
    public static bool IsAfPacket([NotNullWhen(true)] string? source) => source is not null && source.StartsWith("afpacket:", StringComparison.Ordinal);

    /// <summary>
    /// The frame source a dispatcher opens for an attachment: with super-frames a plain <c>afpacket:IF</c> becomes
    /// <c>afpacket:IF?gso=1</c> (whole GSO/GRO frames in and out); an attachment with options or of another kind stays
    /// as the unit registered it.
    /// </summary>
    /// <summary>
    /// True when a dispatcher can send super-frames out through <paramref name="attachment"/>: <c>afpacket:IF</c> (opened
    /// with <c>?gso=1</c>) or <c>afpacket:IF?gso=1</c>, or none yet. Any other source would drop them
    /// (<c>SuperFrameNeedsGsoSource</c>).
    /// </summary>
    public static bool CarriesSuperFrames(string attachment) =>
        attachment.Length == 0
        || IsAfPacket(attachment)
        && (!attachment.Contains('?', StringComparison.Ordinal) || attachment.EndsWith("?gso=1", StringComparison.Ordinal));

    public static string? Source(string? attachment, bool superFrames) =>
        superFrames && IsAfPacket(attachment) && !attachment.Contains('?', StringComparison.Ordinal)
            ? attachment + "?gso=1"
            : attachment;
}

internal sealed record TunnelDocument(string Listen, TunnelSecurityDocument? Security = null);

/// <summary><c>tunnel.security</c> without keys: a managed unit gets its keys over the hub (<see cref="INodeClient.InstallKeys"/>).</summary>
internal sealed record TunnelSecurityDocument(string Mode, string Cipher)
{
    public static TunnelSecurityDocument? For(Appliance? dva) => dva is null || dva.Tunnel.Security == TunnelSecurity.Plain
        ? null
        : new TunnelSecurityDocument(
            dva.Tunnel.Security == TunnelSecurity.Encrypted ? "encrypted" : "authenticated",
            dva.Tunnel.Cipher == TunnelCipher.ChaCha20 ? "chacha20" : "aes-gcm");
}

/// <param name="Vlans">The trunk's VLANs (<see cref="Model.SharedInterfaceSpec.Vlans"/>); only the dispatcher asks on them, and
/// an interface without any has no member (null).</param>
/// <param name="RouterAdvertisements">The dispatcher advertises the interface as IPv6 router; null (absent) otherwise and on data planes.</param>
/// <param name="Dhcpv6">With router advertisements, on the dispatcher: other or managed; null for none.</param>
/// <param name="DnsServers">With router advertisements, on the dispatcher: the DNS servers they announce; null for none.</param>
/// <param name="DnsSearch">With router advertisements, on the dispatcher: the search domains they announce; null for none.</param>
/// <param name="SubInterfaces">The VLAN sub-interfaces, for every unit (data planes route into their subnets); null without any.</param>
internal sealed record InterfaceDocument(int Ifid, string Name, string Mac, IReadOnlyList<string> Addresses, string? Source, int Dispatcher, IReadOnlyList<int>? Vlans,
    bool? RouterAdvertisements = null, IReadOnlyList<SubInterfaceDocument>? SubInterfaces = null, string? Dhcpv6 = null, IReadOnlyList<string>? DnsServers = null,
    IReadOnlyList<string>? DnsSearch = null);

internal sealed record SubInterfaceDocument(int Vlan, IReadOnlyList<string> Addresses);

internal sealed record RouteDocument(string Prefix, string? NextHop, int Ifid);
