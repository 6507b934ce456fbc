using System.Runtime.InteropServices;

namespace Dva.Node.Interop;

// Layouts are those of the x86-64 and arm64 Linux ABIs (LP64). Each size is asserted in
// Interop tests against the value a C compiler gives on this machine.

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct IoVec
{
    public byte* Base;
    public nuint Length;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct MsgHdr
{
    public void* Name;
    public uint NameLength;
    public IoVec* Iov;
    public nuint IovLength;
    public void* Control;
    public nuint ControlLength;
    public int Flags;
}

[StructLayout(LayoutKind.Sequential)]
internal struct MMsgHdr
{
    public MsgHdr Header;
    public uint Length;
}

/// <summary>
/// struct epoll_event. On x86-64 the kernel declares it packed (12 bytes); elsewhere it is 16 bytes.
/// The engine refuses to start on other architectures rather than guess.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
internal struct EpollEvent
{
    public uint Events;
    public ulong Data;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct SockAddrIn
{
    public ushort Family;
    /// <summary>Network byte order.</summary>
    public ushort Port;
    /// <summary>Network byte order.</summary>
    public uint Address;
    public fixed byte Zero[8];
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct SockAddrIn6
{
    public ushort Family;
    public ushort Port;
    public uint FlowInfo;
    public fixed byte Address[16];
    public uint ScopeId;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct SockAddrLl
{
    public ushort Family;
    /// <summary>Ethertype, network byte order.</summary>
    public ushort Protocol;
    public int IfIndex;
    public ushort HaType;
    public byte PktType;
    public byte HaLength;
    public fixed byte Address[8];
}

/// <summary>struct packet_mreq, for PACKET_ADD_MEMBERSHIP (promiscuous mode tied to the socket's life).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PacketMreq
{
    public int IfIndex;
    public ushort Type;
    public ushort AddressLength;
    public fixed byte Address[8];
}

/// <summary>struct ifreq: 16-byte name, then a 24-byte union (flags, mtu, hwaddr as a sockaddr).</summary>
[StructLayout(LayoutKind.Explicit, Size = 40)]
internal unsafe struct IfReq
{
    public const int NameSize = 16;

    [FieldOffset(0)]
    public fixed byte Name[NameSize];

    [FieldOffset(16)]
    public short Flags;

    [FieldOffset(16)]
    public int Value;

    /// <summary>sockaddr.sa_family of SIOCGIFHWADDR; the address bytes follow at offset 18.</summary>
    [FieldOffset(16)]
    public ushort HwFamily;

    [FieldOffset(18)]
    public fixed byte HwAddress[14];

    /// <summary>ifr_data: the argument block of SIOCETHTOOL.</summary>
    [FieldOffset(16)]
    public void* Data;

    /// <summary>Builds an ifreq for <paramref name="name"/>; false when the name does not fit IFNAMSIZ.</summary>
    public static bool TryCreate(string name, out IfReq request)
    {
        request = default;
        if (name.Length == 0 || name.Length >= NameSize)
        {
            return false;
        }

        for (var i = 0; i < name.Length; i++)
        {
            if (name[i] > 0x7e || name[i] <= 0x20 || name[i] == '/')
            {
                return false;
            }

            request.Name[i] = (byte)name[i];
        }

        return true;
    }
}

[StructLayout(LayoutKind.Sequential)]
internal struct PollFd
{
    public int Fd;
    public short Events;
    public short ReturnedEvents;
}

/// <summary>struct sock_filter: one classic BPF instruction.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct SockFilter
{
    public ushort Code;
    public byte JumpTrue;
    public byte JumpFalse;
    public uint K;

    public SockFilter(ushort code, uint k)
    {
        Code = code;
        K = k;
    }
}

/// <summary>struct sock_fprog: a classic BPF program for SO_ATTACH_FILTER / SO_ATTACH_REUSEPORT_CBPF.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct SockFprog
{
    public ushort Length;
    public SockFilter* Filter;
}
