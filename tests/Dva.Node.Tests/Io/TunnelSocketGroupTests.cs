using System.Net;
using Dva.Node.Io;

namespace Dva.Node.Tests.Io;

public class TunnelSocketGroupTests
{
    [Fact]
    public void Open_TwoSockets_DatagramGoesToSourcePortModTwo()
    {
        using var group = TunnelSocketGroup.Open(new IPEndPoint(IPAddress.Loopback, 0), 2, socketBufferBytes: 0);
        using var sender = UdpTunnelSocket.Open(new IPEndPoint(IPAddress.Loopback, 0));
        Assert.True(sender.EnableFlowSourcePorts(0, out var why), why);
        ushort[] ports = [49152, 49153, 50000, 65535, 60001, 60002];
        var buffers = ports.Select((port, i) =>
        {
            var buffer = PortHelpers.Frame(PortHelpers.Pattern(i, 32 + i), group.LocalEndPoint);
            buffer.SourcePort = port;
            return buffer;
        }).ToArray();

        Assert.Equal(ports.Length, sender.Send(buffers));

        for (var index = 0; index < 2; index++)
        {
            var mine = ports.Where(p => p % 2 == index).ToArray();
            var received = PortHelpers.ReceiveMatching(group.Sockets[index], mine.Length);
            Assert.Equal(mine.Order(), received.Select(r => (ushort)r.Peer.Port).Order());
            Assert.All(received, r => Assert.Equal(index, group.IndexFor(r.Peer.Port)));
            Assert.All(received, r => Assert.Equal(PortHelpers.Pattern(Array.IndexOf(ports, (ushort)r.Peer.Port), r.Frame.Length), r.Frame));
        }
    }

    [Fact]
    public void Open_OneSocket_NoSteeringNeeded()
    {
        using var group = TunnelSocketGroup.Open(new IPEndPoint(IPAddress.Loopback, 0), 1, socketBufferBytes: 0);
        using var sender = UdpTunnelSocket.Open(new IPEndPoint(IPAddress.Loopback, 0));

        Assert.Equal(1, sender.Send([PortHelpers.Frame([1, 2, 3], group.LocalEndPoint)]));

        Assert.Equal([1, 2, 3], PortHelpers.ReceiveMatching(group.Sockets[0], 1)[0].Frame);
    }
}
