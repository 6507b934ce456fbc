using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Dva.Node.Tests.Functional;

/// <summary>
/// Hosts that keep TX checksum offload (TSO off), as veth and virtio guests do by default: their TCP and UDP packets reach
/// the dispatcher with the checksum left to the device. The client side is a plain <c>afpacket:</c> source (recvmmsg,
/// its virtio header says which frames are unfinished), the server side a PACKET_MMAP ring (TP_STATUS_CSUMNOTREADY);
/// both finish the checksum before the frame enters the DVA, so the far host accepts it. Root only.
/// </summary>
[Trait("Requires", "root")]
public sealed class RootDispatcherChecksumTests() : RootDispatcherLab(engines: 1, prefix: "dv5", serverSourceOptions: "?ring=1", hostChecksumOffload: true)
{
    [Fact]
    public async Task TcpConnections_HostsLeaveChecksumsToTheDevice_EveryEchoBack()
    {
        var answers = await EchoConnectionsAsync(8);

        Assert.Equal(Enumerable.Range(0, 8).Select(i => $"echo hello {i}"), answers);
    }

    [Fact]
    public async Task UdpDatagrams_HostsLeaveChecksumsToTheDevice_EachAnswered()
    {
        using var server = Server.Enter(() => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp));
        server.Bind(new IPEndPoint(IPAddress.Parse("198.51.100.10"), 7001));
        using var client = Client.Enter(() => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp));
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var buffer = new byte[256];
        var answers = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            await client.SendToAsync(Encoding.ASCII.GetBytes($"datagram {i}"), new IPEndPoint(IPAddress.Parse("198.51.100.10"), 7001), stop.Token);
            var request = await server.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), stop.Token);
            await server.SendToAsync(Encoding.ASCII.GetBytes("echo " + Encoding.ASCII.GetString(buffer, 0, request.ReceivedBytes)), request.RemoteEndPoint, stop.Token);
            var answer = await client.ReceiveAsync(buffer, stop.Token);
            answers.Add(Encoding.ASCII.GetString(buffer, 0, answer));
        }

        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"echo datagram {i}"), answers);
    }
}
