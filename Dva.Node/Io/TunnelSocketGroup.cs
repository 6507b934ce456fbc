using System.Net;
using System.Net.Sockets;
using Dva.Node.Interop;

namespace Dva.Node.Io;

/// <summary>
/// One tunnel endpoint served by several engines: <see cref="Count"/> UDP sockets bound to the same address with
/// SO_REUSEPORT, one per engine thread, and a classic BPF program (SO_ATTACH_REUSEPORT_CBPF) that hands a datagram
/// to socket <c>outer UDP source port mod Count</c>. Since every sender gives a flow the same source port
/// (DESIGN.md §2, <see cref="FlowPortSender"/>), every packet of a flow reaches the same engine on every node,
/// whichever peer sent it; the kernel's default 4-tuple hash would split a flow whose packets come from two peers.
/// </summary>
internal sealed unsafe class TunnelSocketGroup : IDisposable
{
    private const int Ipv4HeaderLength = 20;
    private const int Ipv6HeaderLength = 40;

    private readonly UdpTunnelSocket[] _sockets;

    private TunnelSocketGroup(UdpTunnelSocket[] sockets) => _sockets = sockets;

    public int Count => _sockets.Length;

    public IReadOnlyList<UdpTunnelSocket> Sockets => _sockets;

    /// <summary>The endpoint all sockets share (port 0 in the request becomes the first socket's port).</summary>
    public IPEndPoint LocalEndPoint => _sockets[0].LocalEndPoint;

    /// <summary>The socket (engine) a datagram from <paramref name="sourcePort"/> is delivered to.</summary>
    public int IndexFor(int sourcePort) => IndexFor(sourcePort, _sockets.Length);

    /// <summary>The socket of a group of <paramref name="count"/> a datagram from <paramref name="sourcePort"/> reaches (what the steering program computes).</summary>
    public static int IndexFor(int sourcePort, int count) => sourcePort % count;

    /// <summary>Opens <paramref name="count"/> sockets on <paramref name="local"/> and attaches the steering program.</summary>
    public static TunnelSocketGroup Open(IPEndPoint local, int count, int socketBufferBytes = UdpSockets.DefaultSocketBufferBytes)
    {
        ArgumentNullException.ThrowIfNull(local);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, 64);
        var sockets = new UdpTunnelSocket[count];
        try
        {
            // The group's index order is the order the sockets join it; the first fixes a port asked as 0.
            sockets[0] = UdpTunnelSocket.Open(local, socketBufferBytes, reusePort: true);
            for (var i = 1; i < count; i++)
            {
                sockets[i] = UdpTunnelSocket.Open(sockets[0].LocalEndPoint, socketBufferBytes, reusePort: true);
            }

            if (count > 1)
            {
                AttachSteering(sockets[0], count, local.AddressFamily == AddressFamily.InterNetworkV6 ? Ipv6HeaderLength : Ipv4HeaderLength);
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

        return new TunnelSocketGroup(sockets);
    }

    /// <summary>
    /// <c>A = UDP source port; A %= count; return A</c>. The program runs with the packet data at the UDP payload,
    /// so the header is read relative to the network header (our tunnels carry no IP options).
    /// </summary>
    private static void AttachSteering(UdpTunnelSocket socket, int count, int ipHeaderLength)
    {
        var program = stackalloc SockFilter[3];
        program[0] = new SockFilter(Libc.BPF_LD_H_ABS, Libc.SKF_NET_OFF + (uint)ipHeaderLength);
        program[1] = new SockFilter(Libc.BPF_ALU_MOD_K, (uint)count);
        program[2] = new SockFilter(Libc.BPF_RET_A, 0);
        var fprog = new SockFprog { Length = 3, Filter = program };
        if (Libc.setsockopt(socket.Fd, Libc.SOL_SOCKET, Libc.SO_ATTACH_REUSEPORT_CBPF, &fprog, (uint)sizeof(SockFprog)) != 0)
        {
            throw InteropException.FromLastError($"setsockopt(SO_ATTACH_REUSEPORT_CBPF, {socket.Name})");
        }
    }

    public void Dispose()
    {
        foreach (var socket in _sockets)
        {
            socket.Dispose();
        }
    }
}
