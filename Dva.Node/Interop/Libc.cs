using System.Runtime.InteropServices;

namespace Dva.Node.Interop;

/// <summary>
/// The libc calls the node agent makes. Each returns the raw result; callers read <see cref="LastErrno"/>
/// right after a -1. Nothing here throws, so the same calls serve the per-packet path.
/// </summary>
internal static unsafe partial class Libc
{
    private const string Library = "libc";

    public const int AF_UNSPEC = 0;
    public const int AF_INET = 2;
    public const int AF_INET6 = 10;
    public const int AF_PACKET = 17;

    public const int SOCK_DGRAM = 2;
    public const int SOCK_RAW = 3;
    public const int SOCK_NONBLOCK = 0x800;
    public const int SOCK_CLOEXEC = 0x80000;

    public const int IPPROTO_IP = 0;
    public const int IPPROTO_UDP = 17;
    public const int IPPROTO_RAW = 255;
    public const int IP_HDRINCL = 3;
    public const int IPV6_MTU = 24;

    /// <summary>SOL_UDP option: accept IPv6 UDP datagrams whose checksum is 0 (RFC 6936, as VXLAN's udp6zerocsumrx).</summary>
    public const int UDP_NO_CHECK6_RX = 102;
    public const int IPPROTO_IPV6 = 41;
    public const int IPV6_V6ONLY = 26;

    public const int SOL_SOCKET = 1;
    public const int SO_REUSEADDR = 2;
    public const int SO_REUSEPORT = 15;
    public const int SO_ATTACH_REUSEPORT_CBPF = 51;
    public const int SO_SNDBUF = 7;
    public const int SO_RCVBUF = 8;
    public const int SO_RCVBUFFORCE = 33;
    public const int SO_SNDBUFFORCE = 32;

    public const int SOL_PACKET = 263;
    public const int PACKET_ADD_MEMBERSHIP = 1;
    public const int PACKET_MR_PROMISC = 1;
    public const int PACKET_IGNORE_OUTGOING = 23;

    /// <summary>Every frame read or written on the socket is preceded by a 10-byte struct virtio_net_hdr.</summary>
    public const int PACKET_VNET_HDR = 15;
    public const int PACKET_AUXDATA = 8;
    public const ushort ETH_P_ALL = 0x0003;

    public const ushort BPF_LD_H_ABS = 0x28;
    public const ushort BPF_ALU_MOD_K = 0x94;
    public const ushort BPF_RET_A = 0x16;

    /// <summary>SKF_NET_OFF: a classic BPF absolute load relative to the network header.</summary>
    public const uint SKF_NET_OFF = unchecked((uint)-0x100000);

    public const int MSG_DONTWAIT = 0x40;
    public const int MSG_TRUNC = 0x20;

    public const int O_RDWR = 2;
    public const int O_NONBLOCK = 0x800;
    public const int O_CLOEXEC = 0x80000;

    public const int EPOLL_CLOEXEC = 0x80000;
    public const int EPOLL_CTL_ADD = 1;
    public const int EPOLL_CTL_DEL = 2;
    public const int EPOLL_CTL_MOD = 3;
    public const uint EPOLLIN = 0x001;
    public const uint EPOLLOUT = 0x004;
    public const uint EPOLLERR = 0x008;
    public const uint EPOLLHUP = 0x010;

    public const int EFD_CLOEXEC = 0x80000;
    public const int EFD_NONBLOCK = 0x800;

    public const short POLLIN = 0x001;

    public const int CLONE_NEWNET = 0x40000000;

    public const nuint SIOCGIFFLAGS = 0x8913;
    public const nuint SIOCSIFFLAGS = 0x8914;
    public const nuint SIOCGIFMTU = 0x8921;
    public const nuint SIOCGIFHWADDR = 0x8927;
    public const nuint TUNSETIFF = 0x400454ca;

    public const short IFF_UP = 0x1;
    public const short IFF_PROMISC = 0x100;
    public const short IFF_TAP = 0x0002;
    public const short IFF_NO_PI = 0x1000;

    public const ushort ARPHRD_ETHER = 1;

    /// <summary>The errno of the last call made through this class (SetLastError captures it).</summary>
    public static Errno LastErrno => (Errno)Marshal.GetLastPInvokeError();

    [LibraryImport(Library, SetLastError = true)]
    public static partial int socket(int domain, int type, int protocol);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int bind(int fd, void* address, uint addressLength);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int connect(int fd, void* address, uint addressLength);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int getsockname(int fd, void* address, uint* addressLength);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int setsockopt(int fd, int level, int name, void* value, uint valueLength);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int getsockopt(int fd, int level, int name, void* value, uint* valueLength);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int epoll_create1(int flags);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int epoll_ctl(int epfd, int op, int fd, EpollEvent* ev);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int epoll_wait(int epfd, EpollEvent* events, int maxEvents, int timeoutMs);

    /// <summary>epoll_wait with a nanosecond timeout (Linux 5.11); no signal mask change when <paramref name="signalMask"/> is null.</summary>
    [LibraryImport(Library, SetLastError = true)]
    public static partial int epoll_pwait2(int epfd, EpollEvent* events, int maxEvents, Timespec* timeout, void* signalMask);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int recvmmsg(int fd, MMsgHdr* messages, uint length, int flags, void* timeout);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int sendmmsg(int fd, MMsgHdr* messages, uint length, int flags);

    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial uint if_nametoindex(string name);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int ioctl(int fd, nuint request, void* argument);

    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags);

    [LibraryImport(Library, SetLastError = true)]
    public static partial nint read(int fd, void* buffer, nuint count);

    [LibraryImport(Library, SetLastError = true)]
    public static partial nint write(int fd, void* buffer, nuint count);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int eventfd(uint initialValue, int flags);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int poll(PollFd* fds, nuint count, int timeoutMs);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int setns(int fd, int nsType);

    [LibraryImport(Library)]
    public static partial uint geteuid();

    /// <summary>Sets an int socket option; false with <see cref="LastErrno"/> set on failure.</summary>
    public static bool TrySetInt(int fd, int level, int name, int value) =>
        setsockopt(fd, level, name, &value, sizeof(int)) == 0;

    /// <summary>Reads an int socket option; -1 on failure.</summary>
    public static int GetInt(int fd, int level, int name)
    {
        int value;
        uint length = sizeof(int);
        return getsockopt(fd, level, name, &value, &length) == 0 ? value : -1;
    }
}
