using System.Net.NetworkInformation;
using Dva.Node.Io;

namespace Dva.Node.Tests.Io;

/// <summary>afpacket: and tap: against real devices in a namespace the test creates. Root only (see <see cref="TestNetworkNamespace"/>).</summary>
[Trait("Requires", "root")]
public sealed class RootFrameSourceTests : IDisposable
{
    private const int TestEthertype = 0x88B5;
    private readonly TestNetworkNamespace _namespace = new();
    private readonly List<IDisposable> _open = [];

    public void Dispose()
    {
        foreach (var item in _open)
        {
            item.Dispose();
        }

        _namespace.Dispose();
    }

    [Fact]
    public void AfPacket_VethPair_FrameSentOnOneEndArrivesByteExactOnTheOther()
    {
        CreateVethPair();
        var (a, b) = _namespace.Enter(() => (Open("afpacket:dvaveth0"), Open("afpacket:dvaveth1")));
        var frame = Frame(destination: "02:00:00:00:00:02", source: "02:00:00:00:00:01", length: 200);

        var sent = a.Send([PortHelpers.Frame(frame)]);
        var received = PortHelpers.ReceiveMatching(b, 1, IsTestFrame);

        Assert.Equal(1, sent);
        Assert.Equal(frame, received[0].Frame);
    }

    /// <summary>
    /// The kernel takes an 802.1Q or 802.1ad tag off every frame before a packet socket reads it (into the socket's
    /// auxiliary data or the ring's frame header): each kind of <c>afpacket:</c> source puts it back, so tagged frames
    /// arrive byte-exact, in order with an untagged one. Without it the DVA would forward them onto the untagged network.
    /// </summary>
    [Theory]
    [InlineData("afpacket:dvaveth1")]
    [InlineData("afpacket:dvaveth1?ring=1")]
    [InlineData("afpacket:dvaveth1?gso=1")]
    public void AfPacket_VlanTaggedFrames_ArriveWithTheirTags(string receiver)
    {
        CreateVethPair();
        var (a, b) = _namespace.Enter(() => (Open("afpacket:dvaveth0"), Open(receiver)));
        var plain = Frame(destination: "02:00:00:00:00:02", source: "02:00:00:00:00:01", length: 120);
        byte[] dot1q = [.. plain[..12], 0x81, 0x00, 0x20, 0x64, .. plain[12..]];
        byte[] dot1ad = [.. plain[..12], 0x88, 0xA8, 0x00, 0x07, .. plain[12..]];

        Assert.Equal(3, a.Send([PortHelpers.Frame(dot1q), PortHelpers.Frame(plain), PortHelpers.Frame(dot1ad)]));
        var received = PortHelpers.ReceiveMatching(b, 3, f => f.Length > 14 && f.AsSpan(6, 6).SequenceEqual(plain.AsSpan(6, 6)));

        Assert.True(received.Select(r => r.Frame).SequenceEqual([dot1q, plain, dot1ad], ByteArrays), string.Join(" | ", received.Select(r => Convert.ToHexString(r.Frame.AsSpan(0, 20)))));
    }

    [Fact]
    public void AfPacket_OwnTransmission_NotReadBack()
    {
        CreateVethPair();
        var (a, b) = _namespace.Enter(() => (Open("afpacket:dvaveth0"), Open("afpacket:dvaveth1")));
        var outgoing = Frame(destination: "02:00:00:00:00:02", source: "02:00:00:00:00:01", length: 80);
        var reply = Frame(destination: "02:00:00:00:00:01", source: "02:00:00:00:00:02", length: 90);

        a.Send([PortHelpers.Frame(outgoing)]);
        PortHelpers.ReceiveMatching(b, 1, IsTestFrame);
        b.Send([PortHelpers.Frame(reply)]);
        var seenByA = PortHelpers.ReceiveMatching(a, 1, IsTestFrame);

        // a's first test frame is b's reply, not its own transmission read back.
        Assert.Equal(reply, seenByA[0].Frame);
    }

    [Fact]
    public void InterfaceLookups_Veth_ReturnConfiguredMtuAndMac()
    {
        CreateVethPair();
        _namespace.Exec("ip link set dvaveth0 mtu 1400 address 02:00:00:00:00:01");

        var (mtu, mac, up, source) = _namespace.Enter(() => (
            NetworkInterfaceControl.GetMtu("dvaveth0"),
            NetworkInterfaceControl.GetMacAddress("dvaveth0"),
            NetworkInterfaceControl.IsUp("dvaveth0"),
            Open("afpacket:dvaveth0")));

        Assert.Equal(1400, mtu);
        Assert.Equal(PhysicalAddress.Parse("02-00-00-00-00-01"), mac);
        Assert.True(up);
        Assert.Equal(1400, source.Mtu);
        Assert.Equal(mac, source.MacAddress);
    }

    [Fact]
    public void Tap_FrameWrittenToDevice_ArrivesOnInterfaceAndBackByteExact()
    {
        var (tap, capture, mtu) = _namespace.Enter(() =>
        {
            var device = Open("tap:dvatest0");
            return (device, Open("afpacket:dvatest0"), NetworkInterfaceControl.GetMtu("dvatest0"));
        });
        _namespace.Exec("ip link set dvatest0 address 02:00:00:00:00:0a");
        var mac = _namespace.Enter(() => NetworkInterfaceControl.GetMacAddress("dvatest0"));
        var inbound = Frame(destination: "02:00:00:00:00:0a", source: "02:00:00:00:00:0b", length: 300);
        var outbound = Frame(destination: "02:00:00:00:00:0b", source: "02:00:00:00:00:0a", length: 1514);

        Assert.Equal(1, tap.Send([PortHelpers.Frame(inbound)]));
        var captured = PortHelpers.ReceiveMatching(capture, 1, IsTestFrame);
        Assert.Equal(1, capture.Send([PortHelpers.Frame(outbound)]));
        var read = PortHelpers.ReceiveMatching(tap, 1, IsTestFrame);

        Assert.Equal(inbound, captured[0].Frame);
        Assert.Equal(outbound, read[0].Frame);
        Assert.Equal(1500, mtu);
        Assert.Equal(1500, tap.Mtu);
        Assert.NotNull(tap.MacAddress);
        Assert.Equal(PhysicalAddress.Parse("02-00-00-00-00-0A"), mac);
    }

    [Fact]
    public void AfPacket_Promiscuous_HeldWhileSourceIsOpen()
    {
        CreateVethPair();
        Assert.True(FrameSourceSpec.TryParse("afpacket:dvaveth0", out var spec, out var error), error);

        var source = _namespace.Enter(() => spec.Open(promiscuous: true));
        var during = _namespace.Exec("ip -d link show dvaveth0");
        source.Dispose();
        var after = _namespace.Exec("ip -d link show dvaveth0");

        // A PACKET_MR_PROMISC membership shows in the promiscuity count, not in SIOCGIFFLAGS.
        Assert.Contains("promiscuity 1", during, StringComparison.Ordinal);
        Assert.Contains("promiscuity 0", after, StringComparison.Ordinal);
    }

    [Fact]
    public void AfPacket_UnknownInterface_FailsNamingInterface()
    {
        var error = Assert.Throws<InvalidOperationException>(() => _namespace.Enter(() => Open("afpacket:nosuchif0")));

        Assert.Contains("if_nametoindex(nosuchif0)", error.Message, StringComparison.Ordinal);
    }

    private void CreateVethPair()
    {
        _namespace.Exec("ip link add dvaveth0 type veth peer name dvaveth1");
        _namespace.Exec("ip addr add 192.0.2.1/24 dev dvaveth0");
        _namespace.Exec("ip addr add 192.0.2.2/24 dev dvaveth1");
        _namespace.Exec("ip link set dvaveth0 up");
        _namespace.Exec("ip link set dvaveth1 up");

        // A veth end reports carrier a moment after "up"; a frame sent before that is dropped by the kernel, which
        // on a loaded machine made the first exchange of a test miss its frame.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!(_namespace.Exec("ip -o link show dvaveth0").Contains("state UP", StringComparison.Ordinal)
                 && _namespace.Exec("ip -o link show dvaveth1").Contains("state UP", StringComparison.Ordinal)))
        {
            Assert.True(clock.Elapsed < PortHelpers.Timeout, "the veth pair did not come up");
        }
    }

    private FrameSource Open(string text)
    {
        Assert.True(FrameSourceSpec.TryParse(text, out var spec, out var error), error);
        var source = spec.Open();
        _open.Add(source);
        return source;
    }

    private static readonly EqualityComparer<byte[]> ByteArrays = EqualityComparer<byte[]>.Create((x, y) => x.AsSpan().SequenceEqual(y), x => x.Length);

    private static bool IsTestFrame(byte[] frame) => frame.Length >= 14 && ((frame[12] << 8) | frame[13]) == TestEthertype;

    private static byte[] Frame(string destination, string source, int length)
    {
        var frame = PortHelpers.Pattern(length, length);
        PhysicalAddress.Parse(destination.Replace(':', '-')).GetAddressBytes().CopyTo(frame, 0);
        PhysicalAddress.Parse(source.Replace(':', '-')).GetAddressBytes().CopyTo(frame, 6);
        frame[12] = TestEthertype >> 8;
        frame[13] = TestEthertype & 0xFF;
        return frame;
    }
}
