using System.Net.NetworkInformation;
using Dva.Node.Interop;

namespace Dva.Node.Io;

/// <summary>
/// Interface lookups by name through ioctl on a throwaway socket, in the network namespace of the
/// calling thread. Setup path only: failures throw <see cref="InteropException"/>.
/// </summary>
internal static unsafe class NetworkInterfaceControl
{
    public static int GetIndex(string name)
    {
        var index = Libc.if_nametoindex(name);
        if (index == 0)
        {
            throw InteropException.FromLastError($"if_nametoindex({name})");
        }

        return (int)index;
    }

    public static int GetMtu(string name)
    {
        var request = Request(name);
        Ioctl(name, Libc.SIOCGIFMTU, "SIOCGIFMTU", ref request);
        return request.Value;
    }

    public static PhysicalAddress GetMacAddress(string name)
    {
        var request = Request(name);
        Ioctl(name, Libc.SIOCGIFHWADDR, "SIOCGIFHWADDR", ref request);
        if (request.HwFamily != Libc.ARPHRD_ETHER)
        {
            throw new InteropException($"interface {name} is not Ethernet (hardware type {request.HwFamily})");
        }

        return new PhysicalAddress(new ReadOnlySpan<byte>(request.HwAddress, 6).ToArray());
    }

    /// <summary>
    /// The device's receive queues (ETHTOOL_GCHANNELS: rx-only plus combined channels); 1 for a device that does not
    /// report channels (the kernel answers EOPNOTSUPP for single-queue drivers without the callback).
    /// </summary>
    public static int GetReceiveQueues(string name)
    {
        var channels = new EthtoolChannels { Command = Libc.ETHTOOL_GCHANNELS };
        var request = Request(name);
        request.Data = &channels;
        try
        {
            Ioctl(name, Libc.SIOCETHTOOL, "SIOCETHTOOL ETHTOOL_GCHANNELS", ref request);
        }
        catch (InteropException e) when (e.Errno == Errno.EOPNOTSUPP)
        {
            return 1;
        }

        return (int)Math.Max(1, channels.RxCount + channels.CombinedCount);
    }

    public static bool IsUp(string name) => (GetFlags(name) & Libc.IFF_UP) != 0;

    private static short GetFlags(string name)
    {
        var request = Request(name);
        Ioctl(name, Libc.SIOCGIFFLAGS, "SIOCGIFFLAGS", ref request);
        return request.Flags;
    }

    /// <summary>Sets IFF_UP (a TAP device is created down; writes to a down device fail with EIO).</summary>
    public static void SetUp(string name, bool up)
    {
        var request = Request(name);
        Ioctl(name, Libc.SIOCGIFFLAGS, "SIOCGIFFLAGS", ref request);
        request.Flags = up ? (short)(request.Flags | Libc.IFF_UP) : (short)(request.Flags & ~Libc.IFF_UP);
        Ioctl(name, Libc.SIOCSIFFLAGS, "SIOCSIFFLAGS", ref request);
    }

    private static IfReq Request(string name) =>
        IfReq.TryCreate(name, out var request) ? request : throw new ArgumentException($"'{name}' is not a valid interface name", nameof(name));

    private static void Ioctl(string name, nuint code, string codeName, ref IfReq request)
    {
        var fd = Libc.socket(Libc.AF_INET, Libc.SOCK_DGRAM | Libc.SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            throw InteropException.FromLastError($"socket(for {codeName} {name})");
        }

        try
        {
            fixed (IfReq* p = &request)
            {
                if (Libc.ioctl(fd, code, p) != 0)
                {
                    throw InteropException.FromLastError($"ioctl({codeName}, {name})");
                }
            }
        }
        finally
        {
            _ = Libc.close(fd);
        }
    }
}
