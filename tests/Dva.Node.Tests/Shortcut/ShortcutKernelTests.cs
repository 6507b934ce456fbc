using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;
using Dva.Node.Interop;
using Dva.Node.Io;
using Dva.Node.Shortcut;
using Dva.Node.Tests.DataPlane;
using Dva.Node.Tests.Io;
using Dva.Shared.Packets;

namespace Dva.Node.Tests.Shortcut;

/// <summary>
/// The shortcut's two BPF programs in the real kernel, byte by byte. One namespace, two veth pairs: frames written on
/// <c>in-h</c> arrive at <c>in-d</c>, which carries the verdict program on an AF_PACKET socket (the dispatcher's, here the
/// test's) and the forward program on its tcx ingress; a shortcut frame leaves by <c>out-d</c> and is read on
/// <c>out-h</c>. Root only.
/// </summary>
[Trait("Requires", "root")]
[Collection(Functional.KernelShortcutTests.Name)]
public sealed unsafe class ShortcutKernelTests : IDisposable
{
    private static readonly PhysicalAddress ServerMac = PhysicalAddress.Parse("02-5E-00-00-00-10");
    private static readonly PhysicalAddress SharedMac = PhysicalAddress.Parse("02-00-00-00-00-02");
    private static readonly PhysicalAddress InMac = new(TestFrames.SharedMacOutside);

    // Long enough that a busy machine does not end a lease in the middle of a test that is not about leases.
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(1);

    private readonly TestNetworkNamespace _ns = new();
    private readonly ShortcutTable _table;
    private readonly int _inject;
    private readonly int _dispatcher;
    private readonly int _sink;
    private readonly int _inIndex;
    private readonly int _outIndex;

    public ShortcutKernelTests()
    {
        TestNetworkNamespace.Ip($"-n {_ns.Name} link add in-h type veth peer name in-d");
        TestNetworkNamespace.Ip($"-n {_ns.Name} link add out-d type veth peer name out-h");
        foreach (var device in new[] { "in-h", "in-d", "out-d", "out-h" })
        {
            TestNetworkNamespace.Ip($"-n {_ns.Name} link set {device} up");
        }

        (_table, _inject, _dispatcher, _sink, _inIndex, _outIndex) = _ns.Enter(() =>
        {
            var table = ShortcutTable.Create(4096, Lease);
            var inject = AfPacketSocket.Open("in-h", promiscuous: false, 1 << 20, out _, receive: false);
            var dispatcher = AfPacketSocket.Open("in-d", promiscuous: true, 1 << 20, out var inIndex);
            table.AttachVerdict(dispatcher, "in-d");
            table.AttachForward(inIndex, "in-d");
            var sink = AfPacketSocket.Open("out-h", promiscuous: true, 1 << 20, out _);
            return (table, inject, dispatcher, sink, inIndex, NetworkInterfaceControl.GetIndex("out-d"));
        });
    }

    [Fact]
    public void UdpFrames_OfAShortcutFlow_LeaveRewrittenByTheKernel_AndTheSocketNeverSeesThem()
    {
        Install(Key(17, "192.0.2.10", 5000, "198.51.100.10", 6000));

        for (var i = 0; i < 5; i++)
        {
            Send(TestFrames.Udp("192.0.2.10", 5000, "198.51.100.10", 6000, payload: 100, ttl: 64));
        }

        var frames = Drain(_sink, expected: 5);
        Assert.Equal(5, frames.Count);
        var original = TestFrames.Udp("192.0.2.10", 5000, "198.51.100.10", 6000, payload: 100, ttl: 64);
        foreach (var frame in frames)
        {
            Assert.Equal(original.Length, frame.Length);
            Assert.Equal(ServerMac.GetAddressBytes(), frame[..6]);
            Assert.Equal(SharedMac.GetAddressBytes(), frame[6..12]);
            Assert.Equal(63, frame[14 + 8]);
            Assert.True(Checksum.VerifyIpv4Header(frame.AsSpan(14, 20)), "the IPv4 header checksum after the TTL change");

            // Everything else is the frame as sent: addresses, ports, payload, UDP checksum.
            Assert.Equal(original[(14 + 9)..(14 + 10)], frame[(14 + 9)..(14 + 10)]);
            Assert.Equal(original[(14 + 12)..], frame[(14 + 12)..]);
        }

        Assert.Empty(Drain(_dispatcher, expected: 0));
        Assert.True(TryGet(Key(17, "192.0.2.10", 5000, "198.51.100.10", 6000), out var entry));
        Assert.Equal(5UL, entry.Packets);
        Assert.Equal((ulong)(5 * original.Length), entry.Bytes);
        Assert.Equal((0UL, 0UL), _table.ReadState());
    }

    [Fact]
    public void FramesOfOtherFlows_AndTtlOne_AndFragments_GoToTheSocket_Unchanged()
    {
        Install(Key(17, "192.0.2.10", 5000, "198.51.100.10", 6000));
        var otherPort = TestFrames.Udp("192.0.2.10", 5001, "198.51.100.10", 6000);
        var ttlOne = TestFrames.Udp("192.0.2.10", 5000, "198.51.100.10", 6000, ttl: 1);
        var fragment = TestFrames.Udp("192.0.2.10", 5000, "198.51.100.10", 6000);
        fragment[14 + 6] = 0x20;                                                  // MF
        Checksum.WriteIpv4Header(fragment.AsSpan(14, 20));

        foreach (var frame in new[] { otherPort, ttlOne, fragment })
        {
            Send(frame);
        }

        var seen = Drain(_dispatcher, expected: 3);
        Assert.Equal([otherPort, ttlOne, fragment], seen);
        Assert.Empty(Drain(_sink, expected: 0));
    }

    [Fact]
    public void Lease_OneFramePerIntervalGoesToTheSocket_AndAnUnrenewedLeaseSendsTheFlowBack()
    {
        var key = Key(17, "192.0.2.10", 5000, "198.51.100.10", 6000);
        Install(key);
        var frame = TestFrames.Udp("192.0.2.10", 5000, "198.51.100.10", 6000);

        Send(frame);
        Assert.Single(Drain(_sink, expected: 1));
        Thread.Sleep(Lease + TimeSpan.FromMilliseconds(200));
        Send(frame);                                                              // the lease is over: the keep-alive
        Send(frame);                                                              // and the lease still holds for this one
        Assert.Single(Drain(_dispatcher, expected: 1));
        Assert.Single(Drain(_sink, expected: 1));
        Assert.True(TryGet(key, out var pending));
        Assert.True(pending.Pending);

        Thread.Sleep(Lease + TimeSpan.FromMilliseconds(200)); // nobody renewed it
        Send(frame);
        Send(frame);
        Assert.Equal(2, Drain(_dispatcher, expected: 2).Count);
        Assert.Empty(Drain(_sink, expected: 0));

        Assert.Equal(ShortcutInstall.Renewed, Install(key));
        Send(frame);
        Assert.Single(Drain(_sink, expected: 1));
        Assert.True(TryGet(key, out var renewed));
        Assert.Equal(3UL, renewed.Packets);
    }

    [Fact]
    public void TcpFin_GoesToTheSocket_AndWithdrawsTheShortcut()
    {
        var key = Key(6, "192.0.2.10", 40000, "198.51.100.10", 80);
        Install(key);
        var data = TestFrames.Tcp("192.0.2.10", 40000, "198.51.100.10", 80, TcpFlags.Ack | TcpFlags.Psh);
        var fin = TestFrames.Tcp("192.0.2.10", 40000, "198.51.100.10", 80, TcpFlags.Ack | TcpFlags.Fin);

        Send(data);
        Assert.Single(Drain(_sink, expected: 1));
        Send(fin);
        Send(data);

        Assert.Equal([fin, data], Drain(_dispatcher, expected: 2));
        Assert.True(TryGet(key, out var entry));
        Assert.True(entry.Withdrawn);
        Assert.Equal(ShortcutInstall.Installed, Install(key));
    }

    [Fact]
    public void Ipv6_HopLimitDecremented_AndATooBigFrame_GoesToTheSocket()
    {
        Install(Key(17, "2001:db8:1::10", 5000, "2001:db8:2::10", 6000), mtu: 1280);
        var small = TestFrames.Udp("2001:db8:1::10", 5000, "2001:db8:2::10", 6000, payload: 100);
        var big = TestFrames.Udp("2001:db8:1::10", 5000, "2001:db8:2::10", 6000, payload: 1300);

        Send(small);
        Send(big);

        var forwarded = Assert.Single(Drain(_sink, expected: 1));
        Assert.Equal(63, forwarded[14 + 7]);
        Assert.Equal(small[(14 + 8)..], forwarded[(14 + 8)..]);
        Assert.Equal([big], Drain(_dispatcher, expected: 1));
    }

    [Fact]
    public void FrameToAnotherDestinationMac_GoesToTheSocket()
    {
        Install(Key(17, "192.0.2.10", 5000, "198.51.100.10", 6000));
        var frame = TestFrames.Udp("192.0.2.10", 5000, "198.51.100.10", 6000);
        frame[5] = 0x77;                                                          // a neighbour's unicast, seen in promiscuous mode

        Send(frame);

        Assert.Equal([frame], Drain(_dispatcher, expected: 1));
        Assert.Empty(Drain(_sink, expected: 0));
    }

    /// <summary>A tagged frame matches the key of its VLAN only, and leaves tagged as the entry says (tcpdump reads the tag).</summary>
    [Fact]
    public void Vlan_TheIngressTagIsPartOfTheKey_AndTheEgressTagIsTheEntrys()
    {
        var tagged20 = Tagged(TestFrames.Udp("192.0.2.10", 5000, "198.51.100.10", 6000), 20);
        var tagged40 = Tagged(TestFrames.Udp("192.0.2.10", 5000, "198.51.100.10", 6000), 40);
        using var capture = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(
            "ip", $"netns exec {_ns.Name} timeout 5 tcpdump -i out-h -e -nn -c 1 -l")
        { RedirectStandardOutput = true, RedirectStandardError = true })!;
        Thread.Sleep(1000);                                                       // tcpdump's socket is open
        Install(Key(17, "192.0.2.10", 5000, "198.51.100.10", 6000) with { Vlan = 20 }, egressTci: 30);

        Send(tagged20);
        Send(tagged40);

        capture.WaitForExit(6000);
        var line = capture.StandardOutput.ReadToEnd();
        Assert.Contains("vlan 30", line, StringComparison.Ordinal);
        Assert.Contains("192.0.2.10.5000 > 198.51.100.10.6000", line, StringComparison.Ordinal);
        var seen = Assert.Single(Drain(_dispatcher, expected: 1));
        Assert.Equal(tagged40.Length - 4, seen.Length);                            // the socket gets it with the tag taken off
    }

    /// <summary>The sweep reads the map in batches of 1 024 and removes what serves no more, keeping what it forwarded in the totals.</summary>
    [Fact]
    public void Sweep_RemovesAWithdrawnEntryAfterALease_KeepsTheLiveOnes_AndTotalsCountBoth()
    {
        var shortcuts = new DispatcherShortcuts(_table, counters: null);
        var closed = Key(6, "192.0.2.10", 40000, "198.51.100.10", 80);
        Install(closed);
        for (ushort port = 1; port <= 3000; port++)
        {
            Install(Key(17, "192.0.2.20", port, "198.51.100.10", 6000));
        }

        Send(TestFrames.Tcp("192.0.2.10", 40000, "198.51.100.10", 80, TcpFlags.Ack));
        Send(TestFrames.Tcp("192.0.2.10", 40000, "198.51.100.10", 80, TcpFlags.Ack | TcpFlags.Fin));
        Send(TestFrames.Udp("192.0.2.20", 7, "198.51.100.10", 6000));
        Assert.Equal(2, Drain(_sink, expected: 2).Count);

        Assert.Equal(0, shortcuts.Sweep());                                       // withdrawn, but not a lease ago
        Assert.Equal(3001, shortcuts.Snapshot().Count);
        Thread.Sleep(Lease + TimeSpan.FromMilliseconds(200));
        Assert.Equal(1, shortcuts.Sweep());

        var left = shortcuts.Snapshot();
        Assert.Equal(3000, left.Count);
        Assert.DoesNotContain(left, e => e.Key.Protocol == 6);
        Assert.Equal((2UL, 3000), (shortcuts.Totals.Packets, shortcuts.Totals.Entries));
    }

    /// <summary>
    /// A translated flow (the load balancer's DNAT and SNAT at once): the kernel writes the entry's addresses and ports,
    /// and both the IPv4 header checksum and the TCP checksum are right afterwards (recomputed here in full).
    /// </summary>
    [Fact]
    public void Rewrite_Ipv4Tcp_AddressesAndPortsWritten_ChecksumsRight()
    {
        var rewrite = new ShortcutRewrite(V4("198.51.100.1"), V4("198.51.100.20"), 61000, 8080);
        Install(Key(6, "192.0.2.10", 40000, "192.0.2.100", 80), rewrite: rewrite);
        var frame = TestFrames.Tcp("192.0.2.10", 40000, "192.0.2.100", 80, TcpFlags.Ack | TcpFlags.Psh);

        Send(frame);

        var sent = Assert.Single(Drain(_sink, expected: 1));
        Assert.Equal(frame.Length, sent.Length);
        Assert.Equal(IPAddress.Parse("198.51.100.1").GetAddressBytes(), sent[26..30]);
        Assert.Equal(IPAddress.Parse("198.51.100.20").GetAddressBytes(), sent[30..34]);
        Assert.Equal((61000, 8080), (BinaryPrimitives.ReadUInt16BigEndian(sent.AsSpan(34)), BinaryPrimitives.ReadUInt16BigEndian(sent.AsSpan(36))));
        Assert.Equal(63, sent[22]);
        Assert.True(Checksum.VerifyIpv4Header(sent.AsSpan(14, 20)), "the IPv4 header checksum");
        var segment = sent.AsSpan(34);
        Assert.True(Checksum.Verify(segment, Checksum.PseudoHeaderV4(sent.AsSpan(26, 4), sent.AsSpan(30, 4), 6, segment.Length)), "the TCP checksum");
        Assert.Equal(frame[38..50], sent[38..50]);                                // sequence, ack, offset, flags, window
    }

    /// <summary>IPv6 UDP, destination only: the addresses' four words each and the port, and the UDP checksum right.</summary>
    [Fact]
    public void Rewrite_Ipv6Udp_DestinationRewritten_ChecksumRight()
    {
        var rewrite = new ShortcutRewrite(V6("2001:db8:1::10"), V6("2001:db8:2::20"), 5000, 7000);
        Install(Key(17, "2001:db8:1::10", 5000, "2001:db8:1::100", 53), rewrite: rewrite);
        var frame = TestFrames.Udp("2001:db8:1::10", 5000, "2001:db8:1::100", 53, payload: 40);

        Send(frame);

        var sent = Assert.Single(Drain(_sink, expected: 1));
        Assert.Equal(frame[22..38], sent[22..38]);
        Assert.Equal(IPAddress.Parse("2001:db8:2::20").GetAddressBytes(), sent[38..54]);
        Assert.Equal(7000, BinaryPrimitives.ReadUInt16BigEndian(sent.AsSpan(56)));
        var datagram = sent.AsSpan(54);
        Assert.True(Checksum.Verify(datagram, Checksum.PseudoHeaderV6(sent.AsSpan(22, 16), sent.AsSpan(38, 16), 17, datagram.Length)), "the UDP checksum");
        Assert.Equal(frame[62..], sent[62..]);
    }

    /// <summary>An IPv4 UDP datagram without a checksum (0) keeps none after the rewrite.</summary>
    [Fact]
    public void Rewrite_Ipv4UdpWithoutChecksum_StaysWithout()
    {
        Install(Key(17, "192.0.2.10", 5000, "192.0.2.100", 53), rewrite: new ShortcutRewrite(V4("192.0.2.10"), V4("198.51.100.20"), 5000, 53));
        var frame = TestFrames.Udp("192.0.2.10", 5000, "192.0.2.100", 53);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(40), 0);

        Send(frame);

        var sent = Assert.Single(Drain(_sink, expected: 1));
        Assert.Equal(IPAddress.Parse("198.51.100.20").GetAddressBytes(), sent[30..34]);
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(sent.AsSpan(40)));
        Assert.True(Checksum.VerifyIpv4Header(sent.AsSpan(14, 20)));
    }

    [Fact]
    public void KeyFromAnotherInterface_DoesNotMatch()
    {
        Install(Key(17, "192.0.2.10", 5000, "198.51.100.10", 6000) with { IfIndex = _outIndex });

        var frame = TestFrames.Udp("192.0.2.10", 5000, "198.51.100.10", 6000);
        Send(frame);

        Assert.Equal([frame], Drain(_dispatcher, expected: 1));
    }

    public void Dispose()
    {
        foreach (var fd in new[] { _inject, _dispatcher, _sink })
        {
            _ = Libc.close(fd);
        }

        _table.Dispose();
        _ns.Dispose();
    }

    private ShortcutKey Key(byte protocol, string source, ushort sourcePort, string destination, ushort destinationPort) =>
        new(_inIndex, 0, protocol, IPAddress.Parse(source), IPAddress.Parse(destination), sourcePort, destinationPort);

    private ShortcutInstall Install(ShortcutKey key, int mtu = 1500, ushort egressTci = 0, ShortcutRewrite? rewrite = null)
    {
        Span<byte> bytes = stackalloc byte[ShortcutLayout.KeySize];
        key.Write(bytes);
        return _table.Install(bytes, new ShortcutRoute(_outIndex, egressTci, ServerMac, SharedMac, mtu, InMac, rewrite), ShortcutTable.MonotonicNanoseconds());
    }

    private static UInt128 V4(string address) => BinaryPrimitives.ReadUInt128BigEndian([.. IPAddress.Parse(address).GetAddressBytes(), .. new byte[12]]);

    private static UInt128 V6(string address) => BinaryPrimitives.ReadUInt128BigEndian(IPAddress.Parse(address).GetAddressBytes());

    private static byte[] Tagged(byte[] frame, ushort vlan)
    {
        var tagged = new byte[frame.Length + 4];
        frame.AsSpan(0, 12).CopyTo(tagged);
        BinaryPrimitives.WriteUInt16BigEndian(tagged.AsSpan(12), 0x8100);
        BinaryPrimitives.WriteUInt16BigEndian(tagged.AsSpan(14), vlan);
        frame.AsSpan(12).CopyTo(tagged.AsSpan(16));
        return tagged;
    }

    private bool TryGet(ShortcutKey key, out ShortcutEntry entry)
    {
        Span<byte> bytes = stackalloc byte[ShortcutLayout.KeySize];
        key.Write(bytes);
        return _table.TryGet(bytes, out entry);
    }

    private void Send(byte[] frame)
    {
        fixed (byte* pointer = frame)
        {
            Assert.Equal(frame.Length, (int)Libc.write(_inject, pointer, (nuint)frame.Length));
        }
    }

    /// <summary>The frames the socket holds: waits up to a second for <paramref name="expected"/>, then 100 ms for any more.</summary>
    private static List<byte[]> Drain(int fd, int expected)
    {
        var frames = new List<byte[]>();
        var buffer = new byte[70000];
        var deadline = Environment.TickCount64 + 1000;
        var quietUntil = long.MaxValue;
        while (Environment.TickCount64 < Math.Min(deadline, quietUntil))
        {
            nint n;
            fixed (byte* pointer = buffer)
            {
                n = Libc.read(fd, pointer, (nuint)buffer.Length);
            }

            if (n > 0)
            {
                frames.Add(buffer[..(int)n]);
                continue;
            }

            if (frames.Count >= expected && quietUntil == long.MaxValue)
            {
                quietUntil = Environment.TickCount64 + 100;
            }

            Thread.Sleep(5);
        }

        return frames;
    }
}
