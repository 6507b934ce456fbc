using System.Net.Sockets;
using System.Net;
using Dva.Node.Agent;
namespace Dva.Node.Tests.Functional;

/// <summary>A dispatcher on one engine facing real Linux hosts (<see cref="RootDispatcherLab"/>). Root only.</summary>
[Trait("Requires", "root")]
public sealed class RootDispatcherTests() : RootDispatcherLab(engines: 1, prefix: "dv1", serverVlans: "[20]")
{
    [Fact]
    public void Arping_SharedIp_RepliesWithTheSharedMac()
    {
        var output = Client.Exec("arping -c 2 -w 5 -I dv1c-h 192.0.2.1");

        Assert.Contains("02:00:00:00:00:01", output, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// A tagged ARP request for the shared IP (VLAN 10; this kernel has no VLAN devices, so the client writes it on a
    /// packet socket): the kernel takes the tag off before the dispatcher's socket reads it, the source puts it back, and
    /// the dispatcher answers with the shared MAC on VLAN 10. The client's packet socket reads the answer's tag from
    /// PACKET_AUXDATA, as the kernel untags on that side too.
    /// </summary>
    [Fact]
    public void ArpRequestOnVlan10_ForTheSharedIp_AnsweredOnVlan10WithTheSharedMac()
    {
        var output = RunClientScript("""
            import socket, struct, sys, time
            # ETH_P_ALL: the kernel clears the tag of a frame on a VLAN it has no device for before it reaches a socket
            # bound to one protocol; only the taps of every protocol see it.
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
            s.bind((sys.argv[1], 0))
            s.setsockopt(263, 8, 1)  # PACKET_AUXDATA
            s.settimeout(1)
            mac = bytes.fromhex("020000000a0a")
            arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac, socket.inet_aton("192.0.2.20"), bytes(6), socket.inet_aton("192.0.2.1"))
            s.send(b"\xff" * 6 + mac + struct.pack("!HH", 0x8100, 10) + struct.pack("!H", 0x0806) + arp)
            deadline = time.time() + 5
            while time.time() < deadline:
                try:
                    data, ancillary, _, _ = s.recvmsg(2048, 256)
                except socket.timeout:
                    continue
                if len(data) < 42 or data[12:14] != b"\x08\x06" or struct.unpack("!H", data[20:22])[0] != 2:
                    continue
                for level, kind, aux in ancillary:
                    if level == 263 and kind == 8:
                        status, _, _, _, _, tci, tpid = struct.unpack("IIIHHHH", aux[:20])
                        print(f"reply from {data[22:28].hex(':')} vlan {tci if status & 0x10 else 'none'}")
                        sys.exit(0)
            print("no reply")
            """);

        Assert.Equal("reply from 02:00:00:00:00:01 vlan 10", output.Trim());
    }

    /// <summary>
    /// A client on VLAN 10 pings the server on the untagged server network through the DVA: the echo leaves untagged
    /// toward the server, and the server's reply, which comes in untagged on the other interface, goes back to the
    /// client on VLAN 10 (the data plane remembers the VLAN each side of a flow came in on). The client answers the
    /// DVA's ARP for its address itself, on VLAN 10, as its kernel has no VLAN device.
    /// </summary>
    [Fact]
    public void PingFromVlan10_ToTheUntaggedServer_ReplyComesBackOnVlan10()
    {
        var output = RunClientScript(PacketSocketPrelude + """
            mine, shared = bytes.fromhex("020000000a0a"), bytes.fromhex("020000000001")
            me, server = socket.inet_aton("192.0.2.20"), socket.inet_aton("198.51.100.10")
            tag = struct.pack("!HH", 0x8100, 10)
            icmp = struct.pack("!BBHHH", 8, 0, 0, 0x4242, 1) + b"vlan ping"
            icmp = icmp[:2] + struct.pack("!H", checksum(icmp)) + icmp[4:]
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), 1, 0, 64, 1, 0, me, server)
            ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
            echo = shared + mine + tag + b"\x08\x00" + ip + icmp
            deadline, next_send = time.time() + 8, 0
            while time.time() < deadline:
                if time.time() >= next_send:
                    s.send(echo)
                    next_send = time.time() + 1
                data, vlan = receive()
                if data is None:
                    continue
                if data[12:14] == b"\x08\x06" and struct.unpack("!H", data[20:22])[0] == 1 and data[38:42] == me:
                    # The DVA resolves the client's address: answer on the VLAN it asked on.
                    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 2, mine, me, data[22:28], data[28:32])
                    s.send(data[22:28] + mine + (tag if vlan == "10" else b"") + b"\x08\x06" + arp)
                elif data[12:14] == b"\x08\x00" and data[23] == 1 and data[30:34] == me and data[34] == 0:
                    print(f"echo reply from {socket.inet_ntoa(data[26:30])} vlan {vlan}")
                    sys.exit(0)
            print("no reply")
            """);

        Assert.Equal("echo reply from 198.51.100.10 vlan 10", output.Trim());
    }

    /// <summary>
    /// The server's link shrunk to a 1 400-byte MTU while the DVA runs: the dispatcher reads the new MTU within a second,
    /// then a full-size ping without DF leaves toward the server as IPv4 fragments the server reassembles and answers,
    /// and one with DF is dropped as too big, and the client is told the server link's MTU.
    /// </summary>
    [Fact]
    public void Ping_FullSizeTowardA1400ByteServerLink_WithoutDfFragmentedAtEgress_WithDfToldTheMtu()
    {
        Dva.Exec($"ip link set {ServerSideDevice} mtu 1400");
        Server.Exec("ip link set dv1s-h mtu 1400");
        Thread.Sleep(TimeSpan.FromSeconds(1.5)); // the dispatcher reads its interfaces' MTUs every second
        var dispatcher = Hosts[1].Counters;

        var carried = Client.Exec("ping -M dont -s 1472 -c 3 -i 0.2 -W 3 198.51.100.10");
        // 1 428 bytes of IP: within the tunnel's 1 444, over the server link's 1 400.
        var refused = Client.Exec("ping -M do -s 1400 -c 1 -W 2 198.51.100.10", allowFailure: true);

        Assert.Contains("3 received", carried, StringComparison.Ordinal);
        Assert.Contains("1480 bytes from 198.51.100.10", carried, StringComparison.Ordinal);
        Assert.True(dispatcher.Snapshot().Tunnel(TunnelCounter.EgressFragmented) >= 3, "the echo requests left whole");
        // Told by the DVA, from the server link's shared address, through the data plane that owns the flow.
        Assert.Contains("From 198.51.100.1 icmp_seq=1 Frag needed and DF set (mtu = 1400)", refused, StringComparison.Ordinal);
        Assert.Equal(1, dispatcher.Snapshot().Drop(DropReason.EgressTooBig));
        Assert.Equal(1, dispatcher.Snapshot().Tunnel(TunnelCounter.EgressTooBigReported));
    }

    /// <summary>
    /// Path MTU discovery for TCP across the DVA: the DVA's end of the server link shrunk to 1 400 (as a smaller link
    /// beyond the DVA would be) while both hosts keep 1 500, so the server's MSS does not shrink the client's segments.
    /// The client's full segments (DF, as Linux sends them; 1 444 bytes after the DVA clamps the MSS to the tunnel) do
    /// not fit, the DVA tells the client the link's MTU, and the client resends smaller: a 1 MiB upload arrives whole.
    /// Without the ICMP the connection would stall at its first full segment.
    /// </summary>
    [Fact]
    public async Task TcpUpload_AcrossA1400ByteLinkToTheServer_PathMtuDiscoveredAndEveryByteArrives()
    {
        Dva.Exec($"ip link set {ServerSideDevice} mtu 1400");
        await Task.Delay(TimeSpan.FromSeconds(1.5)); // the dispatcher reads its interfaces' MTUs every second
        var payload = new byte[1 << 20];
        new Random(7).NextBytes(payload);
        using var listener = Server.Enter(() =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(IPAddress.Parse("198.51.100.10"), 7100));
            socket.Listen(1);
            return socket;
        });
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var server = Task.Run(async () =>
        {
            using var accepted = await listener.AcceptAsync(stop.Token);
            using var received = new MemoryStream();
            var buffer = new byte[65536];
            int n;
            while ((n = await accepted.ReceiveAsync(buffer, stop.Token)) > 0)
            {
                received.Write(buffer, 0, n);
            }

            return received.ToArray();
        });

        using (var client = Client.Enter(() => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)))
        {
            await client.ConnectAsync(new IPEndPoint(IPAddress.Parse("198.51.100.10"), 7100), stop.Token);
            _ = await client.SendAsync(payload, stop.Token);
            client.Shutdown(SocketShutdown.Send);
        }

        var arrived = await server;

        Assert.Equal(payload.Length, arrived.Length);
        Assert.True(payload.AsSpan().SequenceEqual(arrived), "the upload arrived changed");
        Assert.True(Hosts[1].Counters.Snapshot().Tunnel(TunnelCounter.EgressTooBigReported) >= 1, "no ICMP too-big was sent");
    }

    /// <summary>Runs a Python script in the client's namespace with the client's device as its argument; its output.</summary>
    /// <summary>
    /// The start of a host script on a packet socket bound to <c>sys.argv[1]</c>: an Internet checksum, and
    /// <c>receive()</c>, which gives (frame, VLAN id as text or "none"), or (None, None) after 0.2 s of nothing. This
    /// kernel has no VLAN devices and clears the tag of a frame on a VLAN it has no device for before a socket bound to
    /// one protocol sees it; a socket of every protocol (ETH_P_ALL) reads the tag from PACKET_AUXDATA.
    /// </summary>
    private string RunClientScript(string code) => RunScript(Client, "dv1c-h", code);

    /// <summary>
    /// The server side is a trunk of VLAN 20 (<c>"vlans": [20]</c>), where a host 198.51.100.20 sits that the DVA has
    /// never heard from (a script on a packet socket: this kernel has no VLAN devices). The client pings it: the
    /// dispatcher asks for it untagged and on VLAN 20, the host answers on VLAN 20 only, and the echoes reach it and
    /// their replies the client, tagged 20 on the server side. Without the trunk's VLANs the DVA's one untagged ARP
    /// request goes unanswered and every echo is lost.
    /// </summary>
    [Fact]
    public async Task Ping_ToAHostOnlyOnVlan20OfTheTrunk_FoundByTheTaggedArpAndAnswered()
    {
        var ready = Path.Combine(Path.GetTempPath(), $"dva-vlan-host-{Environment.ProcessId}-{Guid.NewGuid():N}");
        var host = Task.Factory.StartNew(() => RunScript(Server, "dv1s-h", PacketSocketPrelude + """
            open(sys.argv[2], "w").close()
            mine, me = bytes.fromhex("020000001414"), socket.inet_aton("198.51.100.20")
            tag = struct.pack("!HH", 0x8100, 20)
            asked, echoes, deadline = set(), 0, time.time() + 8
            while time.time() < deadline and echoes < 3:
                data, vlan = receive()
                if data is None:
                    continue
                if data[12:14] == b"\x08\x06" and struct.unpack("!H", data[20:22])[0] == 1 and data[38:42] == me:
                    if vlan not in asked:
                        print(f"arp request vlan {vlan}", flush=True)
                        asked.add(vlan)
                    if vlan == "20":
                        s.send(arp_reply(data, mine, me, tag))
                elif data[12:14] == b"\x08\x00" and data[23] == 1 and data[30:34] == me and data[34] == 8:
                    print(f"echo request vlan {vlan}", flush=True)
                    if vlan != "20":
                        continue
                    s.send(echo_reply(data, mine, tag))
                    echoes += 1
            """, ready), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        try
        {
            for (var i = 0; i < 100 && !File.Exists(ready); i++)
            {
                await Task.Delay(50);
            }

            var ping = Client.Exec("ping -c 3 -i 0.2 -W 3 198.51.100.20", allowFailure: true);
            var seen = await host.WaitAsync(TimeSpan.FromSeconds(20));

            Assert.Contains("3 received", ping, StringComparison.Ordinal);
            Assert.Contains("arp request vlan none", seen, StringComparison.Ordinal);
            Assert.Contains("arp request vlan 20", seen, StringComparison.Ordinal);
            Assert.Equal(3, seen.Split('\n').Count(l => l.Trim() == "echo request vlan 20"));
            Assert.DoesNotContain("echo request vlan none", seen, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(ready);
        }
    }

    /// <summary>
    /// IPv6 through the DVA between real Linux hosts that know nothing of it beforehand: the client finds the DVA's
    /// 2001:db8:1::1 by neighbour solicitation (the dispatcher answers with the shared MAC), the data plane asks the
    /// dispatcher to resolve the server, which solicits it, and the server finds 2001:db8:2::1 for its replies. Before,
    /// no solicitation for a shared address was answered and an unknown IPv6 next hop was dropped.
    /// </summary>
    [Fact]
    public void PingIpv6_ClientToServerThroughTheDva_NeighboursFoundBothWaysAndAnswered()
    {
        Client.Exec("sysctl -qw net.ipv6.conf.dv1c-h.disable_ipv6=0");
        Server.Exec("sysctl -qw net.ipv6.conf.dv1s-h.disable_ipv6=0");
        try
        {
            Client.Exec("ip -6 addr add 2001:db8:1::10/64 dev dv1c-h nodad");
            Client.Exec("ip -6 route add 2001:db8:2::/64 via 2001:db8:1::1");
            Server.Exec("ip -6 addr add 2001:db8:2::10/64 dev dv1s-h nodad");
            Server.Exec("ip -6 route add 2001:db8:1::/64 via 2001:db8:2::1");

            var output = Client.Exec("ping -6 -c 3 -i 0.2 -W 3 2001:db8:2::10", allowFailure: true);

            Assert.Contains("3 received", output, StringComparison.Ordinal);
            Assert.Contains("ttl=63", output, StringComparison.Ordinal);
            Assert.Contains("02:00:00:00:00:01", Client.Exec("ip -6 neigh show 2001:db8:1::1"), StringComparison.Ordinal);
            Assert.Contains("02:00:00:00:00:02", Server.Exec("ip -6 neigh show 2001:db8:2::1"), StringComparison.Ordinal);
        }
        finally
        {
            Client.Exec("sysctl -qw net.ipv6.conf.dv1c-h.disable_ipv6=1");
            Server.Exec("sysctl -qw net.ipv6.conf.dv1s-h.disable_ipv6=1");
        }
    }

    [Fact]
    public void Ping_ClientToServerThroughTheDva_Answered()
    {
        var output = Client.Exec("ping -c 3 -i 0.2 -W 3 198.51.100.10");

        Assert.Contains("3 received", output, StringComparison.Ordinal);
        // Through the DVA (one routed hop) the reply's TTL is the server's 64 minus one.
        Assert.Contains("ttl=63", output, StringComparison.Ordinal);
    }

    /// <summary>
    /// The DVA's fabric (its namespace's loopback) given a 1 500-byte MTU, the tunnel's default: a full-size IPv4 ping
    /// without DF crosses it in fragmented tunnel datagrams both ways (the dispatcher's and the data plane's flow-port
    /// senders fragment, the receiving kernel reassembles) and is answered; with DF the client is told the largest
    /// packet that fits (1 500 − 20 − 8 − 14 − 14 = 1 444).
    /// </summary>
    [Fact]
    public void Ping_FullSizeAcrossA1500ByteFabric_WithoutDfCarriedFragmented_WithDfToldTheMtu()
    {
        Dva.Exec("ip link set lo mtu 1500");
        var before = Dva.IpCounters()["ReasmOKs"];

        var carried = Client.Exec("ping -M dont -s 1472 -c 3 -i 0.2 -W 3 198.51.100.10");
        var reassembled = Dva.IpCounters()["ReasmOKs"] - before;
        var refused = Client.Exec("ping -M do -s 1472 -c 1 -W 3 198.51.100.10", allowFailure: true);

        Assert.Contains("3 received", carried, StringComparison.Ordinal);
        Assert.Contains("1480 bytes from 198.51.100.10", carried, StringComparison.Ordinal);
        // Each echo and each reply: DISPATCH and EGRESS, four tunnel datagrams, each in two fragments.
        Assert.True(reassembled >= 12, $"{reassembled} datagrams reassembled in the DVA's namespace");
        Assert.Contains("mtu = 1444", refused, StringComparison.Ordinal);
    }
}
