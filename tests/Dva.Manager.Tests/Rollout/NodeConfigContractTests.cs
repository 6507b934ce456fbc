extern alias node;

using Dva.Manager.Model;
using Dva.Manager.Rollout;
using NodeSettings = node::Dva.Node.Config.NodeSettings;

namespace Dva.Manager.Tests.Rollout;

/// <summary>
/// The configuration the manager sends a unit is read by the node's own parser (<c>dva-node run --config</c>), field by
/// field: a misspelt or mistyped member would be ignored or refused there, and the unit would not run as the DVA says.
/// </summary>
public class NodeConfigContractTests
{
    private static readonly Dictionary<string, int> Dispatchers = new() { ["disp-1"] = 100 };

    [Fact]
    public void DispatcherDocument_WithEveryInterfaceOption_ParsedByTheNodeAsMeant()
    {
        var document = NodeConfigDocument.For(Unit("disp-1", NodeRole.Dispatcher, 100), [Outside()], [], Dispatchers, SuperFramesAndShortcuts());

        Assert.True(NodeSettings.TryParse(document.ToJson(), out var settings, out var errors), string.Join("; ", errors));

        Assert.True(settings!.SuperFrames);
        Assert.True(settings.ParkPayloads);
        Assert.True(settings.Shortcuts);
        var shared = Assert.Single(settings.Interfaces);
        Assert.Equal("afpacket:eth1?gso=1", shared.Source);
        Assert.Equal([20, 30], shared.Vlans);
        Assert.True(shared.RouterAdvertisements);
        Assert.Equal(Dva.Shared.Packets.Dhcpv6Mode.Other, shared.HostConfiguration.Dhcpv6);
        Assert.Single(shared.HostConfiguration.DnsServers);
        Assert.NotEmpty(shared.HostConfiguration.SearchList);
        Assert.Equal(["192.0.2.1", "2001:db8:1::1", "203.0.113.1"], shared.Addresses.Select(a => a.ToString()));
        Assert.Equal(30, shared.VlanOf(2));
    }

    [Fact]
    public void DataPlaneDocument_ParsedByTheNode_WithoutTheDispatchersOptions_WithTheSubInterfaces()
    {
        var document = NodeConfigDocument.For(Unit("dp-a", NodeRole.DataPlane, 1), [Outside()], [], Dispatchers, SuperFramesAndShortcuts());

        Assert.True(NodeSettings.TryParse(document.ToJson(), out var settings, out var errors), string.Join("; ", errors));

        Assert.True(settings!.SuperFrames);
        Assert.False(settings.ParkPayloads);
        Assert.True(settings.Shortcuts);
        var shared = Assert.Single(settings.Interfaces);
        Assert.Equal(100, shared.Dispatcher);
        Assert.False(shared.RouterAdvertisements);
        Assert.Equal(Dva.Shared.Packets.Dhcpv6Mode.None, shared.HostConfiguration.Dhcpv6);
        Assert.Equal("203.0.113.1", shared.Addresses[2].ToString());
        Assert.Equal(30, shared.VlanOf(2));
    }

    /// <summary>
    /// The node refuses <c>shortcuts</c> on a dispatcher without an <c>afpacket:</c> interface, so a dispatcher whose
    /// interfaces are <c>udp:</c> wires gets a document without it, which the node takes; its data planes still get it.
    /// </summary>
    [Fact]
    public void DispatcherDocument_ShortcutsWithoutAnAfPacketInterface_LeftOutSoTheNodeTakesIt()
    {
        var wire = Outside();
        wire.AttachmentFrameSource = "udp:LOCAL=127.0.0.1:7001,PEER=127.0.0.1:7002";
        var dva = new Appliance();
        dva.Shortcut.Enabled = true;

        var document = NodeConfigDocument.For(Unit("disp-1", NodeRole.Dispatcher, 100), [wire], [], Dispatchers, dva);

        Assert.Null(document.Shortcuts);
        Assert.True(NodeSettings.TryParse(document.ToJson(), out var settings, out var errors), string.Join("; ", errors));
        Assert.False(settings!.Shortcuts);
        Assert.False(NodeSettings.TryParse((document with { Shortcuts = true }).ToJson(), out _, out errors));
        Assert.Contains(errors, e => e.StartsWith("shortcuts:", StringComparison.Ordinal));
        Assert.True(NodeConfigDocument.For(Unit("dp-a", NodeRole.DataPlane, 1), [wire], [], Dispatchers, dva).Shortcuts);
    }

    /// <summary>A DVA without the shortcut sends documents without the field, as before it existed.</summary>
    [Fact]
    public void Documents_DvaWithoutShortcuts_HaveNoShortcutsField()
    {
        Assert.DoesNotContain("shortcuts", NodeConfigDocument.For(Unit("disp-1", NodeRole.Dispatcher, 100), [Outside()], [], Dispatchers, new Appliance()).ToJson(), StringComparison.Ordinal);
        Assert.DoesNotContain("shortcuts", NodeConfigDocument.For(Unit("dp-a", NodeRole.DataPlane, 1), [Outside()], [], Dispatchers, new Appliance()).ToJson(), StringComparison.Ordinal);
    }

    /// <summary>A firewall rule's VLAN match reaches the data plane's parser as the rule's ingress VLAN.</summary>
    [Fact]
    public void DataPlaneDocument_RuleWithAnIngressVlan_ParsedByTheNodeWithIt()
    {
        var rule = new FirewallRule { Id = 3, Action = RuleAction.Drop, IngressIfid = 1, Vlan = new RuleVlanMatch { IngressVlan = 30 } };
        var services = new NodeServices(new FirewallDocument("accept", "strict", [NodeServices.Rule(rule)]), null);

        var document = NodeConfigDocument.For(Unit("dp-a", NodeRole.DataPlane, 1), [Outside()], [], Dispatchers, services: services);

        Assert.True(NodeSettings.TryParse(document.ToJson(), out var settings, out var errors), string.Join("; ", errors));
        var parsed = Assert.Single(settings!.Firewall!.Rules);
        Assert.Equal(((byte?)1, (ushort?)30), (parsed.IngressIfid, parsed.IngressVlan));
    }

    private static Node Unit(string name, NodeRole role, int nodeId) => new() { Name = name, Role = role, NodeId = nodeId, TunnelEndpoint = "127.0.0.1:6090" };

    private static SharedInterface Outside() => new()
    {
        Ifid = 1,
        Name = "outside",
        Mac = "02:00:5e:00:00:01",
        Addresses = ["192.0.2.1/24", "2001:db8:1::1/64"],
        Trunk = new InterfaceTrunk { Vlans = [20] },
        Ipv6Router = new InterfaceIpv6Router { RouterAdvertisements = true },
        HostConfiguration = new InterfaceHostConfiguration { Dhcpv6 = "other", DnsServers = ["2001:db8:1::53"], DnsSearch = ["corp.example"] },
        SubInterfaces = [new SubInterface { Vlan = 30, Addresses = ["203.0.113.1/24"] }],
        AttachmentNodeName = "disp-1",
        AttachmentFrameSource = "afpacket:eth1",
    };

    private static Appliance SuperFramesAndShortcuts()
    {
        var dva = new Appliance();
        dva.Offload.SuperFrames = true;
        dva.Shortcut.Enabled = true;
        return dva;
    }
}
