using System.Net;
using System.Net.Http.Json;

namespace Dva.Manager.Tests.Apis;

public sealed class InterfacesApiTests(ManagerFixture fixture) : ApiTestBase(fixture)
{
    [Fact]
    public async Task Crud_ValidInterface_RoundTrips()
    {
        var dvaId = await CreateDvaAsync();
        var created = await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/interfaces", new
        {
            ifid = 7,
            name = "outside",
            mac = "02:00:5E:00:00:07",
            addresses = new[] { "192.0.2.7/24", "2001:db8::7/64" },
            attachment = new { nodeName = "disp-1", frameSource = "af_packet:eth1" },
        });
        var iface = await ExpectAsync(created, HttpStatusCode.Created);
        var id = (long)iface["id"]!;
        Assert.Equal("02:00:5e:00:00:07", (string)iface["spec"]!["mac"]!);
        Assert.Equal(dvaId, (long)iface["dvaId"]!);

        var replaced = await Client.SendAsync(Request(HttpMethod.Put, $"/api/v1/dvas/{dvaId}/interfaces/{id}", new
        {
            ifid = 7,
            name = "outside",
            mac = "02:00:5e:00:00:07",
            addresses = new[] { "198.51.100.7/24" },
            attachment = new { nodeName = "disp-2", frameSource = "tap:dva0" },
        }, ETagOf(created)));
        var after = await ExpectAsync(replaced, HttpStatusCode.OK);
        Assert.Equal("198.51.100.7/24", (string)after["spec"]!["addresses"]![0]!);
        Assert.Equal("disp-2", (string)after["spec"]!["attachment"]!["nodeName"]!);
        Assert.Equal(2, (int)after["generation"]!);

        var list = await ReadJsonAsync(await Client.GetAsync($"/api/v1/dvas/{dvaId}/interfaces"));
        Assert.Single(list.AsArray());
        await ExpectAsync(await Client.GetAsync($"/api/v1/dvas/{dvaId}/interfaces/{id}"), HttpStatusCode.OK);
        await ExpectAsync(await Client.DeleteAsync($"/api/v1/dvas/{dvaId}/interfaces/{id}"), HttpStatusCode.NoContent);
        await ExpectProblemAsync(await Client.GetAsync($"/api/v1/dvas/{dvaId}/interfaces/{id}"), HttpStatusCode.NotFound);
    }

    /// <summary>
    /// A DVA that carries super-frames refuses an attachment that cannot send them; a DVA with an interface attached
    /// that way cannot turn super-frames on. Each names the field and what to change.
    /// </summary>
    [Fact]
    public async Task SuperFrames_AttachmentThatCannotSendThem_RefusedBothWays()
    {
        var withSuperFrames = (long)(await ExpectAsync(await Client.PostAsJsonAsync("/api/v1/dvas", new { name = "sf-attach", superFrames = true }), HttpStatusCode.Created))["id"]!;
        object Interface(string frameSource) => new { ifid = 1, name = "outside", mac = "02:00:5e:00:00:01", attachment = new { nodeName = "disp-1", frameSource } };

        var tap = await ExpectFieldErrorsAsync(await Client.PostAsJsonAsync($"/api/v1/dvas/{withSuperFrames}/interfaces", Interface("tap:dva0")), "attachment.frameSource");
        Assert.Contains("cannot send them", tap.ToJsonString(), StringComparison.Ordinal);
        await ExpectFieldErrorsAsync(await Client.PostAsJsonAsync($"/api/v1/dvas/{withSuperFrames}/interfaces", Interface("afpacket:eth1?ring=1")), "attachment.frameSource");
        await ExpectAsync(await Client.PostAsJsonAsync($"/api/v1/dvas/{withSuperFrames}/interfaces", Interface("afpacket:eth1")), HttpStatusCode.Created);

        var plain = await ExpectAsync(await Client.PostAsJsonAsync("/api/v1/dvas", new { name = "sf-later" }), HttpStatusCode.Created);
        var plainId = (long)plain["id"]!;
        await ExpectAsync(await Client.PostAsJsonAsync($"/api/v1/dvas/{plainId}/interfaces", Interface("udp:LOCAL=127.0.0.1:7001,PEER=127.0.0.1:7002")), HttpStatusCode.Created);
        var spec = plain["spec"]!.AsObject();
        spec["superFrames"] = true;
        var turnedOn = await ExpectFieldErrorsAsync(await Client.SendAsync(Request(HttpMethod.Put, $"/api/v1/dvas/{plainId}", spec, null)), "superFrames");
        var message = (string)turnedOn["superFrames"]![0]!;
        Assert.StartsWith("Interface 1 is attached through 'udp:LOCAL=127.0.0.1:7001", message, StringComparison.Ordinal);
    }

    /// <summary>
    /// Unlike super-frames, the kernel shortcut takes any attachment: a dispatcher without an afpacket: one simply runs
    /// without it. A tap: interface joins a DVA with shortcuts, and a DVA with a udp: interface turns them on.
    /// </summary>
    [Fact]
    public async Task Shortcuts_AttachmentOtherThanAfPacket_AcceptedBothWays()
    {
        var withShortcuts = (long)(await ExpectAsync(await Client.PostAsJsonAsync("/api/v1/dvas", new { name = "sc-attach", shortcuts = true }), HttpStatusCode.Created))["id"]!;
        object Interface(string frameSource) => new { ifid = 1, name = "outside", mac = "02:00:5e:00:00:01", attachment = new { nodeName = "disp-1", frameSource } };
        await ExpectAsync(await Client.PostAsJsonAsync($"/api/v1/dvas/{withShortcuts}/interfaces", Interface("tap:dva0")), HttpStatusCode.Created);

        var plain = await ExpectAsync(await Client.PostAsJsonAsync("/api/v1/dvas", new { name = "sc-later" }), HttpStatusCode.Created);
        var plainId = (long)plain["id"]!;
        await ExpectAsync(await Client.PostAsJsonAsync($"/api/v1/dvas/{plainId}/interfaces", Interface("udp:LOCAL=127.0.0.1:7001,PEER=127.0.0.1:7002")), HttpStatusCode.Created);
        var spec = plain["spec"]!.AsObject();
        spec["shortcuts"] = true;
        var turnedOn = await ExpectAsync(await Client.SendAsync(Request(HttpMethod.Put, $"/api/v1/dvas/{plainId}", spec, null)), HttpStatusCode.OK);
        Assert.True((bool)turnedOn["spec"]!["shortcuts"]!);
    }

    /// <summary>A trunk's VLANs round-trip, an empty list clears them, and each bad entry is named.</summary>
    [Fact]
    public async Task Vlans_RoundTripClearedAndEachBadEntryNamed()
    {
        var dvaId = await CreateDvaAsync();
        object Interface(int[] vlans) => new { ifid = 2, name = "inside", mac = "02:00:5e:00:00:02", addresses = new[] { "198.51.100.1/24" }, vlans };

        var created = await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/interfaces", Interface([20, 30, 4094]));
        var iface = await ExpectAsync(created, HttpStatusCode.Created);
        var id = (long)iface["id"]!;
        Assert.Equal([20, 30, 4094], iface["spec"]!["vlans"]!.AsArray().Select(v => (int)v!));
        var shown = await ReadJsonAsync(await Client.GetAsync($"/api/v1/dvas/{dvaId}/interfaces/{id}"));
        Assert.Equal([20, 30, 4094], shown["spec"]!["vlans"]!.AsArray().Select(v => (int)v!));

        var cleared = await ExpectAsync(await Client.SendAsync(Request(HttpMethod.Put, $"/api/v1/dvas/{dvaId}/interfaces/{id}", Interface([]), ETagOf(created))), HttpStatusCode.OK);
        Assert.Empty(cleared["spec"]!["vlans"]!.AsArray());

        await ExpectFieldErrorsAsync(await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/interfaces", Interface([0, 4095, 20, 20])), "vlans[0]", "vlans[1]", "vlans");
        await ExpectFieldErrorsAsync(await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/interfaces", Interface([.. Enumerable.Range(1, 65)])), "vlans");
    }

    /// <summary>Router advertisements round-trip on an interface with an IPv6 address; without one they are refused, named.</summary>
    [Fact]
    public async Task RouterAdvertisements_OnlyWithAnIpv6Address_RoundTrip()
    {
        var dvaId = await CreateDvaAsync();
        object Interface(string[] addresses, bool advertise) =>
            new { ifid = 2, name = "inside", mac = "02:00:5e:00:00:02", addresses, routerAdvertisements = advertise };

        var refused = await ExpectFieldErrorsAsync(await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/interfaces", Interface(["198.51.100.1/24"], true)),
            "routerAdvertisements");
        Assert.StartsWith("Needs an IPv6 address on the interface", (string)refused["routerAdvertisements"]![0]!, StringComparison.Ordinal);

        var created = await ExpectAsync(await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/interfaces", Interface(["198.51.100.1/24", "2001:db8:2::1/64"], true)),
            HttpStatusCode.Created);
        Assert.True((bool)created["spec"]!["routerAdvertisements"]!);
        var shown = await ReadJsonAsync(await Client.GetAsync($"/api/v1/dvas/{dvaId}/interfaces/{(long)created["id"]!}"));
        Assert.True((bool)shown["spec"]!["routerAdvertisements"]!);

        // The node takes at most 16 prefixes per advertisement: 17 IPv6 subnets on one link are refused here already.
        var tooMany = await ExpectFieldErrorsAsync(await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/interfaces",
            new { ifid = 3, name = "many", mac = "02:00:5e:00:00:03", addresses = Enumerable.Range(1, 17).Select(i => $"2001:db8:{i:x}::1/64").ToArray(), routerAdvertisements = true }),
            "routerAdvertisements");
        Assert.Equal("At most 16 IPv6 prefixes per link fit one advertisement.", (string)tooMany["routerAdvertisements"]![0]!);
    }

    /// <summary>
    /// Sub-interfaces round-trip; a change keeps, edits, adds and drops them by VLAN; each bad entry is named: a bad VLAN,
    /// none or a bad address, a VLAN given twice, an address on two links, a subnet overlapping another link's.
    /// </summary>
    [Fact]
    public async Task SubInterfaces_RoundTripEditedByVlanAndEachBadEntryNamed()
    {
        var dvaId = await CreateDvaAsync();
        object Interface(object[] subInterfaces) => new
        {
            ifid = 2, name = "inside", mac = "02:00:5e:00:00:02", addresses = new[] { "198.51.100.1/24" }, vlans = new[] { 30 }, subInterfaces,
        };

        var created = await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/interfaces", Interface(
            [new { vlan = 20, addresses = new[] { "203.0.113.1/25", "2001:db8:20::1/64" } }, new { vlan = 40, addresses = new[] { "203.0.113.129/25" } }]));
        var iface = await ExpectAsync(created, HttpStatusCode.Created);
        var id = (long)iface["id"]!;
        var shown = await ReadJsonAsync(await Client.GetAsync($"/api/v1/dvas/{dvaId}/interfaces/{id}"));
        Assert.Equal("""[{"vlan":20,"addresses":["203.0.113.1/25","2001:db8:20::1/64"]},{"vlan":40,"addresses":["203.0.113.129/25"]}]""",
            shown["spec"]!["subInterfaces"]!.ToJsonString());

        var edited = await ExpectAsync(await Client.SendAsync(Request(HttpMethod.Put, $"/api/v1/dvas/{dvaId}/interfaces/{id}", Interface(
            [new { vlan = 50, addresses = new[] { "192.0.2.129/25" } }, new { vlan = 20, addresses = new[] { "203.0.113.2/25" } }]), ETagOf(created))), HttpStatusCode.OK);
        Assert.Equal("""[{"vlan":20,"addresses":["203.0.113.2/25"]},{"vlan":50,"addresses":["192.0.2.129/25"]}]""",
            edited["spec"]!["subInterfaces"]!.ToJsonString());
        shown = await ReadJsonAsync(await Client.GetAsync($"/api/v1/dvas/{dvaId}/interfaces/{id}"));
        Assert.Equal(edited["spec"]!["subInterfaces"]!.ToJsonString(), shown["spec"]!["subInterfaces"]!.ToJsonString());

        await ExpectFieldErrorsAsync(await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/interfaces", Interface(
            [new { vlan = 0, addresses = Array.Empty<string>() }, new { vlan = 20, addresses = new[] { "203.0.113.1" } }])),
            "subInterfaces[0].vlan", "subInterfaces[0].addresses", "subInterfaces[1].addresses[0]");
        await ExpectFieldErrorsAsync(await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/interfaces", Interface(
            [new { vlan = 20, addresses = new[] { "203.0.113.1/25" } }, new { vlan = 20, addresses = new[] { "203.0.113.129/25" } }])), "subInterfaces");
        var twice = await ExpectFieldErrorsAsync(await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/interfaces", Interface(
            [new { vlan = 20, addresses = new[] { "198.51.100.1/24" } }])), "subInterfaces[0].addresses[0]");
        Assert.Equal("198.51.100.1 is already an address of this interface (addresses[0]).", (string)twice["subInterfaces[0].addresses[0]"]![0]!);
        var overlap = await ExpectFieldErrorsAsync(await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/interfaces", Interface(
            [new { vlan = 20, addresses = new[] { "198.51.100.200/25" } }])), "subInterfaces[0].addresses[0]");
        Assert.Equal("198.51.100.128/25 (VLAN 20) overlaps 198.51.100.0/24 (untagged); a subnet is on one link.",
            (string)overlap["subInterfaces[0].addresses[0]"]![0]!);
    }

    /// <summary>
    /// DHCPv6 flags, DNS servers and search domains round-trip with router advertisements on; each bad entry is named,
    /// and without router advertisements they are refused.
    /// </summary>
    [Fact]
    public async Task Dhcpv6AndDns_RoundTripWithRouterAdvertisements_EachBadEntryNamed()
    {
        var dvaId = await CreateDvaAsync();
        object Interface(bool advertise, string dhcpv6, string[] dnsServers, string[] dnsSearch) => new
        {
            ifid = 2, name = "inside", mac = "02:00:5e:00:00:02", addresses = new[] { "2001:db8:2::1/64" }, routerAdvertisements = advertise,
            dhcpv6, dnsServers, dnsSearch,
        };

        var created = await ExpectAsync(await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/interfaces",
            Interface(true, "Managed", ["2001:db8::53"], ["corp.example"])), HttpStatusCode.Created);
        var shown = (await ReadJsonAsync(await Client.GetAsync($"/api/v1/dvas/{dvaId}/interfaces/{(long)created["id"]!}")))["spec"]!;
        Assert.Equal(("managed", """["2001:db8::53"]""", """["corp.example"]"""),
            ((string)shown["dhcpv6"]!, shown["dnsServers"]!.ToJsonString(), shown["dnsSearch"]!.ToJsonString()));

        var bad = await ExpectFieldErrorsAsync(await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/interfaces",
            Interface(true, "stateful", ["198.51.100.53"], ["corp_example"])), "dhcpv6", "dnsServers[0]", "dnsSearch");
        Assert.Equal("'corp_example' is not a domain name (labels of letters, digits and hyphens).", (string)bad["dnsSearch"]![0]!);
        await ExpectFieldErrorsAsync(await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/interfaces",
            Interface(false, "other", [], [])), "routerAdvertisements");
    }

    [Fact]
    public async Task Create_InvalidFields_ReportsEachField()
    {
        var dvaId = await CreateDvaAsync();

        var response = await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/interfaces", new
        {
            ifid = 0,
            name = "",
            mac = "01:00:5e:00:00:01",
            addresses = new[] { "192.0.2.1/24", "192.0.2.300/24", "10.1/8", "2001:db8::1/129", "192.0.2.9" },
        });

        await ExpectFieldErrorsAsync(response, "ifid", "name", "mac", "addresses[1]", "addresses[2]", "addresses[3]", "addresses[4]");
    }

    [Theory]
    [InlineData("00:00:00:00:00:00")]
    [InlineData("02-00-00-00-00-01")]
    [InlineData("02:00:00:00:00")]
    [InlineData("zz:00:00:00:00:01")]
    public async Task Create_BadMac_IsRejected(string mac)
    {
        var dvaId = await CreateDvaAsync();

        var response = await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/interfaces", new { ifid = 1, name = "x", mac });

        await ExpectFieldErrorsAsync(response, "mac");
    }

    [Fact]
    public async Task Create_DuplicateIfidOrName_IsRejected()
    {
        var dvaId = await CreateDvaAsync();
        await CreateInterfaceAsync(dvaId, 3);

        var sameIfid = await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/interfaces", new { ifid = 3, name = "other", mac = "02:00:00:00:01:03" });
        var sameName = await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/interfaces", new { ifid = 4, name = "if3", mac = "02:00:00:00:01:04" });

        await ExpectFieldErrorsAsync(sameIfid, "ifid");
        await ExpectFieldErrorsAsync(sameName, "name");
    }

    [Fact]
    public async Task Create_SameIfidInAnotherDva_IsAccepted()
    {
        var first = await CreateDvaAsync();
        var second = await CreateDvaAsync();
        await CreateInterfaceAsync(first, 9);

        await CreateInterfaceAsync(second, 9);
    }

    [Fact]
    public async Task Create_UnknownDva_Returns404()
    {
        var response = await Client.PostAsJsonAsync("/api/v1/dvas/987654/interfaces", new { ifid = 1, name = "x", mac = "02:00:00:00:00:01" });

        await ExpectProblemAsync(response, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Delete_InterfaceUsedByRoute_Returns409()
    {
        var dvaId = await CreateDvaAsync();
        var id = await CreateInterfaceAsync(dvaId, 2);
        await ExpectAsync(await Client.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/routes", new { prefix = "203.0.113.0/24", nextHop = "192.0.2.254", ifid = 2 }), HttpStatusCode.Created);

        await ExpectProblemAsync(await Client.DeleteAsync($"/api/v1/dvas/{dvaId}/interfaces/{id}"), HttpStatusCode.Conflict);
    }
}
