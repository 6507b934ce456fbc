using System.Net;
using Dva.Node.Io;

namespace Dva.Node.Tests.Io;

public class FrameSourceSpecTests
{
    [Fact]
    public void TryParse_AfPacket_GivesInterfaceName()
    {
        Assert.True(FrameSourceSpec.TryParse("afpacket:eth1", out var spec, out var error), error);

        Assert.Equal(FrameSourceKind.AfPacket, spec.Kind);
        Assert.Equal("eth1", spec.InterfaceName);
        Assert.Equal("afpacket:eth1", spec.ToString());
    }

    [Fact]
    public void TryParse_Tap_GivesDeviceName()
    {
        Assert.True(FrameSourceSpec.TryParse("tap:dva-tap0", out var spec, out var error), error);

        Assert.Equal(FrameSourceKind.Tap, spec.Kind);
        Assert.Equal("dva-tap0", spec.InterfaceName);
    }

    [Fact]
    public void TryParse_UdpIPv4_GivesLocalAndPeer()
    {
        Assert.True(FrameSourceSpec.TryParse("udp:LOCAL=127.0.0.1:7000,PEER=127.0.0.2:7001", out var spec, out var error), error);

        Assert.Equal(FrameSourceKind.Udp, spec.Kind);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("127.0.0.1"), 7000), spec.Local);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("127.0.0.2"), 7001), spec.Peer);
        Assert.Equal("udp:LOCAL=127.0.0.1:7000,PEER=127.0.0.2:7001", spec.ToString());
    }

    [Fact]
    public void TryParse_UdpWithMtu_GivesTheWiresMtuAndWritesItBack()
    {
        Assert.True(FrameSourceSpec.TryParse("udp:LOCAL=127.0.0.1:7000,PEER=127.0.0.2:7001,mtu=1400", out var spec, out var error), error);

        Assert.Equal(1400, spec.WireMtu);
        Assert.Equal("udp:LOCAL=127.0.0.1:7000,PEER=127.0.0.2:7001,MTU=1400", spec.ToString());
        Assert.Null(FrameSourceSpecOf("udp:LOCAL=127.0.0.1:7000,PEER=127.0.0.2:7001").WireMtu);
    }

    private static FrameSourceSpec FrameSourceSpecOf(string text) =>
        FrameSourceSpec.TryParse(text, out var spec, out var error) ? spec : throw new InvalidOperationException(error);

    [Fact]
    public void TryParse_UdpIPv6InBracketsAnyOrder_GivesLocalAndPeer()
    {
        Assert.True(FrameSourceSpec.TryParse("udp:PEER=[::1]:7001,local=[::]:7000", out var spec, out var error), error);

        Assert.Equal(new IPEndPoint(IPAddress.IPv6Any, 7000), spec.Local);
        Assert.Equal(new IPEndPoint(IPAddress.IPv6Loopback, 7001), spec.Peer);
    }

    [Theory]
    [InlineData("", "frame source is empty")]
    [InlineData("   ", "frame source is empty")]
    [InlineData("eth0", "frame source 'eth0' has no kind")]
    [InlineData("pcap:eth0", "unknown frame source kind 'pcap'")]
    [InlineData("afpacket:", "afpacket: interface name is missing")]
    [InlineData("tap:", "tap: interface name is missing")]
    [InlineData("afpacket:abcdefghijklmnop", "is 16 characters; Linux allows at most 15")]
    [InlineData("tap:a/b", "contains '/'")]
    [InlineData("afpacket:eth 0", "contains ' '")]
    [InlineData("udp:", "udp: LOCAL and PEER are missing")]
    [InlineData("udp:LOCAL=127.0.0.1:7000", "udp: PEER is missing")]
    [InlineData("udp:PEER=127.0.0.1:7000", "udp: LOCAL is missing")]
    [InlineData("udp:LOCAL=127.0.0.1:1,PEER=127.0.0.1:2,LOCAL=127.0.0.1:3", "udp: LOCAL is given twice")]
    [InlineData("udp:LOCAL=127.0.0.1:1,REMOTE=127.0.0.1:2", "udp: unknown key 'REMOTE'; only LOCAL, PEER and MTU are allowed")]
    [InlineData("udp:LOCAL=127.0.0.1:1,PEER=127.0.0.1:2,MTU=67", "udp: MTU '67' is not a number in 68..65535")]
    [InlineData("udp:LOCAL=127.0.0.1:1,PEER=127.0.0.1:2,MTU=1400,MTU=1500", "udp: MTU '1500' is given twice")]
    [InlineData("udp:LOCAL=127.0.0.1:1,127.0.0.1:2", "udp: '127.0.0.1:2' is not KEY=ip:port")]
    [InlineData("udp:LOCAL=127.0.0.1,PEER=127.0.0.1:2", "udp: LOCAL '127.0.0.1' has no port")]
    [InlineData("udp:LOCAL=host.example:1,PEER=127.0.0.1:2", "has 'host.example', which is not an IP address")]
    [InlineData("udp:LOCAL=127.1:1,PEER=127.0.0.1:2", "has '127.1', which is not an IP address")]
    [InlineData("udp:LOCAL=127.0.0.1:65536,PEER=127.0.0.1:2", "has port '65536', which is not a number from 0 to 65535")]
    [InlineData("udp:LOCAL=127.0.0.1:x,PEER=127.0.0.1:2", "has port 'x'")]
    [InlineData("udp:LOCAL=::1:7000,PEER=[::1]:2", "IPv6 address without brackets")]
    [InlineData("udp:LOCAL=[::1:7000,PEER=[::1]:2", "is not [ipv6]:port")]
    [InlineData("udp:LOCAL=127.0.0.1:1,PEER=[::1]:2", "are of different address families")]
    [InlineData("udp:LOCAL=127.0.0.1:1,PEER=127.0.0.1:0", "must be a concrete address and a non-zero port")]
    [InlineData("udp:LOCAL=127.0.0.1:1,PEER=0.0.0.0:9", "must be a concrete address and a non-zero port")]
    public void TryParse_Invalid_FailsNamingTheProblem(string text, string expected)
    {
        Assert.False(FrameSourceSpec.TryParse(text, out var spec, out var error));

        Assert.Null(spec);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void TryParse_Null_FailsListingTheSyntax()
    {
        Assert.False(FrameSourceSpec.TryParse(null, out _, out var error));

        Assert.Contains(FrameSourceSpec.Syntax, error, StringComparison.Ordinal);
    }

    [Fact]
    public void TryParse_AfPacketGsoOption_SetsGsoAndRoundTrips()
    {
        Assert.True(FrameSourceSpec.TryParse("afpacket:eth1?gso=1", out var gso, out var error), error);
        Assert.True(FrameSourceSpec.TryParse("afpacket:eth1?gso=0&ring=0", out var plain, out error), error);

        Assert.True(gso.Gso);
        Assert.False(gso.Ring);
        Assert.Equal("afpacket:eth1?gso=1", gso.ToString());
        Assert.False(plain.Gso);
        Assert.Equal("afpacket:eth1", plain.ToString());
    }

    [Theory]
    [InlineData("afpacket:eth1?gso=1&ring=1", "cannot be combined")]
    [InlineData("afpacket:eth1?ring=1&gso=1", "cannot be combined")]
    [InlineData("afpacket:eth1?gso=2", "unknown option 'gso=2'")]
    [InlineData("afpacket:eth1?gso=1&", "unknown option ''")]
    public void TryParse_BadGsoOption_FailsNamingTheProblem(string text, string expected)
    {
        Assert.False(FrameSourceSpec.TryParse(text, out _, out var error));
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }
}
