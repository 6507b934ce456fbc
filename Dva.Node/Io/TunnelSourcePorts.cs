using System.Net;
using System.Numerics;

namespace Dva.Node.Io;

/// <summary>
/// Sockets bound to consecutive outer source ports, so each inner flow leaves from its own port and an
/// ECMP fabric keeps it on one path (DESIGN.md §2): flow hash h goes out of port
/// <c>BasePort + (h >> (64 - log2 Count))</c>, which with 16384 sockets from 49152 is exactly
/// <c>49152 + (h >> 50)</c>. One bound socket cannot vary its source port per datagram; this is the
/// unprivileged way. Receiving stays on the tunnel socket bound to the tunnel port (6090): peers always
/// send there, so these sockets only send.
/// </summary>
/// <remarks>
/// The ports must lie outside net.ipv4.ip_local_port_range (or in ip_local_reserved_ports), or an
/// ephemeral socket may already hold one and <see cref="Open"/> fails with EADDRINUSE naming it.
/// </remarks>
internal sealed class TunnelSourcePorts : IDisposable
{
    private readonly UdpTunnelSocket[] _sockets;
    private readonly int _shift;

    private TunnelSourcePorts(UdpTunnelSocket[] sockets, int basePort)
    {
        _sockets = sockets;
        BasePort = basePort;
        _shift = 64 - BitOperations.Log2((uint)sockets.Length);
    }

    public int BasePort { get; }

    public int Count => _sockets.Length;

    public IReadOnlyList<UdpTunnelSocket> Sockets => _sockets;

    /// <param name="count">A power of two from 1 to 16384.</param>
    public static TunnelSourcePorts Open(IPAddress local, int basePort, int count, int socketBufferBytes = UdpSockets.DefaultSocketBufferBytes)
    {
        ArgumentNullException.ThrowIfNull(local);
        if (count < 1 || count > 16384 || !BitOperations.IsPow2(count))
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, "source port count must be a power of two from 1 to 16384");
        }

        if (basePort < 1 || basePort + count - 1 > 65535)
        {
            throw new ArgumentOutOfRangeException(nameof(basePort), basePort, $"ports {basePort}..{basePort + count - 1} do not fit 1..65535");
        }

        var sockets = new UdpTunnelSocket[count];
        try
        {
            for (var i = 0; i < count; i++)
            {
                sockets[i] = UdpTunnelSocket.Open(new IPEndPoint(local, basePort + i), socketBufferBytes);
            }
        }
        catch
        {
            foreach (var socket in sockets)
            {
                socket?.Dispose();
            }

            throw;
        }

        return new TunnelSourcePorts(sockets, basePort);
    }

    /// <summary>The socket whose port carries the flow with this 64-bit hash; the top bits choose it.</summary>
    public UdpTunnelSocket For(ulong flowHash) => _sockets[_shift == 64 ? 0 : (int)(flowHash >> _shift)];

    public void Dispose()
    {
        foreach (var socket in _sockets)
        {
            socket.Dispose();
        }
    }
}
