using System.Runtime.InteropServices;

namespace Dva.Node.Interop;

/// <summary>The calls and constants of an AF_PACKET PACKET_MMAP ring (linux/if_packet.h, sys/mman.h).</summary>
internal static unsafe partial class Libc
{
    public const int PACKET_RX_RING = 5;
    public const int PACKET_STATISTICS = 6;
    public const int PACKET_VERSION = 10;
    public const int TPACKET_V3 = 2;
    public const int PACKET_FANOUT = 18;
    public const int PACKET_FANOUT_HASH = 0;
    public const int PACKET_FANOUT_FLAG_UNIQUEID = 0x2000;

    /// <summary>The group's hook skips the interface's outgoing frames: a member's PACKET_IGNORE_OUTGOING does not reach it.</summary>
    public const int PACKET_FANOUT_FLAG_IGNORE_OUTGOING = 0x4000;
    public const int PACKET_FANOUT_FLAG_DEFRAG = 0x8000;

    public const int PROT_READ = 0x1;
    public const int PROT_WRITE = 0x2;
    public const int MAP_SHARED = 0x01;

    /// <summary>mmap's MAP_FAILED, <c>(void*)-1</c>.</summary>
    public static readonly void* MapFailed = (void*)-1;

    [LibraryImport(Library, SetLastError = true)]
    public static partial void* mmap(void* address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int munmap(void* address, nuint length);
}

/// <summary>struct tpacket_req3: the geometry of a TPACKET_V3 ring, for PACKET_RX_RING.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct TPacketReq3
{
    public uint BlockSize;
    public uint BlockCount;
    public uint FrameSize;
    public uint FrameCount;

    /// <summary>Milliseconds after which the kernel hands a block that is not full to user space.</summary>
    public uint RetireBlockTimeoutMs;
    public uint PrivateSize;
    public uint FeatureRequestWord;
}

/// <summary>struct tpacket_stats_v3, read (and reset) by getsockopt(PACKET_STATISTICS).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct TPacketStatsV3
{
    public uint Packets;
    public uint Drops;
    public uint FreezeQueueCount;
}

/// <summary>struct timespec (LP64).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct Timespec
{
    public long Seconds;
    public long Nanoseconds;
}

/// <summary>Per-thread CPU clocks, for load harnesses that report CPU time per packet of one engine thread.</summary>
internal static unsafe partial class Libc
{
    [LibraryImport(Library, SetLastError = true)]
    public static partial int gettid();

    [LibraryImport(Library, SetLastError = true)]
    public static partial int clock_gettime(int clockId, Timespec* time);

    /// <summary>
    /// CPU time a thread of this process has used, by its kernel thread id: the clock id is the kernel's
    /// MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED), <c>(~tid &lt;&lt; 3) | 6</c>. Zero if the thread is gone.
    /// </summary>
    public static TimeSpan ThreadCpuTime(int tid)
    {
        Timespec time;
        return clock_gettime((~tid << 3) | 6, &time) == 0
            ? TimeSpan.FromTicks((time.Seconds * TimeSpan.TicksPerSecond) + (time.Nanoseconds / 100))
            : TimeSpan.Zero;
    }
}
