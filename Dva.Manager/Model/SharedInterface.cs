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

    public string AttachmentNodeName { get; set; } = "";

    public string AttachmentFrameSource { get; set; } = "";

    public override SharedInterfaceSpec ToSpec() => new()
    {
        Ifid = Ifid,
        Name = Name,
        Mac = Mac,
        Addresses = [.. Addresses],
        Vlans = [.. Trunk.Vlans],
        RouterAdvertisements = Ipv6Router.RouterAdvertisements,
        Attachment = new InterfaceAttachment { NodeName = AttachmentNodeName, FrameSource = AttachmentFrameSource },
    };

    public override void Apply(SharedInterfaceSpec spec)
    {
        Ifid = spec.Ifid;
        Name = spec.Name;
        Mac = spec.Mac.ToLowerInvariant();
        Addresses = [.. spec.Addresses];
        Trunk.Vlans = [.. spec.Vlans];
        Ipv6Router.RouterAdvertisements = spec.RouterAdvertisements;
        AttachmentNodeName = spec.Attachment.NodeName;
        AttachmentFrameSource = spec.Attachment.FrameSource;
    }
}

internal sealed class InterfaceIpv6Router
{
    /// <summary>The dispatcher sends IPv6 router advertisements on the interface (<see cref="SharedInterfaceSpec.RouterAdvertisements"/>).</summary>
    public bool RouterAdvertisements { get; set; }
}

internal sealed class InterfaceTrunk
{
    /// <summary>802.1Q VLAN ids besides untagged (<see cref="SharedInterfaceSpec.Vlans"/>).</summary>
    public List<int> Vlans { get; set; } = [];
}
