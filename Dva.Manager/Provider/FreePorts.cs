using System.Net;
using System.Net.Sockets;

namespace Dva.Manager.Provider;

/// <summary>
/// Loopback ports free right now, for a child that must be told its port before it binds (a unit announces its
/// tunnel endpoint when it registers). Another process could take one in between; the child then reports the
/// bind failure and the unit can be added again.
/// </summary>
internal static class FreePorts
{
    public static IPEndPoint Udp() => Take(SocketType.Dgram, ProtocolType.Udp);

    public static IPEndPoint Tcp() => Take(SocketType.Stream, ProtocolType.Tcp);

    private static IPEndPoint Take(SocketType type, ProtocolType protocol)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, type, protocol);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return (IPEndPoint)socket.LocalEndPoint!;
    }
}
