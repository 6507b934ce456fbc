using System.Net;
using Dva.Node.Interop;
using Dva.Node.Io;

namespace Dva.Node.Tests.Io;

public class InteropLayoutTests
{
    // Sizes printed by gcc 12 on Debian 12 x86-64 for the same structs (sizeof in C).
    [Fact]
    public unsafe void StructSizes_MatchLinuxX64Abi()
    {
        Assert.Equal(16, sizeof(IoVec));
        Assert.Equal(56, sizeof(MsgHdr));
        Assert.Equal(64, sizeof(MMsgHdr));
        Assert.Equal(12, sizeof(EpollEvent));
        Assert.Equal(16, sizeof(SockAddrIn));
        Assert.Equal(28, sizeof(SockAddrIn6));
        Assert.Equal(20, sizeof(SockAddrLl));
        Assert.Equal(16, sizeof(PacketMreq));
        Assert.Equal(40, sizeof(IfReq));
    }

    // gcc 12 on Debian 12 with the kernel headers (linux/if_xdp.h, linux/ethtool.h): 32 32 128 16 16 48 36.
    [Fact]
    public unsafe void XdpStructSizes_MatchTheKernelHeaders()
    {
        Assert.Equal(32, sizeof(XdpUmemReg));
        Assert.Equal(32, sizeof(XdpRingOffset));
        Assert.Equal(128, sizeof(XdpMmapOffsets));
        Assert.Equal(16, sizeof(SockAddrXdp));
        Assert.Equal(16, sizeof(XdpDescriptor));
        Assert.Equal(48, sizeof(XdpStatistics));
        Assert.Equal(36, sizeof(EthtoolChannels));
    }

    [Fact]
    public void PacketAddress_RoundTripsIPv4AndIPv6()
    {
        var v4 = new IPEndPoint(IPAddress.Parse("192.0.2.7"), 6090);
        var v6 = new IPEndPoint(IPAddress.Parse("2001:db8::7"), 6091);

        Assert.True(PacketAddress.FromEndPoint(v4).TryGetEndPoint(out var back4));
        Assert.True(PacketAddress.FromEndPoint(v6).TryGetEndPoint(out var back6));

        Assert.Equal(v4, back4);
        Assert.Equal(v6, back6);
        Assert.Equal(6090, PacketAddress.FromEndPoint(v4).Port);
        Assert.Equal(PacketAddress.FromEndPoint(v4), PacketAddress.FromEndPoint(new IPEndPoint(IPAddress.Parse("192.0.2.7"), 6090)));
        Assert.NotEqual(PacketAddress.FromEndPoint(v4), PacketAddress.FromEndPoint(new IPEndPoint(IPAddress.Parse("192.0.2.7"), 6091)));
    }

    [Fact]
    public void InteropException_BindInUse_NamesCallErrnoAndReason()
    {
        using var first = UdpTunnelSocket.Open(new IPEndPoint(IPAddress.Loopback, 0));

        var error = Assert.Throws<InteropException>(() => UdpTunnelSocket.Open(first.LocalEndPoint));

        Assert.Equal(Errno.EADDRINUSE, error.Errno);
        Assert.Contains($"bind(udp {first.LocalEndPoint})", error.Message, StringComparison.Ordinal);
        Assert.Contains("EADDRINUSE", error.Message, StringComparison.Ordinal);
    }
}
