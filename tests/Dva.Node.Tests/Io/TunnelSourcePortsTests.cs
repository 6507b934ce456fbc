using System.Net;
using Dva.Node.Interop;
using Dva.Node.Io;

namespace Dva.Node.Tests.Io;

public class TunnelSourcePortsTests
{
    [Theory]
    [InlineData(0x0000_0000_0000_0000UL, 0)]
    [InlineData(0x3FFF_FFFF_FFFF_FFFFUL, 0)]
    [InlineData(0x4000_0000_0000_0000UL, 1)]
    [InlineData(0xC123_4567_89AB_CDEFUL, 3)]
    public void For_FlowHash_DatagramLeavesFromPortChosenByTopBits(ulong flowHash, int offset)
    {
        using var ports = OpenFour();
        using var receiver = UdpTunnelSocket.Open(new IPEndPoint(IPAddress.Loopback, 0));

        ports.For(flowHash).Send([PortHelpers.Frame([1, 2, 3], receiver.LocalEndPoint)]);
        var received = PortHelpers.ReceiveMatching(receiver, 1);

        Assert.Equal(ports.BasePort + offset, received[0].Peer.Port);
    }

    [Fact]
    public void For_SingleSocket_EveryFlowUsesIt()
    {
        using var ports = TunnelSourcePorts.Open(IPAddress.Loopback, PortHelpers.FreeLoopbackPort(), 1);

        Assert.Same(ports.Sockets[0], ports.For(ulong.MaxValue));
    }

    [Theory]
    [InlineData(3)]
    [InlineData(0)]
    [InlineData(32768)]
    public void Open_CountNotPowerOfTwoUpTo16384_Throws(int count)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => TunnelSourcePorts.Open(IPAddress.Loopback, 50000, count));

        Assert.Contains("power of two from 1 to 16384", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_PortAlreadyTaken_FailsNamingItAndReleasesTheOthers()
    {
        using var squatter = UdpTunnelSocket.Open(new IPEndPoint(IPAddress.Loopback, 0));
        var basePort = squatter.LocalEndPoint.Port - 1;

        var error = Assert.Throws<InteropException>(() => TunnelSourcePorts.Open(IPAddress.Loopback, basePort, 2));
        using var reopened = UdpTunnelSocket.Open(new IPEndPoint(IPAddress.Loopback, basePort));

        Assert.Equal(Errno.EADDRINUSE, error.Errno);
        Assert.Contains($"127.0.0.1:{basePort + 1}", error.Message, StringComparison.Ordinal);
    }

    /// <summary>Four consecutive free loopback ports: tries a few random bases, as another process may hold one.</summary>
    private static TunnelSourcePorts OpenFour()
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return TunnelSourcePorts.Open(IPAddress.Loopback, Random.Shared.Next(20000, 30000) & ~3, 4);
            }
            catch (InteropException ex) when (ex.Errno == Errno.EADDRINUSE && attempt < 20)
            {
            }
        }
    }
}
