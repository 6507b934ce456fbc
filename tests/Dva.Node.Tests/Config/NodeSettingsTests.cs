using System.Net;
using System.Text.Json.Nodes;
using Dva.Node.Config;
using Dva.Shared.Packets;

namespace Dva.Node.Tests.Config;

public class NodeSettingsTests
{
    private const string Valid = """
        {
          // comments and trailing commas are allowed
          "role": "dispatcher",
          "nodeId": 100,
          "name": "edge",
          "tunnel": { "listen": "127.0.0.1:6090", "mtu": 1400 },
          "control": "127.0.0.1:7090",
          "interfaces": [
            { "ifid": 1, "name": "outside", "mac": "02:00:00:00:00:01", "addresses": ["192.0.2.1/24", "2001:db8::1/64"], "source": "udp:LOCAL=127.0.0.1:7001,PEER=127.0.0.1:7101" },
            { "ifid": 2, "mac": "02:00:00:00:00:02", "addresses": ["198.51.100.1/24"], "source": "afpacket:eth1" },
          ],
          "routes": [ { "prefix": "203.0.113.0/24", "nextHop": "198.51.100.254", "ifid": 2 } ],
          "table": {
            "version": 3, "bucketCount": 1024, "seed": "0xDEADBEEF", "dvaId": "6f1c1c36-9d36-4a57-8e7a-0c5b0b7b1f00",
            "dataPlanes": [ { "nodeId": 1, "endpoint": "127.0.0.1:6091", "weight": 2 }, { "nodeId": 2, "endpoint": "[::1]:6092" } ],
            "dispatchers": [ { "nodeId": 100, "endpoint": "127.0.0.1:6090" } ]
          },
          "timeouts": { "udpSeconds": 30 }
        }
        """;

    [Fact]
    public void TryParse_ValidFile_EveryFieldTyped()
    {
        Assert.True(NodeSettings.TryParse(Valid, out var s, out var errors), string.Join("; ", errors));

        Assert.Equal((NodeRole.Dispatcher, (ushort)100, "edge", 1400), (s!.Role, s.NodeId, s.Name, s.TunnelMtu));
        Assert.Equal(IPEndPoint.Parse("127.0.0.1:6090"), s.TunnelListen);
        Assert.Equal(IPEndPoint.Parse("127.0.0.1:7090"), s.Control);
        Assert.Equal([1, 2], s.Interfaces.Select(i => (int)i.Ifid));
        Assert.Equal("020000000001", s.Interfaces[0].Mac.ToString());
        Assert.Equal([IPNetwork.Parse("192.0.2.0/24"), IPNetwork.Parse("2001:db8::/64")], s.Interfaces[0].Subnets);
        Assert.Equal("if2", s.Interfaces[1].Name);
        Assert.Equal(new StaticRoute(IPNetwork.Parse("203.0.113.0/24"), IPAddress.Parse("198.51.100.254"), 2), s.Routes[0]);
        Assert.Equal((3UL, 1024, 0xDEADBEEFUL), (s.Table!.Version, s.Table.BucketCount, s.Table.Seed));
        Assert.Equal([(1, 2), (2, 1)], s.Table.DataPlanes.Select(p => ((int)p.NodeId, p.Weight)));
        Assert.Equal(TimeSpan.FromSeconds(30), s.Timeouts.Udp);
        Assert.Equal(TimeSpan.FromSeconds(7200), s.Timeouts.TcpEstablished);
    }

    [Fact]
    public void TryParse_NoMtuNoControl_DefaultsTo1500AndLoopback()
    {
        var json = Edit(n =>
        {
            n["tunnel"]!.AsObject().Remove("mtu");
            n.AsObject().Remove("control");
        });

        Assert.True(NodeSettings.TryParse(json, out var s, out _));
        Assert.Equal(1500, s!.TunnelMtu);
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 0), s.Control);
    }

    [Fact]
    public void TryParse_FlowSourcePorts_OnByDefaultOffWhenAsked()
    {
        Assert.True(NodeSettings.TryParse(Edit(_ => { }), out var byDefault, out _));
        Assert.True(NodeSettings.TryParse(Edit(n => n["tunnel"]!["flowSourcePorts"] = false), out var off, out _));

        Assert.True(byDefault!.FlowSourcePorts);
        Assert.False(off!.FlowSourcePorts);
    }

    [Fact]
    public void TryParse_Engines_OneByDefaultAndBothRolesRunOnTheirs()
    {
        Assert.True(NodeSettings.TryParse(Edit(_ => { }), out var byDefault, out _));
        Assert.True(NodeSettings.TryParse(Edit(n => { n["engines"] = 4; n["interfaces"]![0]!["source"] = "afpacket:eth0?ring=1"; }), out var dispatcher, out var errors), string.Join("; ", errors));
        Assert.True(NodeSettings.TryParse(Edit(n => { n["engines"] = 4; n["role"] = "dataplane"; n["routes"] = new JsonArray(); n["interfaces"]!.AsArray().Clear(); n["interfaces"]!.AsArray().Add(JsonNode.Parse("""{"ifid": 1, "mac": "02:00:00:00:00:01", "dispatcher": 100}""")); }), out var dataPlane, out errors), string.Join("; ", errors));

        Assert.Equal(1, byDefault!.Engines);
        Assert.Equal(4, dispatcher!.Engines);
        Assert.Equal(4, dataPlane!.Engines);
    }

    [Fact]
    public void TryParse_DispatcherEnginesWithAUdpSource_RefusedNamingTheInterface()
    {
        Assert.False(NodeSettings.TryParse(Edit(n => n["engines"] = 2), out _, out var errors));

        // Interface 1 is udp: (no PACKET_FANOUT); interface 2 is afpacket:eth1 and passes.
        var error = Assert.Single(errors);
        Assert.StartsWith("engines: interface 1: a dispatcher on more than one engine needs afpacket: sources", error, StringComparison.Ordinal);
        Assert.Contains("udp:LOCAL=127.0.0.1:7001", error, StringComparison.Ordinal);
    }

    public static TheoryData<string, string, string> FieldErrors() => new()
    {
        { "role", """{"role": "router"}""", "role:" },
        { "missing role", """{"role": null}""", "role:" },
        { "node id", """{"nodeId": 4095}""", "nodeId:" },
        { "tunnel", """{"tunnel": null}""", "tunnel:" },
        { "listen", """{"tunnel": {"listen": "nowhere"}}""", "tunnel.listen:" },
        { "mtu", """{"tunnel": {"listen": "127.0.0.1:1", "mtu": 100}}""", "tunnel.mtu:" },
        { "control", """{"control": "127.0.0.1"}""", "control:" },
        { "ifid", """{"interfaces": [{"ifid": 0, "mac": "02:00:00:00:00:01", "source": "tap:x"}]}""", "interfaces[0].ifid:" },
        { "ifid twice", """{"interfaces": [{"ifid": 1, "mac": "02:00:00:00:00:01", "source": "tap:x"}, {"ifid": 1, "mac": "02:00:00:00:00:02", "source": "tap:y"}]}""", "interfaces[1].ifid:" },
        { "mac", """{"interfaces": [{"ifid": 1, "mac": "zz", "source": "tap:x"}]}""", "interfaces[0].mac:" },
        { "multicast mac", """{"interfaces": [{"ifid": 1, "mac": "01:00:5e:00:00:01", "source": "tap:x"}]}""", "interfaces[0].mac:" },
        { "address", """{"interfaces": [{"ifid": 1, "mac": "02:00:00:00:00:01", "addresses": ["192.0.2.1"], "source": "tap:x"}]}""", "interfaces[0].addresses[0]:" },
        { "source missing", """{"interfaces": [{"ifid": 1, "mac": "02:00:00:00:00:01"}]}""", "interfaces[0].source:" },
        { "source kind", """{"interfaces": [{"ifid": 1, "mac": "02:00:00:00:00:01", "source": "pcap:eth0"}]}""", "interfaces[0].source:" },
        { "no interfaces", """{"interfaces": []}""", "interfaces:" },
        { "route prefix", """{"routes": [{"prefix": "10.0.0.0/33", "ifid": 1}]}""", "routes[0].prefix:" },
        { "route next hop", """{"routes": [{"prefix": "10.0.0.0/8", "nextHop": "x", "ifid": 1}]}""", "routes[0].nextHop:" },
        { "route ifid", """{"routes": [{"prefix": "10.0.0.0/8", "ifid": 9}]}""", "routes[0].ifid:" },
        { "bucket count", """{"table": {"bucketCount": 1000, "seed": "1", "dataPlanes": [{"nodeId": 1, "endpoint": "127.0.0.1:1"}]}}""", "table.bucketCount:" },
        { "seed", """{"table": {"seed": "0xZZ", "dataPlanes": [{"nodeId": 1, "endpoint": "127.0.0.1:1"}]}}""", "table.seed:" },
        { "version", """{"table": {"version": 0, "seed": "1", "dataPlanes": [{"nodeId": 1, "endpoint": "127.0.0.1:1"}]}}""", "table.version:" },
        { "no data planes", """{"table": {"seed": "1", "dataPlanes": []}}""", "table.dataPlanes:" },
        { "peer node id", """{"table": {"seed": "1", "dataPlanes": [{"nodeId": 0, "endpoint": "127.0.0.1:1"}]}}""", "table.dataPlanes[0].nodeId:" },
        { "peer twice", """{"table": {"seed": "1", "dataPlanes": [{"nodeId": 1, "endpoint": "127.0.0.1:1"}], "dispatchers": [{"nodeId": 1, "endpoint": "127.0.0.1:2"}]}}""", "table.dispatchers[0].nodeId:" },
        { "peer endpoint", """{"table": {"seed": "1", "dataPlanes": [{"nodeId": 1, "endpoint": "somewhere"}]}}""", "table.dataPlanes[0].endpoint:" },
        { "peer weight", """{"table": {"seed": "1", "dataPlanes": [{"nodeId": 1, "endpoint": "127.0.0.1:1", "weight": 0}]}}""", "table.dataPlanes[0].weight:" },
        { "timeouts", """{"timeouts": {"udpSeconds": 0}}""", "timeouts:" },
        { "engines", """{"engines": 0}""", "engines:" },
        { "too many engines", """{"engines": 65}""", "engines:" },
        { "engines without flow ports", """{"engines": 2, "tunnel": {"listen": "127.0.0.1:1", "flowSourcePorts": false}}""", "engines:" },
        { "engines in secure mode", """{"engines": 2, "tunnel": {"listen": "127.0.0.1:1", "security": {"mode": "authenticated", "keys": [{"phase": 0, "id": 1, "key": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}]}}}""", "engines:" },
    };

    [Theory]
    [MemberData(nameof(FieldErrors))]
    public void TryParse_BadField_ErrorNamesTheField(string what, string patch, string field)
    {
        var json = Edit(n =>
        {
            foreach (var (name, value) in JsonNode.Parse(patch)!.AsObject())
            {
                n[name] = value?.DeepClone();
            }
        });

        Assert.False(NodeSettings.TryParse(json, out var settings, out var errors), what);
        Assert.Null(settings);
        Assert.Contains(errors, e => e.StartsWith(field, StringComparison.Ordinal));
    }

    [Fact]
    public void TryParse_SeveralBadFields_EveryOneReported()
    {
        var json = Edit(n =>
        {
            n["nodeId"] = 0;
            n["tunnel"]!["mtu"] = 10;
            n["interfaces"]![0]!["mac"] = "nope";
        });

        Assert.False(NodeSettings.TryParse(json, out _, out var errors));
        Assert.Equal(["nodeId:", "tunnel.mtu:", "interfaces[0].mac:"], errors.Select(e => e[..(e.IndexOf(':', StringComparison.Ordinal) + 1)]));
    }

    [Fact]
    public void TryParse_DataPlaneInterfaceWithoutDispatcher_NamesTheField()
    {
        var json = Edit(n =>
        {
            n["role"] = "dataplane";
            n["interfaces"]![0]!.AsObject().Remove("source");
        });

        Assert.False(NodeSettings.TryParse(json, out _, out var errors));
        Assert.Equal(["interfaces[0].dispatcher:", "interfaces[1].dispatcher:"], errors.Select(e => e[..(e.IndexOf(':', StringComparison.Ordinal) + 1)]));
    }

    [Fact]
    public void TryParse_InterfaceVlans_ReadInOrder()
    {
        var json = Edit(n => n["interfaces"]![1]!["vlans"] = new JsonArray(20, 4094, 1));

        Assert.True(NodeSettings.TryParse(json, out var settings, out var errors), string.Join("; ", errors));
        Assert.Equal([20, 4094, 1], settings!.Interfaces[1].Vlans.Select(v => (int)v));
        Assert.Empty(settings.Interfaces[0].Vlans);
    }

    [Theory]
    [InlineData(new[] { 0 }, "interfaces[1].vlans[0]: 0 is not a VLAN id (1..4094)")]
    [InlineData(new[] { 20, 4095 }, "interfaces[1].vlans[1]: 4095 is not a VLAN id (1..4094)")]
    [InlineData(new[] { 20, 30, 20 }, "interfaces[1].vlans[2]: VLAN 20 is listed twice")]
    public void TryParse_BadVlan_NamesTheEntry(int[] vlans, string expected)
    {
        var json = Edit(n => n["interfaces"]![1]!["vlans"] = new JsonArray([.. vlans.Select(v => (JsonNode?)v)]));

        Assert.False(NodeSettings.TryParse(json, out _, out var errors));
        Assert.Equal(expected, Assert.Single(errors));
    }

    [Fact]
    public void TryParse_TooManyVlans_RefusedWithTheLimit()
    {
        var json = Edit(n => n["interfaces"]![1]!["vlans"] = new JsonArray([.. Enumerable.Range(1, 65).Select(v => (JsonNode?)v)]));

        Assert.False(NodeSettings.TryParse(json, out _, out var errors));
        Assert.Equal("interfaces[1].vlans: 65 VLANs; at most 64", Assert.Single(errors));
    }

    [Fact]
    public void TryParse_SubInterfaces_AddressesOnTheirVlanAndTheVlanOnTheTrunk()
    {
        var json = Edit(n =>
        {
            n["interfaces"]![1]!["vlans"] = new JsonArray(30);
            n["interfaces"]![1]!["subInterfaces"] = JsonNode.Parse("""
                [ { "vlan": 20, "addresses": ["203.0.113.1/25", "2001:db8:20::1/64"] }, { "vlan": 30, "addresses": ["203.0.113.129/25"] } ]
                """);
        });

        Assert.True(NodeSettings.TryParse(json, out var settings, out var errors), string.Join("; ", errors));
        var i = settings!.Interfaces[1];
        Assert.Equal(["198.51.100.1", "203.0.113.1", "2001:db8:20::1", "203.0.113.129"], i.Addresses.Select(a => a.ToString()));
        Assert.Equal([0, 20, 20, 30], Enumerable.Range(0, i.Addresses.Count).Select(n => (int)i.VlanOf(n)));
        Assert.Equal(IPNetwork.Parse("203.0.113.128/25"), i.Subnets[3]);
        Assert.Equal([30, 20], i.Vlans.Select(v => (int)v));
        Assert.Equal(0, settings.Interfaces[0].VlanOf(0));
    }

    [Theory]
    [InlineData("""[ { "vlan": 4095, "addresses": ["203.0.113.1/24"] } ]""", "interfaces[1].subInterfaces[0].vlan: 4095 is not a VLAN id (1..4094)")]
    [InlineData("""[ { "vlan": 20, "addresses": [] } ]""", "interfaces[1].subInterfaces[0].addresses: a sub-interface needs at least one address (198.51.100.1/24)")]
    [InlineData("""[ { "vlan": 20, "addresses": ["203.0.113.1/25"] }, { "vlan": 20, "addresses": ["203.0.113.129/25"] } ]""",
        "interfaces[1].subInterfaces[1].vlan: VLAN 20 has another sub-interface; list all its addresses in one")]
    [InlineData("""[ { "vlan": 20, "addresses": ["203.0.113.1"] } ]""", "interfaces[1].subInterfaces[0].addresses[0]: '203.0.113.1' is not an address with prefix length (192.0.2.1/24)")]
    [InlineData("""[ { "vlan": 20, "addresses": ["198.51.100.1/24"] } ]""", "interfaces[1].subInterfaces[0].addresses[0]: 198.51.100.1 is already an address of this interface")]
    [InlineData("""[ { "vlan": 20, "addresses": ["198.51.100.200/25"] } ]""", "interfaces[1]: 198.51.100.128/25 (VLAN 20) overlaps 198.51.100.0/24 (untagged); a subnet is on one link")]
    public void TryParse_BadSubInterface_NamesTheEntry(string subInterfaces, string expected)
    {
        var json = Edit(n => n["interfaces"]![1]!["subInterfaces"] = JsonNode.Parse(subInterfaces));

        Assert.False(NodeSettings.TryParse(json, out _, out var errors));
        Assert.Equal(expected, Assert.Single(errors));
    }

    [Fact]
    public void TryParse_SubInterfacesBeyondTheVlanLimit_Refused()
    {
        var json = Edit(n =>
        {
            n["interfaces"]![1]!["vlans"] = new JsonArray([.. Enumerable.Range(1, 64).Select(v => (JsonNode?)v)]);
            n["interfaces"]![1]!["subInterfaces"] = JsonNode.Parse("""[ { "vlan": 100, "addresses": ["203.0.113.1/24"] } ]""");
        });

        Assert.False(NodeSettings.TryParse(json, out _, out var errors));
        Assert.Equal("interfaces[1].subInterfaces: with the sub-interfaces' VLANs the trunk has 65 VLANs; at most 64", Assert.Single(errors));
    }

    [Theory]
    [InlineData("{ \"role\": ", "invalid JSON")]
    [InlineData("{ \"rolle\": \"dispatcher\" }", "invalid JSON")]
    [InlineData("null", "the configuration is empty")]
    public void TryParse_NotAConfiguration_OneReadableError(string json, string start)
    {
        Assert.False(NodeSettings.TryParse(json, out _, out var errors));
        Assert.StartsWith(start, Assert.Single(errors), StringComparison.Ordinal);
    }

    [Fact]
    public void TryLoad_MissingFile_NamesThePath()
    {
        var path = Path.Combine(Path.GetTempPath(), $"dva-missing-{Guid.NewGuid():N}.json");

        Assert.False(NodeSettings.TryLoad(path, out _, out var errors));
        Assert.Contains(path, Assert.Single(errors), StringComparison.Ordinal);
    }

    [Fact]
    public void TryParse_SecuritySection_ModeCipherKeysAndSendPhase()
    {
        var key = Convert.ToBase64String(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray());
        var json = Edit(n => n["tunnel"]!["security"] = JsonNode.Parse($$"""
            { "mode": "encrypted", "cipher": "chacha20", "keys": [ { "phase": 1, "id": 42, "key": "{{key}}" } ], "sendPhase": 1 }
            """));

        Assert.True(NodeSettings.TryParse(json, out var s, out var errors), string.Join("; ", errors));

        Assert.Equal(Dva.Shared.Security.TunnelSecurityMode.Encrypted, s!.Security.Mode);
        Assert.Equal(Dva.Shared.Security.AeadAlgorithm.ChaCha20Poly1305, s.Security.Cipher);
        Assert.Equal(24, s.Security.Overhead);
        var ring = new Dva.Shared.Security.TunnelKeyRing();
        s.Security.InstallInto(ring);
        Assert.Equal((1, 42u), (ring.SendPhase, ring.KeyOf(1)!.Id));
    }

    [Fact]
    public void TryParse_BadSecuritySection_EveryErrorNamedAndNoKeyEchoed()
    {
        var json = Edit(n => n["tunnel"]!["security"] = JsonNode.Parse("""
            { "mode": "secret", "cipher": "rot13", "keys": [ { "phase": 2, "id": 1, "key": "AAAA" }, { "phase": 0, "id": 0, "key": "c2hvcnQta2V5LXZhbHVl" } ], "sendPhase": 1 }
            """));

        Assert.False(NodeSettings.TryParse(json, out _, out var errors));

        Assert.Contains(errors, e => e.StartsWith("tunnel.security.mode:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("tunnel.security.cipher:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("tunnel.security.keys[0].phase:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("tunnel.security.keys[1].id:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("tunnel.security.keys[1].key:", StringComparison.Ordinal));
        Assert.DoesNotContain(errors, e => e.Contains("c2hvcnQta2V5LXZhbHVl", StringComparison.Ordinal));
    }

    [Fact]
    public void TryParse_SuperFrames_OffByDefaultTunnelMtu65535UnlessSet()
    {
        Assert.True(NodeSettings.TryParse(Edit(_ => { }), out var byDefault, out _));
        Assert.True(NodeSettings.TryParse(Edit(n => { n["superFrames"] = true; n["tunnel"]!.AsObject().Remove("mtu"); }), out var super, out var errors), string.Join("; ", errors));
        Assert.True(NodeSettings.TryParse(Edit(n => { n["superFrames"] = true; n["tunnel"]!["mtu"] = 20000; }), out var set, out errors), string.Join("; ", errors));

        Assert.False(byDefault!.SuperFrames);
        Assert.True(super!.SuperFrames);
        Assert.Equal(65535, super.TunnelMtu);
        Assert.Equal(20000, set!.TunnelMtu);
    }

    [Fact]
    public void TryParse_GsoSourceWithoutSuperFramesOrSuperFramesWithSecureTunnelOrSmallMtu_EachNamed()
    {
        var gsoSource = Edit(n => n["interfaces"]![1]!["source"] = "afpacket:eth1?gso=1");
        var secure = Edit(n =>
        {
            n["superFrames"] = true;
            n["tunnel"]!["security"] = JsonNode.Parse("""{ "mode": "authenticated", "keys": [ { "phase": 0, "id": 1, "key": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" } ] }""");
        });

        Assert.False(NodeSettings.TryParse(gsoSource, out _, out var errors));
        Assert.Contains(errors, e => e.StartsWith("interfaces[1].source:", StringComparison.Ordinal) && e.Contains("superFrames", StringComparison.Ordinal));
        Assert.False(NodeSettings.TryParse(secure, out _, out errors));
        Assert.Contains(errors, e => e.StartsWith("superFrames: implemented for a plain tunnel only", StringComparison.Ordinal));
        Assert.False(NodeSettings.TryParse(Edit(n => n["superFrames"] = true), out _, out errors));
        Assert.Contains(errors, e => e.StartsWith("tunnel.mtu: 1400 is too small for superFrames", StringComparison.Ordinal));
    }

    [Fact]
    public void TryParse_ParkPayloads_ADispatcherWithSuperFrames_ElseEachNamed()
    {
        static void Super(JsonNode n)
        {
            n["superFrames"] = true;
            n["tunnel"]!.AsObject().Remove("mtu");
            n["parkPayloads"] = true;
        }

        Assert.True(NodeSettings.TryParse(Edit(Super), out var parking, out var errors), string.Join("; ", errors));
        Assert.True(parking!.ParkPayloads);
        Assert.True(NodeSettings.TryParse(Edit(_ => { }), out var byDefault, out _));
        Assert.False(byDefault!.ParkPayloads);

        Assert.False(NodeSettings.TryParse(Edit(n => n["parkPayloads"] = true), out _, out errors));
        Assert.Contains("parkPayloads: needs \"superFrames\": true (only TCP super-frames are parked)", errors);
        Assert.False(NodeSettings.TryParse(Edit(n =>
        {
            Super(n);
            n["role"] = "dataplane";
            foreach (var i in n["interfaces"]!.AsArray())
            {
                i!.AsObject().Remove("source");
                i["dispatcher"] = 100;
            }
        }), out _, out errors));
        Assert.Contains("parkPayloads: a dispatcher's setting (a data plane takes parked super-frames without it)", errors);
    }

    [Fact]
    public void TryParse_Shortcuts_OnADispatcherWithAnAfPacketInterface_AndOnADataPlane_ElseEachNamed()
    {
        Assert.True(NodeSettings.TryParse(Edit(n => { n["shortcuts"] = true; n["shortcutCapacity"] = 1000; }), out var dispatcher, out var errors), string.Join("; ", errors));
        Assert.True(dispatcher!.Shortcuts);
        Assert.Equal(1000, dispatcher.ShortcutCapacity);
        Assert.True(NodeSettings.TryParse(Edit(n => n["shortcuts"] = true), out var byDefault, out _));
        Assert.Equal(65536, byDefault!.ShortcutCapacity);
        Assert.True(NodeSettings.TryParse(Edit(_ => { }), out var off, out _));
        Assert.False(off!.Shortcuts);
        Assert.True(NodeSettings.TryParse(Edit(n =>
        {
            n["shortcuts"] = true;
            n["role"] = "dataplane";
            foreach (var i in n["interfaces"]!.AsArray())
            {
                i!.AsObject().Remove("source");
                i["dispatcher"] = 100;
            }
        }), out var dataPlane, out errors), string.Join("; ", errors));
        Assert.True(dataPlane!.Shortcuts);

        Assert.False(NodeSettings.TryParse(Edit(n => { n["shortcuts"] = true; n["interfaces"]![1]!["source"] = "tap:dva1"; }), out _, out errors));
        Assert.Equal(["shortcuts: the kernel forwards shortcut flows between afpacket: interfaces, and this dispatcher has none"], errors);
        Assert.False(NodeSettings.TryParse(Edit(n => n["shortcutCapacity"] = 10), out _, out errors));
        Assert.Equal(["shortcutCapacity: a dispatcher's setting, with \"shortcuts\": true"], errors);
        Assert.False(NodeSettings.TryParse(Edit(n => { n["shortcuts"] = true; n["shortcutCapacity"] = 0; }), out _, out errors));
        Assert.Equal(["shortcutCapacity: 0 is out of range (1..4194304)"], errors);
    }

    [Fact]
    public void TryParse_RouterAdvertisements_OnADispatchersIpv6Interface_ElseEachNamed()
    {
        Assert.True(NodeSettings.TryParse(Edit(n => n["interfaces"]![0]!["routerAdvertisements"] = true), out var advertising, out var errors),
            string.Join("; ", errors));
        Assert.True(advertising!.Interfaces[0].RouterAdvertisements);
        Assert.False(advertising.Interfaces[1].RouterAdvertisements);

        // Interface 2 has only 198.51.100.1/24: nothing to advertise.
        Assert.False(NodeSettings.TryParse(Edit(n => n["interfaces"]![1]!["routerAdvertisements"] = true), out _, out errors));
        Assert.Contains("interfaces[1].routerAdvertisements: the interface has no IPv6 address, so there is no prefix to advertise", errors);

        Assert.False(NodeSettings.TryParse(Edit(n =>
        {
            n["role"] = "dataplane";
            foreach (var i in n["interfaces"]!.AsArray())
            {
                i!.AsObject().Remove("source");
                i["dispatcher"] = 100;
            }

            n["interfaces"]![0]!["routerAdvertisements"] = true;
        }), out _, out errors));
        Assert.Contains("interfaces[0].routerAdvertisements: a dispatcher's setting (the dispatcher faces the hosts)", errors);
    }

    [Fact]
    public void TryParse_Dhcpv6FlagsDnsServersAndSearch_TypedForTheAdvertisements()
    {
        var json = Edit(n =>
        {
            var i = n["interfaces"]![0]!;
            i["routerAdvertisements"] = true;
            i["dhcpv6"] = "Other";
            i["dnsServers"] = new JsonArray("2001:db8::53", "2001:db8:1::35");
            i["dnsSearch"] = new JsonArray("corp.example");
        });

        Assert.True(NodeSettings.TryParse(json, out var settings, out var errors), string.Join("; ", errors));
        var host = settings!.Interfaces[0].HostConfiguration;
        Assert.Equal(Dhcpv6Mode.Other, host.Dhcpv6);
        Assert.Equal(["2001:db8::53", "2001:db8:1::35"], host.DnsServers.Select(a => IpAddr.FromV6(a).ToString()));
        Assert.Equal("04636F7270076578616D706C65000000", Convert.ToHexString(host.SearchList));
        Assert.Same(HostConfiguration.None, settings.Interfaces[1].HostConfiguration);
    }

    [Fact]
    public void TryParse_BadHostConfiguration_EachNamed()
    {
        var json = Edit(n =>
        {
            var i = n["interfaces"]![1]!;
            i["dhcpv6"] = "stateful";
            i["dnsServers"] = new JsonArray("198.51.100.53", "2001:db8::53");
            i["dnsSearch"] = new JsonArray("corp_example");
        });

        Assert.False(NodeSettings.TryParse(json, out _, out var errors));
        Assert.Equal(
        [
            "interfaces[1].dhcpv6: 'stateful' is not one of none, other, managed",
            "interfaces[1].dnsServers[0]: '198.51.100.53' is not an IPv6 address (router advertisements carry IPv6 DNS servers only)",
            "interfaces[1].dnsSearch: 'corp_example' is not a domain name (labels of letters, digits and hyphens)",
            "interfaces[1]: dhcpv6, dnsServers and dnsSearch are sent in router advertisements; set \"routerAdvertisements\": true",
        ], errors);
    }

    private static string Edit(Action<JsonNode> edit)
    {
        var node = JsonNode.Parse(Valid, documentOptions: new() { CommentHandling = System.Text.Json.JsonCommentHandling.Skip, AllowTrailingCommas = true })!;
        edit(node);
        return node.ToJsonString();
    }
}
