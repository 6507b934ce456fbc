using System.Net;
using System.Net.Sockets;
using Dva.Node.Interop;

namespace Dva.Node.Io;

/// <summary>Setup of bound, non-blocking UDP sockets; throws <see cref="InteropException"/> naming the failed step.</summary>
internal static unsafe class UdpSockets
{
    /// <summary>4 MiB: absorbs a burst of a few thousand full frames while the engine thread is busy.</summary>
    public const int DefaultSocketBufferBytes = 4 << 20;

    /// <summary>Opens a UDP socket bound to <paramref name="local"/> and returns its fd and the bound endpoint.</summary>
    /// <param name="reusePort">SO_REUSEPORT: several sockets (one per engine) share the endpoint, see <see cref="TunnelSocketGroup"/>.</param>
    public static int OpenBound(IPEndPoint local, int socketBufferBytes, out IPEndPoint bound, bool reusePort = false)
    {
        ArgumentNullException.ThrowIfNull(local);
        var family = local.AddressFamily == AddressFamily.InterNetworkV6 ? Libc.AF_INET6 : Libc.AF_INET;
        var fd = Libc.socket(family, Libc.SOCK_DGRAM | Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC, Libc.IPPROTO_UDP);
        if (fd < 0)
        {
            throw InteropException.FromLastError($"socket(udp {local})");
        }

        try
        {
            if (family == Libc.AF_INET6 && !Libc.TrySetInt(fd, Libc.IPPROTO_IPV6, Libc.IPV6_V6ONLY, 1))
            {
                throw InteropException.FromLastError($"setsockopt(IPV6_V6ONLY, udp {local})");
            }

            // Peers' per-flow source ports leave through a raw socket with a UDP checksum of 0 (FlowPortSender), which
            // IPv6 forbids unless the receiving socket accepts it for a tunnel (RFC 6935, 6936).
            if (family == Libc.AF_INET6 && !Libc.TrySetInt(fd, Libc.IPPROTO_UDP, Libc.UDP_NO_CHECK6_RX, 1))
            {
                throw InteropException.FromLastError($"setsockopt(UDP_NO_CHECK6_RX, udp {local})");
            }

            if (reusePort && !Libc.TrySetInt(fd, Libc.SOL_SOCKET, Libc.SO_REUSEPORT, 1))
            {
                throw InteropException.FromLastError($"setsockopt(SO_REUSEPORT, udp {local})");
            }

            SetBufferSizes(fd, socketBufferBytes);
            var address = PacketAddress.FromEndPoint(local);
            fixed (byte* name = address.Bytes)
            {
                if (Libc.bind(fd, name, (uint)address.Length) != 0)
                {
                    throw InteropException.FromLastError($"bind(udp {local})");
                }
            }

            bound = GetLocalEndPoint(fd) ?? local;
            return fd;
        }
        catch
        {
            _ = Libc.close(fd);
            throw;
        }
    }

    /// <summary>
    /// Sets SO_RCVBUF/SO_SNDBUF, with the FORCE variants first so root is not capped by net.core.rmem_max.
    /// Best effort: a smaller buffer only means more counted drops under bursts.
    /// </summary>
    public static void SetBufferSizes(int fd, int bytes)
    {
        if (bytes <= 0)
        {
            return;
        }

        if (!Libc.TrySetInt(fd, Libc.SOL_SOCKET, Libc.SO_RCVBUFFORCE, bytes))
        {
            _ = Libc.TrySetInt(fd, Libc.SOL_SOCKET, Libc.SO_RCVBUF, bytes);
        }

        if (!Libc.TrySetInt(fd, Libc.SOL_SOCKET, Libc.SO_SNDBUFFORCE, bytes))
        {
            _ = Libc.TrySetInt(fd, Libc.SOL_SOCKET, Libc.SO_SNDBUF, bytes);
        }
    }

    public static IPEndPoint? GetLocalEndPoint(int fd)
    {
        var address = default(PacketAddress);
        uint length = PacketAddress.Capacity;
        fixed (byte* name = address.Bytes)
        {
            if (Libc.getsockname(fd, name, &length) != 0)
            {
                return null;
            }
        }

        address.SetLength((int)length);
        return address.TryGetEndPoint(out var endPoint) ? endPoint : null;
    }
}

/// <summary>
/// The tunnel socket: one UDP socket bound to the node's tunnel endpoint (IPv4 or IPv6), carrying
/// encapsulated packets to and from many peers. Each received buffer carries its sender in
/// <see cref="PacketBuffer.Peer"/>; each sent buffer goes to its own <see cref="PacketBuffer.Peer"/>.
/// </summary>
/// <remarks>
/// The outer source port is the bound port unless <see cref="EnableFlowSourcePorts"/> succeeded: then a
/// buffer with a <see cref="PacketBuffer.SourcePort"/> leaves from that port (DESIGN.md §2), see
/// UdpTunnelSocket.FlowPorts.cs.
/// </remarks>
internal sealed partial class UdpTunnelSocket : PacketPort
{
    private readonly MessageBatch _batch = new(SendAddressing.PerBuffer);

    private UdpTunnelSocket(int fd, IPEndPoint local)
        : base($"udp {local}", fd) => LocalEndPoint = local;

    public IPEndPoint LocalEndPoint { get; }

    /// <summary>Secure mode: every datagram is opened on receive and sealed on send here. Null (plain) unless set before the engine starts.</summary>
    public SecureTunnel? Security { get; set; }

    public static UdpTunnelSocket Open(IPEndPoint local, int socketBufferBytes = UdpSockets.DefaultSocketBufferBytes, bool reusePort = false)
    {
        var fd = UdpSockets.OpenBound(local, socketBufferBytes, out var bound, reusePort);
        return new UdpTunnelSocket(fd, bound);
    }

    public override int Receive(Span<PacketBuffer> buffers)
    {
        var received = _batch.Receive(Fd, buffers, Counters);
        return Security is { } security && received > 0 ? security.OpenReceived(buffers, received) : received;
    }

    public override int Send(ReadOnlySpan<PacketBuffer> buffers) =>
        Security is { } security ? security.SealAndSend(buffers, this, s_sendSealed) : SendPlain(buffers);

    // Sealed or not, a datagram leaves from its flow's source port when the raw sender is on (DESIGN.md §2): the
    // outer UDP header is not covered by the AEAD.
    private int SendPlain(ReadOnlySpan<PacketBuffer> buffers) =>
        _flowPorts is null ? _batch.Send(Fd, buffers, Counters) : SendSplit(buffers);

    private static readonly SendSealed<UdpTunnelSocket> s_sendSealed = static (socket, sealedBuffers) => socket.SendPlain(sealedBuffers);

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        _batch.Dispose();
        _flowPorts?.Dispose();
        Security?.Dispose();
    }
}
