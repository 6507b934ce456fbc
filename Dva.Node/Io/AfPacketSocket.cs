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
    /// PACKET_VNET_HDR (<c>afpacket:IF?gso=1</c>): a virtio_net_hdr before every frame read and written, so the kernel
    /// hands over GSO super-frames whole and segments the ones written. Before bind, like the ring.
    /// </summary>
    public static void EnableVnetHeader(int fd)
    {
        if (!Libc.TrySetInt(fd, Libc.SOL_PACKET, Libc.PACKET_VNET_HDR, 1))
        {
            throw InteropException.FromLastError("setsockopt(PACKET_VNET_HDR)");
        }
    }

    /// <summary>
    /// PACKET_AUXDATA: a <c>struct tpacket_auxdata</c> with every frame read, which holds the 802.1Q tag the kernel takes
    /// off every frame before a packet socket sees it.
    /// </summary>
    public static void EnableAuxData(int fd)
    {
        if (!Libc.TrySetInt(fd, Libc.SOL_PACKET, Libc.PACKET_AUXDATA, 1))
        {
            throw InteropException.FromLastError("setsockopt(PACKET_AUXDATA)");
        }
    }

    /// <summary>
    /// Setup path: throws a readable error if the system refuses. <paramref name="beforeBind"/> runs on the
    /// unbound socket (a ring must be set up before frames can arrive); if it throws, the socket is closed.
    /// <paramref name="receive"/> false binds protocol 0: a socket that only sends (the <c>afxdp:</c> source's).
    /// </summary>
    public static int Open(string name, bool promiscuous, int socketBufferBytes, out int ifIndex, Action<int>? beforeBind = null, AfPacketFanout? fanout = null, bool receive = true)
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
                Protocol = receive ? (ushort)IPAddress.HostToNetworkOrder((short)Libc.ETH_P_ALL) : (ushort)0,
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

            fanout?.Join(fd, name);
            return fd;
        }
        catch
        {
            _ = Libc.close(fd);
            throw;
        }
    }
}

/// <summary>
/// A PACKET_FANOUT group: the AF_PACKET sockets of one interface that join it share its frames by flow hash
/// (PACKET_FANOUT_HASH, with DEFRAG so an IP datagram's fragments stay together), one socket per engine. The first
/// socket to join makes the group with a kernel-chosen id (PACKET_FANOUT_FLAG_UNIQUEID, so no other process's group
/// is joined by a clash of ids); the rest join that id. Not thread-safe: join from one setup thread.
/// </summary>
internal sealed unsafe class AfPacketFanout
{
    // IGNORE_OUTGOING: the kernel hands frames to the group's own hook, not to the members', so a member's
    // PACKET_IGNORE_OUTGOING does nothing there. The group's own sends are skipped anyway (the kernel matches the
    // sender to the group), but without the flag the engines read back everything else sent out of the interface —
    // the kernel shortcut's frames, another process's — and drop it as NotForSharedMac, a copy per frame for nothing.
    private const int Flags = Libc.PACKET_FANOUT_FLAG_DEFRAG | Libc.PACKET_FANOUT_FLAG_IGNORE_OUTGOING;

    /// <summary>The kernel's id of the group; 0 until the first socket joined.</summary>
    public ushort Id { get; private set; }

    public int Members { get; private set; }

    internal void Join(int fd, string name)
    {
        if (Id == 0)
        {
            if (!Libc.TrySetInt(fd, Libc.SOL_PACKET, Libc.PACKET_FANOUT, (Libc.PACKET_FANOUT_HASH | Flags | Libc.PACKET_FANOUT_FLAG_UNIQUEID) << 16))
            {
                throw InteropException.FromLastError($"setsockopt(PACKET_FANOUT new group, {name})");
            }

            // The answer is id | (type | flags) << 16, negative as an int with DEFRAG set: the return code says failure.
            int value;
            uint length = sizeof(int);
            if (Libc.getsockopt(fd, Libc.SOL_PACKET, Libc.PACKET_FANOUT, &value, &length) != 0)
            {
                throw InteropException.FromLastError($"getsockopt(PACKET_FANOUT, {name})");
            }

            Id = (ushort)(value & 0xFFFF);
        }
        else if (!Libc.TrySetInt(fd, Libc.SOL_PACKET, Libc.PACKET_FANOUT, Id | ((Libc.PACKET_FANOUT_HASH | Flags) << 16)))
        {
            throw InteropException.FromLastError($"setsockopt(PACKET_FANOUT join group {Id}, {name})");
        }

        Members++;
    }
}
