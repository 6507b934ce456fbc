using System.Net;
using Dva.Node.Interop;

namespace Dva.Node.Io;

/// <summary>
/// Opens the AF_PACKET SOCK_RAW socket both <c>afpacket:</c> sources stand on: bound to one interface, all
/// ethertypes, blind to its own transmissions (PACKET_IGNORE_OUTGOING) so what the dispatcher sends out is
/// not read back as ingress, and optionally promiscuous for as long as it is open.
/// </summary>
internal static unsafe class AfPacketSocket
{
    /// <summary>
    /// Setup path: throws a readable error if the system refuses. <paramref name="beforeBind"/> runs on the
    /// unbound socket (a ring must be set up before frames can arrive); if it throws, the socket is closed.
    /// </summary>
    public static int Open(string name, bool promiscuous, int socketBufferBytes, out int ifIndex, Action<int>? beforeBind = null)
    {
        ifIndex = NetworkInterfaceControl.GetIndex(name);

        // Protocol 0 at creation: the socket receives nothing until bind() names the interface, so no
        // frame of another interface slips in between socket() and bind().
        var fd = Libc.socket(Libc.AF_PACKET, Libc.SOCK_RAW | Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            throw InteropException.FromLastError($"socket(AF_PACKET for {name})");
        }

        try
        {
            if (!Libc.TrySetInt(fd, Libc.SOL_PACKET, Libc.PACKET_IGNORE_OUTGOING, 1))
            {
                throw InteropException.FromLastError($"setsockopt(PACKET_IGNORE_OUTGOING, {name})");
            }

            UdpSockets.SetBufferSizes(fd, socketBufferBytes);
            beforeBind?.Invoke(fd);
            var address = new SockAddrLl
            {
                Family = Libc.AF_PACKET,
                Protocol = (ushort)IPAddress.HostToNetworkOrder((short)Libc.ETH_P_ALL),
                IfIndex = ifIndex,
            };
            if (Libc.bind(fd, &address, (uint)sizeof(SockAddrLl)) != 0)
            {
                throw InteropException.FromLastError($"bind(AF_PACKET, {name})");
            }

            if (promiscuous)
            {
                // A membership, not IFF_PROMISC: the kernel drops it when the socket closes, even on a crash.
                var request = new PacketMreq { IfIndex = ifIndex, Type = Libc.PACKET_MR_PROMISC };
                if (Libc.setsockopt(fd, Libc.SOL_PACKET, Libc.PACKET_ADD_MEMBERSHIP, &request, (uint)sizeof(PacketMreq)) != 0)
                {
                    throw InteropException.FromLastError($"setsockopt(PACKET_ADD_MEMBERSHIP promiscuous, {name})");
                }
            }

            return fd;
        }
        catch
        {
            _ = Libc.close(fd);
            throw;
        }
    }
}
