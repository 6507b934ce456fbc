using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Dva.Node.Tests.Functional;

/// <summary>
/// A VLAN sub-interface with subnets of its own, facing hosts (<see cref="RootDispatcherLab"/>): the server side is a
/// trunk whose VLAN 20 is 203.0.113.1/24 and 2001:db8:20::1/64 on the DVA. On VLAN 20 sits a host 203.0.113.10 (a
/// script on a packet socket: this kernel has no VLAN devices); untagged, the real Linux server. Root only.
/// </summary>
[Trait("Requires", "root")]
public sealed partial class RootSubInterfaceTests() : RootDispatcherLab(engines: 1, prefix: "dsv", routerAdvertisements: true,
    serverSubInterfaces: """[ { "vlan": 20, "addresses": ["203.0.113.1/24", "2001:db8:20::1/64"] } ]""")
{
    /// <summary>
    /// The client pings the VLAN host the DVA never heard from: the DVA asks for it on VLAN 20 only, from VLAN 20's
    /// address, and the echoes go both ways. The host then asks for 203.0.113.1 untagged (no answer) and on VLAN 20
    /// (the shared MAC), pings it, and solicits a router on VLAN 20: the advertisement carries 2001:db8:20::/64 only.
    /// The untagged Linux server, meanwhile, makes its SLAAC address in 2001:db8:2::/64 and none in VLAN 20's prefix.
    /// </summary>
    [Fact]
    public async Task HostOnTheSubInterfacesVlan_FoundThereFirst_AndTheSubInterfaceAnswersOnItsVlanOnly()
    {
        var ready = Path.Combine(Path.GetTempPath(), $"dva-subif-host-{Environment.ProcessId}-{Guid.NewGuid():N}");
        var host = Task.Factory.StartNew(() => RunScript(Server, "dsvs-h", PacketSocketPrelude + VlanHost, ready),
            CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        string output;
        try
        {
            for (var i = 0; i < 100 && !File.Exists(ready); i++)
            {
                await Task.Delay(50);
            }

            var ping = Client.Exec("ping -c 3 -i 0.2 -W 3 203.0.113.10", allowFailure: true);
            Assert.Contains("3 received", ping, StringComparison.Ordinal);
        }
        finally
        {
            output = await host;
            File.Delete(ready);
        }

        Assert.Contains("arp request vlan 20 from 203.0.113.1", output, StringComparison.Ordinal);
        Assert.DoesNotContain("arp request vlan none", output, StringComparison.Ordinal);
        Assert.Contains("echoes 3", output, StringComparison.Ordinal);
        Assert.Contains("asked untagged: no answer", output, StringComparison.Ordinal);
        Assert.Contains("asked on vlan 20: 020000000002 vlan 20", output, StringComparison.Ordinal);
        Assert.Contains("echo reply vlan 20 from 203.0.113.1", output, StringComparison.Ordinal);
        Assert.Contains("router advertisement vlan 20 prefixes 2001:db8:20::/64", output, StringComparison.Ordinal);
        var neighbours = JsonNode.Parse(JsonSerializer.Serialize(await Hosts[1].Role.Neighbours()))!.AsArray();
        var vlanHost = Assert.Single(neighbours, n => (string?)n!["Address"] == "203.0.113.10");
        Assert.Equal(20, (int)vlanHost!["Vlan"]!);

        Server.Exec("sysctl -qw net.ipv6.conf.dsvs-h.disable_ipv6=0");
        var untagged = Until(() => Server.Exec("ip -6 -o addr show dev dsvs-h scope global"),
            a => UntaggedAddress().IsMatch(a) && !a.Contains("tentative", StringComparison.Ordinal));
        Assert.DoesNotContain("2001:db8:20:", untagged, StringComparison.Ordinal);
    }

    private const string VlanHost = """
        import ipaddress
        open(sys.argv[2], "w").close()
        mine, me, dva = bytes.fromhex("02000000140a"), socket.inet_aton("203.0.113.10"), socket.inet_aton("203.0.113.1")
        tag = struct.pack("!HH", 0x8100, 20)
        asked, echoes, deadline = set(), 0, time.time() + 8
        while time.time() < deadline and echoes < 3:
            data, vlan = receive()
            if data is None:
                continue
            if data[12:14] == b"\x08\x06" and struct.unpack("!H", data[20:22])[0] == 1 and data[38:42] == me:
                if vlan not in asked:
                    print(f"arp request vlan {vlan} from {socket.inet_ntoa(data[28:32])}", flush=True)
                    asked.add(vlan)
                if vlan == "20":
                    s.send(arp_reply(data, mine, me, tag))
            elif vlan == "20" and data[12:14] == b"\x08\x00" and data[23] == 1 and data[30:34] == me and data[34] == 8:
                s.send(echo_reply(data, mine, tag))
                echoes += 1
        print(f"echoes {echoes}", flush=True)

        def wait(match, seconds):
            until = time.time() + seconds
            while time.time() < until:
                data, vlan = receive()
                if data is not None and match(data, vlan):
                    return data, vlan
            return None, None

        def is_arp_reply(data, vlan):
            return data[12:14] == b"\x08\x06" and struct.unpack("!H", data[20:22])[0] == 2 and data[28:32] == dva

        request = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mine, me, bytes(6), dva)
        s.send(b"\xff" * 6 + mine + b"\x08\x06" + request)
        data, vlan = wait(is_arp_reply, 1.5)
        print("asked untagged: " + ("no answer" if data is None else f"{data[22:28].hex()} vlan {vlan}"), flush=True)
        s.send(b"\xff" * 6 + mine + tag + b"\x08\x06" + request)
        data, vlan = wait(is_arp_reply, 3)
        print("asked on vlan 20: " + ("no answer" if data is None else f"{data[22:28].hex()} vlan {vlan}"), flush=True)
        dva_mac = data[22:28] if data is not None else b"\xff" * 6

        ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28, 7, 0, 64, 1, 0, me, dva))
        ip[10:12] = struct.pack("!H", checksum(bytes(ip)))
        icmp = bytearray(struct.pack("!BBHHH", 8, 0, 0, 0x2014, 1))
        icmp[2:4] = struct.pack("!H", checksum(bytes(icmp)))
        s.send(dva_mac + mine + tag + b"\x08\x00" + bytes(ip) + bytes(icmp))
        data, vlan = wait(lambda d, v: d[12:14] == b"\x08\x00" and d[23] == 1 and d[34] == 0 and d[26:30] == dva, 3)
        if data is not None:
            print(f"echo reply vlan {vlan} from {socket.inet_ntoa(data[26:30])}", flush=True)

        # A router solicitation from the unspecified address (no link-layer option), to all routers, on VLAN 20.
        source, routers = bytes(16), ipaddress.IPv6Address("ff02::2").packed
        rs = bytearray(struct.pack("!BBHI", 133, 0, 0, 0))
        pseudo = source + routers + struct.pack("!I3xB", len(rs), 58)
        rs[2:4] = struct.pack("!H", checksum(pseudo + bytes(rs)))
        ipv6 = struct.pack("!IHBB", 0x60000000, len(rs), 58, 255) + source + routers
        s.send(bytes.fromhex("333300000002") + mine + tag + b"\x86\xdd" + ipv6 + bytes(rs))
        data, vlan = wait(lambda d, v: v == "20" and d[12:14] == b"\x86\xdd" and d[20] == 58 and d[54] == 134, 5)
        if data is not None:
            prefixes, option = [], 54 + 16
            while option + 2 <= len(data) and data[option + 1] > 0:
                if data[option] == 3:
                    prefixes.append(f"{ipaddress.IPv6Address(data[option + 16:option + 32])}/{data[option + 2]}")
                option += data[option + 1] * 8
            print(f"router advertisement vlan {vlan} prefixes {' '.join(prefixes)}", flush=True)
        """;

    [GeneratedRegex(@"inet6 (2001:db8:2:0:[0-9a-f:]+)/64")]
    private static partial Regex UntaggedAddress();
}
