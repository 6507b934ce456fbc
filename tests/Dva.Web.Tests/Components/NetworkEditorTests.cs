using Bunit;
using Dva.Manager.Model;
using Dva.Manager.Services;
using Dva.Web.Backend;
using Dva.Web.Components;

namespace Dva.Web.Tests.Components;

public sealed class NetworkEditorTests(ManagerHost host) : BackendComponentTest(host, DashboardRoles.Operator)
{
    [Fact]
    public async Task InterfacesEditor_BadSecondAddress_ShowsItAtTheFieldThenAddsAndEditsTheInterface()
    {
        var dva = await Host.Factory.CreateDvaAsync("net-interfaces");
        var editor = Render<InterfacesEditor>(p => p.Add(e => e.DvaId, dva.Id));

        editor.Find("#iface-name").Input("outside");
        editor.Find("#iface-mac").Input("02:00:5e:00:00:01");
        editor.Find("#iface-addresses").Input("192.0.2.1/24, 192.0.2.300/24");
        editor.Find("#iface-unit").Input("edge-dispatcher-1");
        editor.Find("#iface-source").Input("af_packet:eth1");
        editor.Find("form").Submit();

        editor.WaitForAssertion(() => Assert.Contains("prefix length", editor.Find(".field-error[data-field='addresses[1]']").TextContent, StringComparison.Ordinal));
        Assert.Empty(await InterfacesAsync(dva.Id));

        editor.Find("#iface-addresses").Input("192.0.2.1/24");
        editor.Find("form").Submit();
        editor.WaitForAssertion(() => Assert.Single(editor.FindAll("tr.interface-row-view")));
        var stored = Assert.Single(await InterfacesAsync(dva.Id)).Spec;
        Assert.Equal(("edge-dispatcher-1", "af_packet:eth1"), (stored.Attachment.NodeName, stored.Attachment.FrameSource));
        Assert.Equal("2", editor.Find("#iface-ifid").GetAttribute("value"));

        editor.Find("tr.interface-row-view button").Click();
        Assert.Equal("02:00:5e:00:00:01", editor.Find("#iface-mac").GetAttribute("value"));
        editor.Find("#iface-mac").Input("02:00:5e:00:00:aa");
        editor.Find("form").Submit();

        editor.WaitForAssertion(() => Assert.Contains("02:00:5e:00:00:aa", editor.Find("tr.interface-row-view").TextContent, StringComparison.Ordinal));
        Assert.Equal("02:00:5e:00:00:aa", Assert.Single(await InterfacesAsync(dva.Id)).Spec.Mac);
    }

    /// <summary>
    /// Trunk VLANs: a bad entry is shown at its own field, good ones are stored and listed, and an edit of another field
    /// keeps them (the form carries them, so saving does not clear them).
    /// </summary>
    [Fact]
    public async Task InterfacesEditor_TrunkVlans_BadEntryAtItsFieldThenStoredListedAndKeptByAnEdit()
    {
        var dva = await Host.Factory.CreateDvaAsync("net-vlans");
        var editor = Render<InterfacesEditor>(p => p.Add(e => e.DvaId, dva.Id));

        editor.Find("#iface-name").Input("inside");
        editor.Find("#iface-mac").Input("02:00:5e:00:00:02");
        editor.Find("#iface-addresses").Input("198.51.100.1/24");
        editor.Find("#iface-vlans").Input("20, twenty");
        editor.Find("form").Submit();

        editor.WaitForAssertion(() => Assert.Contains("VLAN id", editor.Find(".field-error[data-field='vlans[1]']").TextContent, StringComparison.Ordinal));
        Assert.Empty(await InterfacesAsync(dva.Id));

        editor.Find("#iface-vlans").Input("20 30");
        editor.Find("form").Submit();
        editor.WaitForAssertion(() => Assert.Contains("VLANs 20, 30", editor.Find("tr.interface-row-view").TextContent, StringComparison.Ordinal));
        Assert.Equal([20, 30], Assert.Single(await InterfacesAsync(dva.Id)).Spec.Vlans);

        editor.Find("tr.interface-row-view button").Click();
        Assert.Equal("20, 30", editor.Find("#iface-vlans").GetAttribute("value"));
        editor.Find("#iface-name").Input("inside-trunk");
        editor.Find("form").Submit();

        editor.WaitForAssertion(() => Assert.Contains("inside-trunk", editor.Find("tr.interface-row-view").TextContent, StringComparison.Ordinal));
        Assert.Equal([20, 30], Assert.Single(await InterfacesAsync(dva.Id)).Spec.Vlans);
    }

    /// <summary>
    /// IPv6 router advertisements: refused at their field on an interface without an IPv6 address, stored and shown once
    /// it has one, and kept by an edit of another field.
    /// </summary>
    [Fact]
    public async Task InterfacesEditor_RouterAdvertisements_RefusedWithoutIpv6ThenStoredShownAndKeptByAnEdit()
    {
        var dva = await Host.Factory.CreateDvaAsync("net-router-adverts");
        var editor = Render<InterfacesEditor>(p => p.Add(e => e.DvaId, dva.Id));

        editor.Find("#iface-name").Input("inside");
        editor.Find("#iface-mac").Input("02:00:5e:00:00:02");
        editor.Find("#iface-addresses").Input("198.51.100.1/24");
        editor.Find("#iface-router-adverts").Change(true);
        editor.Find("form").Submit();

        editor.WaitForAssertion(() => Assert.Contains("IPv6 address", editor.Find(".field-error[data-field='routerAdvertisements']").TextContent, StringComparison.Ordinal));
        Assert.Empty(await InterfacesAsync(dva.Id));

        editor.Find("#iface-addresses").Input("198.51.100.1/24, 2001:db8:2::1/64");
        editor.Find("form").Submit();
        editor.WaitForAssertion(() => Assert.Contains("IPv6 router advertisements", editor.Find("tr.interface-row-view").TextContent, StringComparison.Ordinal));
        Assert.True(Assert.Single(await InterfacesAsync(dva.Id)).Spec.RouterAdvertisements);

        editor.Find("tr.interface-row-view button").Click();
        Assert.True(editor.Find("#iface-router-adverts").HasAttribute("checked"));
        editor.Find("#iface-name").Input("inside-v6");
        editor.Find("form").Submit();

        editor.WaitForAssertion(() => Assert.Contains("inside-v6", editor.Find("tr.interface-row-view").TextContent, StringComparison.Ordinal));
        Assert.True(Assert.Single(await InterfacesAsync(dva.Id)).Spec.RouterAdvertisements);
    }

    /// <summary>
    /// VLAN sub-interfaces: a subnet overlapping the interface's own is refused at the sub-interface's field; once fixed
    /// they are stored by VLAN, shown in the list, and kept by an edit of another field.
    /// </summary>
    [Fact]
    public async Task InterfacesEditor_SubInterfaces_OverlapRefusedThenStoredShownAndKeptByAnEdit()
    {
        var dva = await Host.Factory.CreateDvaAsync("net-sub-interfaces");
        var editor = Render<InterfacesEditor>(p => p.Add(e => e.DvaId, dva.Id));

        editor.Find("#iface-name").Input("inside");
        editor.Find("#iface-mac").Input("02:00:5e:00:00:02");
        editor.Find("#iface-addresses").Input("198.51.100.1/24");
        editor.Find("#iface-sub-interfaces").Input("20=203.0.113.1/24 2001:db8:20::1/64; 30=198.51.100.200/25");
        editor.Find("form").Submit();

        editor.WaitForAssertion(() => Assert.Contains("overlaps 198.51.100.0/24 (untagged)",
            editor.Find(".field-error[data-field='subInterfaces[1].addresses[0]']").TextContent, StringComparison.Ordinal));
        Assert.Empty(await InterfacesAsync(dva.Id));

        editor.Find("#iface-sub-interfaces").Input("20=203.0.113.1/24 2001:db8:20::1/64; 30=192.0.2.129/25");
        editor.Find("form").Submit();
        editor.WaitForAssertion(() => Assert.Contains("VLAN 20: 203.0.113.1/24, 2001:db8:20::1/64", editor.Find("tr.interface-row-view").TextContent, StringComparison.Ordinal));
        Assert.Equal([(20, "203.0.113.1/24 2001:db8:20::1/64"), (30, "192.0.2.129/25")],
            Assert.Single(await InterfacesAsync(dva.Id)).Spec.SubInterfaces.Select(v => (v.Vlan, string.Join(' ', v.Addresses))));

        editor.Find("tr.interface-row-view button").Click();
        Assert.Equal("20=203.0.113.1/24 2001:db8:20::1/64; 30=192.0.2.129/25", editor.Find("#iface-sub-interfaces").GetAttribute("value"));
        editor.Find("#iface-name").Input("inside-trunk");
        editor.Find("form").Submit();

        editor.WaitForAssertion(() => Assert.Contains("inside-trunk", editor.Find("tr.interface-row-view").TextContent, StringComparison.Ordinal));
        Assert.Equal(2, Assert.Single(await InterfacesAsync(dva.Id)).Spec.SubInterfaces.Count);
    }

    /// <summary>
    /// The advertisements' DHCPv6 flags and DNS: a bad server and search domain are refused at their fields; then stored,
    /// shown beside "IPv6 router advertisements", and in the form again for an edit.
    /// </summary>
    [Fact]
    public async Task InterfacesEditor_Dhcpv6AndDns_BadEntriesAtTheirFieldsThenStoredAndShown()
    {
        var dva = await Host.Factory.CreateDvaAsync("net-dns");
        var editor = Render<InterfacesEditor>(p => p.Add(e => e.DvaId, dva.Id));

        editor.Find("#iface-name").Input("inside");
        editor.Find("#iface-mac").Input("02:00:5e:00:00:02");
        editor.Find("#iface-addresses").Input("2001:db8:2::1/64");
        editor.Find("#iface-router-adverts").Change(true);
        editor.Find("#iface-dhcpv6").Change("other");
        editor.Find("#iface-dns-servers").Input("2001:db8::53, 198.51.100.53");
        editor.Find("#iface-dns-search").Input("corp_example");
        editor.Find("form").Submit();

        editor.WaitForAssertion(() => Assert.Contains("IPv6 address", editor.Find(".field-error[data-field='dnsServers[1]']").TextContent, StringComparison.Ordinal));
        Assert.Contains("not a domain name", editor.Find(".field-error[data-field='dnsSearch']").TextContent, StringComparison.Ordinal);
        Assert.Empty(await InterfacesAsync(dva.Id));

        editor.Find("#iface-dns-servers").Input("2001:db8::53");
        editor.Find("#iface-dns-search").Input("corp.example");
        editor.Find("form").Submit();
        editor.WaitForAssertion(() => Assert.Contains("IPv6 router advertisements: DHCPv6 other; DNS 2001:db8::53; search corp.example",
            editor.Find("tr.interface-row-view").TextContent, StringComparison.Ordinal));
        var spec = Assert.Single(await InterfacesAsync(dva.Id)).Spec;
        Assert.Equal(("other", "2001:db8::53", "corp.example"), (spec.Dhcpv6, Assert.Single(spec.DnsServers), Assert.Single(spec.DnsSearch)));

        editor.Find("tr.interface-row-view button").Click();
        Assert.Equal("2001:db8::53", editor.Find("#iface-dns-servers").GetAttribute("value"));
        Assert.Equal("other", editor.Find("#iface-dhcpv6").GetAttribute("value"));
    }

    [Fact]
    public async Task RoutesEditor_BadPrefixAndNextHop_ShowsBothAtTheirFieldsThenAddsAndDeletesTheRoute()
    {
        var dva = await Host.Factory.CreateDvaAsync("net-routes");
        await Host.Factory.WithServiceAsync<SharedInterfaceService, ServiceResult<ResourceView<SharedInterfaceSpec>>>(s =>
            s.CreateAsync(dva.Id, new SharedInterfaceSpec { Ifid = 2, Name = "inside", Mac = "02:00:5e:00:00:02", Addresses = ["198.51.100.1/24"] }, CancellationToken.None));
        var editor = Render<RoutesEditor>(p => p.Add(e => e.DvaId, dva.Id));
        Assert.Contains("2 inside", editor.Find("#route-ifid").TextContent, StringComparison.Ordinal);

        editor.Find("#route-prefix").Input("203.0.113.1/24");
        editor.Find("#route-next-hop").Input("2001:db8::1");
        editor.Find("form").Submit();
        editor.WaitForAssertion(() => Assert.Contains("host bits", editor.Find(".field-error[data-field=prefix]").TextContent, StringComparison.Ordinal));

        editor.Find("#route-prefix").Input("203.0.113.0/24");
        editor.Find("form").Submit();
        editor.WaitForAssertion(() => Assert.Contains("address family", editor.Find(".field-error[data-field=nextHop]").TextContent, StringComparison.Ordinal));

        editor.Find("#route-next-hop").Input("198.51.100.254");
        editor.Find("form").Submit();
        editor.WaitForAssertion(() => Assert.Contains("198.51.100.254", editor.Find("tr.route-row").TextContent, StringComparison.Ordinal));
        Assert.Contains("IFID 2 inside", editor.Find("tr.route-row").TextContent, StringComparison.Ordinal);
        Assert.Equal(2, Assert.Single(await RoutesAsync(dva.Id)).Spec.Ifid);

        editor.Find("tr.route-row button.danger").Click();
        editor.WaitForAssertion(() => Assert.Empty(editor.FindAll("tr.route-row")));
        Assert.Empty(await RoutesAsync(dva.Id));
    }

    private Task<IReadOnlyList<ResourceView<SharedInterfaceSpec>>> InterfacesAsync(long dvaId) =>
        Host.Factory.WithServiceAsync<SharedInterfaceService, IReadOnlyList<ResourceView<SharedInterfaceSpec>>>(async s => (await s.ListAsync(dvaId, CancellationToken.None)).Value!);

    private Task<IReadOnlyList<ResourceView<StaticRouteSpec>>> RoutesAsync(long dvaId) =>
        Host.Factory.WithServiceAsync<StaticRouteService, IReadOnlyList<ResourceView<StaticRouteSpec>>>(async s => (await s.ListAsync(dvaId, CancellationToken.None)).Value!);
}
