using System.Runtime.InteropServices;

namespace Dva.Node.Interop;

/// <summary>
/// The calls and constants of an AF_XDP socket (linux/if_xdp.h) and of the bpf(2) commands that load and attach the
/// XDP program feeding it (linux/bpf.h), plus ETHTOOL_GCHANNELS to count an interface's receive queues.
/// </summary>
internal static unsafe partial class Libc
{
    public const int AF_XDP = 44;
    public const int SOL_XDP = 283;

    public const int XDP_MMAP_OFFSETS = 1;
    public const int XDP_RX_RING = 2;
    public const int XDP_UMEM_REG = 4;
    public const int XDP_UMEM_FILL_RING = 5;
    public const int XDP_UMEM_COMPLETION_RING = 6;
    public const int XDP_STATISTICS = 7;

    /// <summary>mmap page offsets of the rings (XDP_PGOFF_RX_RING, XDP_UMEM_PGOFF_FILL_RING, XDP_UMEM_PGOFF_COMPLETION_RING).</summary>
    public const long XDP_PGOFF_RX_RING = 0;
    public const long XDP_UMEM_PGOFF_FILL_RING = 0x100000000;
    public const long XDP_UMEM_PGOFF_COMPLETION_RING = 0x180000000;

    public const int MAP_PRIVATE = 0x02;
    public const int MAP_ANONYMOUS = 0x20;
    public const int MAP_POPULATE = 0x8000;

    public const int BPF_MAP_CREATE = 0;
    public const int BPF_MAP_UPDATE_ELEM = 2;
    public const int BPF_PROG_LOAD = 5;
    public const int BPF_LINK_CREATE = 28;
    public const int BPF_MAP_TYPE_XSKMAP = 17;
    public const int BPF_PROG_TYPE_XDP = 6;
    public const int BPF_XDP = 37;

    /// <summary>XDP_FLAGS_SKB_MODE: the generic hook, after the kernel built an skb; XDP_FLAGS_DRV_MODE: in the driver.</summary>
    public const int XDP_FLAGS_SKB_MODE = 1 << 1;
    public const int XDP_FLAGS_DRV_MODE = 1 << 2;

    public const nuint SIOCETHTOOL = 0x8946;
    public const uint ETHTOOL_GCHANNELS = 0x3c;

    /// <summary>The bpf(2) system call number: 321 on x86-64, 280 on arm64 (the generic table).</summary>
    public static nint BpfSyscall => RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 280 : 321;

    [LibraryImport(Library, SetLastError = true)]
    public static partial nint syscall(nint number, nint command, void* attribute, nint size);

    [LibraryImport(Library, SetLastError = true)]
    public static partial nint sendto(int fd, void* buffer, nuint length, int flags, void* address, uint addressLength);

    /// <summary>bpf(command, attribute, size): a new fd or 0 on success, -1 with <see cref="LastErrno"/> set.</summary>
    public static int Bpf(int command, ReadOnlySpan<byte> attribute)
    {
        fixed (byte* pointer = attribute)
        {
            return (int)syscall(BpfSyscall, command, pointer, attribute.Length);
        }
    }
}

/// <summary>struct xdp_umem_reg: the memory an AF_XDP socket's frames live in.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct XdpUmemReg
{
    public ulong Address;
    public ulong Length;
    public uint ChunkSize;
    public uint Headroom;
    public uint Flags;
    public uint TxMetadataLength;
}

/// <summary>struct xdp_ring_offset: where a ring's producer, consumer, descriptors and flags sit in its mapping.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct XdpRingOffset
{
    public ulong Producer;
    public ulong Consumer;
    public ulong Descriptors;
    public ulong Flags;
}

/// <summary>struct xdp_mmap_offsets (XDP_MMAP_OFFSETS): the four rings' layouts.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct XdpMmapOffsets
{
    public XdpRingOffset Rx;
    public XdpRingOffset Tx;
    public XdpRingOffset Fill;
    public XdpRingOffset Completion;
}

/// <summary>struct sockaddr_xdp: binds an AF_XDP socket to one receive queue of one interface.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct SockAddrXdp
{
    public ushort Family;
    public ushort Flags;
    public uint IfIndex;
    public uint QueueId;
    public uint SharedUmemFd;
}

/// <summary>struct xdp_desc: one frame in the RX (or TX) ring, by its offset into the UMEM.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct XdpDescriptor
{
    public ulong Address;
    public uint Length;
    public uint Options;
}

/// <summary>struct xdp_statistics (XDP_STATISTICS): cumulative since the socket opened, not reset by reading.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct XdpStatistics
{
    /// <summary>Frames dropped for reasons other than invalid descriptors, such as no UMEM frame to put them in.</summary>
    public ulong RxDropped;
    public ulong RxInvalidDescriptors;
    public ulong TxInvalidDescriptors;
    public ulong RxRingFull;
    public ulong RxFillRingEmpty;
    public ulong TxRingEmpty;
}

/// <summary>struct ethtool_channels (ETHTOOL_GCHANNELS): how many queues a device has.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct EthtoolChannels
{
    public uint Command;
    public uint MaxRx;
    public uint MaxTx;
    public uint MaxOther;
    public uint MaxCombined;
    public uint RxCount;
    public uint TxCount;
    public uint OtherCount;
    public uint CombinedCount;
}
