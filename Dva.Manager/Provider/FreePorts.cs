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

    /// <summary><paramref name="wanted"/> when it is a loopback endpoint nobody uses now, else a free loopback port.</summary>
    public static IPEndPoint UdpOrFree(string? wanted)
    {
        if (IPEndPoint.TryParse(wanted ?? "", out var endpoint) && IPAddress.IsLoopback(endpoint.Address) && endpoint.Port != 0)
        {
            try
            {
                using var socket = new Socket(endpoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
                socket.Bind(endpoint);
                return endpoint;
            }
            catch (SocketException)
            {
                // Taken since: any free port will do, the manager rolls the new endpoint out.
            }
        }

        return Udp();
    }

    private static IPEndPoint Take(SocketType type, ProtocolType protocol)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, type, protocol);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return (IPEndPoint)socket.LocalEndPoint!;
    }
}
