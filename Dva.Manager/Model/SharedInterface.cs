namespace Dva.Manager.Model;

internal sealed class SharedInterface : DvaChildEntity<SharedInterfaceSpec>
{
    public int Ifid { get; set; }

    public string Name { get; set; } = "";

    public string Mac { get; set; } = "";

    public List<string> Addresses { get; set; } = [];

    /// <summary>The trunk's VLANs, in its own table (SharedInterfaceTrunks), as the DVA's offload settings are.</summary>
    public InterfaceTrunk Trunk { get; set; } = new();

    /// <summary>How the dispatcher acts as the link's IPv6 router, in its own table (SharedInterfaceIpv6Routers).</summary>
    public InterfaceIpv6Router Ipv6Router { get; set; } = new();

    /// <summary>DHCPv6 flags and DNS the advertisements carry, in its own table (SharedInterfaceHostConfigurations).</summary>
    public InterfaceHostConfiguration HostConfiguration { get; set; } = new();

    /// <summary>VLAN sub-interfaces with their own addresses, in their own table (SharedInterfaceSubInterfaces).</summary>
    public List<SubInterface> SubInterfaces { get; set; } = [];

    public string AttachmentNodeName { get; set; } = "";

    public string AttachmentFrameSource { get; set; } = "";

    public override SharedInterfaceSpec ToSpec() => new()
    {
        Ifid = Ifid,
        Name = Name,
        Mac = Mac,
        Addresses = [.. Addresses],
        Vlans = [.. Trunk.Vlans],
        SubInterfaces = [.. SubInterfaces.OrderBy(v => v.Vlan).Select(v => new SubInterfaceSpec { Vlan = v.Vlan, Addresses = [.. v.Addresses] })],
        RouterAdvertisements = Ipv6Router.RouterAdvertisements,
        Dhcpv6 = HostConfiguration.Dhcpv6,
        DnsServers = [.. HostConfiguration.DnsServers],
        DnsSearch = [.. HostConfiguration.DnsSearch],
        Attachment = new InterfaceAttachment { NodeName = AttachmentNodeName, FrameSource = AttachmentFrameSource },
    };

    public override void Apply(SharedInterfaceSpec spec)
    {
        Ifid = spec.Ifid;
        Name = spec.Name;
        Mac = spec.Mac.ToLowerInvariant();
        Addresses = [.. spec.Addresses];
        Trunk.Vlans = [.. spec.Vlans];
        // Kept rows are updated in place: EF tracks an owned row by its key (interface, VLAN), and a new object with a
        // tracked key would clash with the old one.
        SubInterfaces.RemoveAll(v => !spec.SubInterfaces.Any(w => w.Vlan == v.Vlan));
        foreach (var wanted in spec.SubInterfaces)
        {
            var row = SubInterfaces.Find(v => v.Vlan == wanted.Vlan);
            if (row is null)
            {
                SubInterfaces.Add(row = new SubInterface { Vlan = wanted.Vlan });
            }

            row.Addresses = [.. wanted.Addresses];
        }
        Ipv6Router.RouterAdvertisements = spec.RouterAdvertisements;
        HostConfiguration.Dhcpv6 = (spec.Dhcpv6 ?? "none").ToLowerInvariant();
        HostConfiguration.DnsServers = [.. spec.DnsServers];
        HostConfiguration.DnsSearch = [.. spec.DnsSearch];
        AttachmentNodeName = spec.Attachment.NodeName;
        AttachmentFrameSource = spec.Attachment.FrameSource;
    }
}

internal sealed class InterfaceIpv6Router
{
    /// <summary>The dispatcher sends IPv6 router advertisements on the interface (<see cref="SharedInterfaceSpec.RouterAdvertisements"/>).</summary>
    public bool RouterAdvertisements { get; set; }
}

/// <summary>What the advertisements tell hosts besides the prefixes, in its own table (SharedInterfaceHostConfigurations).</summary>
internal sealed class InterfaceHostConfiguration
{
    /// <summary>none, other or managed (<see cref="SharedInterfaceSpec.Dhcpv6"/>).</summary>
    public string Dhcpv6 { get; set; } = "none";

    public List<string> DnsServers { get; set; } = [];

    public List<string> DnsSearch { get; set; } = [];
}

internal sealed class SubInterface
{
    /// <summary>The VLAN id (<see cref="SubInterfaceSpec.Vlan"/>).</summary>
    public int Vlan { get; set; }

    public List<string> Addresses { get; set; } = [];
}

internal sealed class InterfaceTrunk
{
    /// <summary>802.1Q VLAN ids besides untagged (<see cref="SharedInterfaceSpec.Vlans"/>).</summary>
    public List<int> Vlans { get; set; } = [];
}
