using System.Buffers.Binary;
using System.Text;
using Dva.Node.Interop;

namespace Dva.Node.Shortcut;

/// <summary>A program <see cref="ShortcutTable.TestRun"/> runs.</summary>
internal enum ShortcutProgram
{
    /// <summary>Benchmark only: a tc program that returns TC_ACT_OK at once, the cost of running any program.</summary>
    Baseline,
    Verdict,
    Forward,
}

/// <summary>What <see cref="ShortcutTable.Install"/> did.</summary>
internal enum ShortcutInstall
{
    /// <summary>A new entry (or one that replaced a withdrawn or changed entry).</summary>
    Installed,

    /// <summary>The entry was there with the same route: its lease is renewed, its counters kept.</summary>
    Renewed,

    /// <summary>The map is full; the flow stays on the data-plane path.</summary>
    Full,
}

/// <summary>
/// The kernel side of the dispatcher's shortcut: the flow map (a BPF hash map), a small state map with two counters, the
/// verdict program every AF_PACKET socket of a shared interface carries, and the forward program on each interface's tcx
/// ingress. Programs are attached through links and socket options, so they go away with the process, even on a crash.
/// Not thread-safe: one dispatcher thread installs and sweeps.
/// </summary>
internal sealed unsafe class ShortcutTable : IDisposable
{
    private const int BpfMapLookupElem = 1;
    private const int BpfMapUpdateElem = 2;
    private const int BpfMapDeleteElem = 3;
    private const int BpfLinkCreate = 28;
    private const int BpfProgTestRun = 10;
    private const int BpfMapLookupBatch = 24;
    private const int BatchSize = 1024;
    private const int BpfMapTypeHash = 1;
    private const int BpfMapTypeArray = 2;
    private const int BpfProgTypeSocketFilter = 1;
    private const int BpfProgTypeSchedCls = 3;
    private const int BpfTcxIngress = 46;
    private const int SoAttachBpf = 50;
    private const int ENOENT = 2;
    private const int E2BIG = 7;

    private readonly List<int> _links = [];
    private int _map;
    private int _state;
    private int _verdict;
    private int _forward;
    private int _baseline = -1;

    private ShortcutTable(int map, int state, int verdict, int forward, int capacity, long leaseNanoseconds)
    {
        _map = map;
        _state = state;
        _verdict = verdict;
        _forward = forward;
        Capacity = capacity;
        LeaseNanoseconds = leaseNanoseconds;
    }

    public int Capacity { get; }

    public long LeaseNanoseconds { get; }

    /// <summary>
    /// Creates the maps and loads both programs. Setup path: throws a readable error, with the verifier's log if it refused.
    /// <paramref name="verdictAsClassifier"/> (the benchmark): the verdict's instructions are loaded as a tc program,
    /// which BPF_PROG_TEST_RUN hands whole Ethernet frames (a socket filter gets them from the IP header on).
    /// </summary>
    public static ShortcutTable Create(int capacity, TimeSpan lease, bool verdictAsClassifier = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        var leaseNs = (long)(lease.TotalMilliseconds * 1_000_000);
        var map = CreateMap(BpfMapTypeHash, ShortcutLayout.KeySize, ShortcutLayout.ValueSize, capacity, "flows");
        var state = -1;
        var verdict = -1;
        try
        {
            state = CreateMap(BpfMapTypeArray, sizeof(uint), ShortcutLayout.StateSize, 1, "state");
            verdict = verdictAsClassifier
                ? LoadProgram(BpfProgTypeSchedCls, ShortcutPrograms.Verdict(map, leaseNs), "dva_sc_verdict", BpfTcxIngress)
                : LoadProgram(BpfProgTypeSocketFilter, ShortcutPrograms.Verdict(map, leaseNs), "dva_sc_verdict", 0);
            var forward = LoadProgram(BpfProgTypeSchedCls, ShortcutPrograms.Forward(map, state), "dva_sc_forward", BpfTcxIngress);
            var table = new ShortcutTable(map, state, verdict, forward, capacity, leaseNs);
            if (verdictAsClassifier)
            {
                var baseline = new BpfAssembler();
                baseline.Mov(Reg.R0, ShortcutPrograms.TcActOk);
                baseline.Exit();
                table._baseline = LoadProgram(BpfProgTypeSchedCls, baseline.Build(), "dva_sc_baseline", BpfTcxIngress);
            }

            return table;
        }
        catch
        {
            foreach (var fd in new[] { verdict, state, map })
            {
                if (fd >= 0)
                {
                    _ = Libc.close(fd);
                }
            }

            throw;
        }
    }

    /// <summary>Puts the verdict program on an AF_PACKET socket of a shared interface (every engine's socket needs it).</summary>
    public void AttachVerdict(int socketFd, string interfaceName)
    {
        var program = _verdict;
        if (Libc.setsockopt(socketFd, Libc.SOL_SOCKET, SoAttachBpf, &program, sizeof(int)) != 0)
        {
            throw InteropException.FromLastError($"setsockopt(SO_ATTACH_BPF shortcut verdict, {interfaceName})");
        }
    }

    /// <summary>Attaches the forward program to the interface's tcx ingress (after any program already there).</summary>
    public void AttachForward(int ifIndex, string interfaceName)
    {
        Span<byte> attribute = stackalloc byte[32];
        attribute.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(attribute, (uint)_forward);
        BinaryPrimitives.WriteUInt32LittleEndian(attribute[4..], (uint)ifIndex);
        BinaryPrimitives.WriteUInt32LittleEndian(attribute[8..], BpfTcxIngress);
        var link = Libc.Bpf(BpfLinkCreate, attribute);
        if (link < 0)
        {
            throw InteropException.FromLastError($"bpf(BPF_LINK_CREATE tcx ingress, {interfaceName})");
        }

        _links.Add(link);
    }

    /// <summary>
    /// Installs or renews the shortcut for <paramref name="key"/>: an entry with the same route keeps its counters and gets
    /// a fresh lease; a missing, withdrawn or different one is replaced with zeroed counters. Returns what happened.
    /// </summary>
    public ShortcutInstall Install(ReadOnlySpan<byte> key, in ShortcutRoute route, ulong nowNs)
    {
        Span<byte> value = stackalloc byte[ShortcutLayout.ValueSize];
        var entry = new ShortcutEntry(route, 0, 0, 0, nowNs, nowNs);
        var result = ShortcutInstall.Installed;
        if (TryLookup(key, value))
        {
            var existing = ShortcutEntry.Read(value);
            if (!existing.Withdrawn && existing.Route.Equals(route))
            {
                entry = existing with { Flags = 0, LeaseNs = nowNs };
                result = ShortcutInstall.Renewed;
            }
        }

        entry.Write(value);
        if (!Update(key, value))
        {
            if (Libc.LastErrno == (Errno)E2BIG)
            {
                return ShortcutInstall.Full;
            }

            throw InteropException.FromLastError("bpf(BPF_MAP_UPDATE_ELEM shortcut)");
        }

        return result;
    }

    /// <summary>Reads the entry for <paramref name="key"/>; false if there is none.</summary>
    public bool TryGet(ReadOnlySpan<byte> key, out ShortcutEntry entry)
    {
        Span<byte> value = stackalloc byte[ShortcutLayout.ValueSize];
        if (!TryLookup(key, value))
        {
            entry = default;
            return false;
        }

        entry = ShortcutEntry.Read(value);
        return true;
    }

    /// <summary>Deletes the entry for <paramref name="key"/>; false if there was none.</summary>
    public bool Remove(ReadOnlySpan<byte> key) =>
        Element(BpfMapDeleteElem, key, default)
        || (Libc.LastErrno == (Errno)ENOENT ? false : throw InteropException.FromLastError("bpf(BPF_MAP_DELETE_ELEM shortcut)"));

    /// <summary>
    /// Every entry with its key, read a thousand at a time (BPF_MAP_LOOKUP_BATCH): a snapshot, in which an entry that
    /// comes or goes meanwhile may be missing.
    /// </summary>
    public List<(byte[] Key, ShortcutEntry Entry)> ReadAll()
    {
        var entries = new List<(byte[] Key, ShortcutEntry Entry)>();
        var keys = new byte[BatchSize * ShortcutLayout.KeySize];
        var values = new byte[BatchSize * ShortcutLayout.ValueSize];
        Span<byte> attribute = stackalloc byte[56];
        ulong inToken = 0, outToken = 0;
        var first = true;
        while (true)
        {
            attribute.Clear();
            uint count;
            fixed (byte* keysPointer = keys)
            fixed (byte* valuesPointer = values)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(attribute, first ? 0UL : (ulong)&inToken);
                BinaryPrimitives.WriteUInt64LittleEndian(attribute[8..], (ulong)&outToken);
                BinaryPrimitives.WriteUInt64LittleEndian(attribute[16..], (ulong)keysPointer);
                BinaryPrimitives.WriteUInt64LittleEndian(attribute[24..], (ulong)valuesPointer);
                BinaryPrimitives.WriteUInt32LittleEndian(attribute[32..], BatchSize);
                BinaryPrimitives.WriteUInt32LittleEndian(attribute[36..], (uint)_map);
                var result = Libc.Bpf(BpfMapLookupBatch, attribute);
                count = BinaryPrimitives.ReadUInt32LittleEndian(attribute[32..]);
                if (result != 0 && Libc.LastErrno != (Errno)ENOENT)
                {
                    throw InteropException.FromLastError("bpf(BPF_MAP_LOOKUP_BATCH shortcut)");
                }

                for (var i = 0; i < count; i++)
                {
                    entries.Add((keys.AsSpan(i * ShortcutLayout.KeySize, ShortcutLayout.KeySize).ToArray(),
                        ShortcutEntry.Read(values.AsSpan(i * ShortcutLayout.ValueSize, ShortcutLayout.ValueSize))));
                }

                if (result != 0)
                {
                    return entries;                                               // ENOENT: that was the last batch
                }
            }

            inToken = outToken;
            first = false;
        }
    }

    /// <summary>The forward program's counters: frames with verdict FAST whose entry was gone, and shortcut frames without a verdict.</summary>
    public (ulong Lost, ulong Unverdicted) ReadState()
    {
        Span<byte> value = stackalloc byte[ShortcutLayout.StateSize];
        var key = 0u;
        Span<byte> attribute = stackalloc byte[32];
        attribute.Clear();
        fixed (byte* valuePointer = value)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(attribute, (uint)_state);
            BinaryPrimitives.WriteUInt64LittleEndian(attribute[8..], (ulong)&key);
            BinaryPrimitives.WriteUInt64LittleEndian(attribute[16..], (ulong)valuePointer);
            if (Libc.Bpf(BpfMapLookupElem, attribute) != 0)
            {
                throw InteropException.FromLastError("bpf(BPF_MAP_LOOKUP_ELEM shortcut state)");
            }
        }

        return (BinaryPrimitives.ReadUInt64LittleEndian(value[ShortcutLayout.StateLost..]), BinaryPrimitives.ReadUInt64LittleEndian(value[ShortcutLayout.StateUnverdicted..]));
    }

    /// <summary>
    /// BPF_PROG_TEST_RUN: runs <paramref name="program"/> <paramref name="repeat"/> times on <paramref name="frame"/> with
    /// <c>cb[0]</c> = <paramref name="verdict"/>, on the loopback device (ifindex 1)
    /// of the caller's namespace. Returns the program's last return value and the kernel's mean time per run in ns. Each
    /// run sees the frame as the previous one left it (the forward program decrements its TTL).
    /// </summary>
    public (int ReturnValue, int NanosecondsPerRun) TestRun(ShortcutProgram program, ReadOnlySpan<byte> frame, int verdict, int repeat)
    {
        var fd = program switch
        {
            ShortcutProgram.Verdict => _verdict,
            ShortcutProgram.Forward => _forward,
            _ => _baseline >= 0 ? _baseline : throw new InvalidOperationException("the baseline program is loaded for the benchmark only"),
        };
        const int SkBuffSize = 192;
        Span<byte> context = stackalloc byte[SkBuffSize];
        context.Clear();
        BinaryPrimitives.WriteInt32LittleEndian(context[48..], verdict);                  // __sk_buff.cb[0]
        Span<byte> attribute = stackalloc byte[80];
        attribute.Clear();
        fixed (byte* data = frame)
        fixed (byte* contextPointer = context)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(attribute, (uint)fd);
            BinaryPrimitives.WriteUInt32LittleEndian(attribute[8..], (uint)frame.Length);
            BinaryPrimitives.WriteUInt64LittleEndian(attribute[16..], (ulong)data);
            BinaryPrimitives.WriteUInt32LittleEndian(attribute[32..], (uint)repeat);
            BinaryPrimitives.WriteUInt32LittleEndian(attribute[40..], SkBuffSize);
            BinaryPrimitives.WriteUInt64LittleEndian(attribute[48..], (ulong)contextPointer);
            if (Libc.Bpf(BpfProgTestRun, attribute) != 0)
            {
                throw InteropException.FromLastError("bpf(BPF_PROG_TEST_RUN shortcut)");
            }
        }

        return (BinaryPrimitives.ReadInt32LittleEndian(attribute[4..]), BinaryPrimitives.ReadInt32LittleEndian(attribute[36..]));
    }

    /// <summary>CLOCK_MONOTONIC in nanoseconds: the clock the programs' bpf_ktime_get_ns reads.</summary>
    public static ulong MonotonicNanoseconds()
    {
        Timespec time;
        _ = Libc.clock_gettime(1, &time);
        return ((ulong)time.Seconds * 1_000_000_000UL) + (ulong)time.Nanoseconds;
    }

    public void Dispose()
    {
        foreach (var link in _links)
        {
            _ = Libc.close(link);
        }

        _links.Clear();
        foreach (var fd in new[] { Interlocked.Exchange(ref _baseline, -1), Interlocked.Exchange(ref _forward, -1), Interlocked.Exchange(ref _verdict, -1), Interlocked.Exchange(ref _state, -1), Interlocked.Exchange(ref _map, -1) })
        {
            if (fd >= 0)
            {
                _ = Libc.close(fd);
            }
        }
    }

    private bool TryLookup(ReadOnlySpan<byte> key, Span<byte> value) =>
        Element(BpfMapLookupElem, key, value)
        || (Libc.LastErrno == (Errno)ENOENT ? false : throw InteropException.FromLastError("bpf(BPF_MAP_LOOKUP_ELEM shortcut)"));

    private bool Update(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value) => Element(BpfMapUpdateElem, key, value);

    /// <summary>A map command on one element of the flow map (union bpf_attr: map_fd, key, value); true on success.</summary>
    private bool Element(int command, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        Span<byte> attribute = stackalloc byte[32];
        attribute.Clear();
        fixed (byte* keyPointer = key)
        fixed (byte* valuePointer = value)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(attribute, (uint)_map);
            BinaryPrimitives.WriteUInt64LittleEndian(attribute[8..], (ulong)keyPointer);
            BinaryPrimitives.WriteUInt64LittleEndian(attribute[16..], (ulong)valuePointer);
            return Libc.Bpf(command, attribute) == 0;
        }
    }

    private static int CreateMap(int type, int keySize, int valueSize, int entries, string name) =>
        BpfLoader.CreateMap(type, keySize, valueSize, entries, "dva_sc_" + name, $"shortcut {name}");

    private static int LoadProgram(int type, byte[] code, string name, int expectedAttachType) =>
        BpfLoader.LoadProgram(type, code, name, expectedAttachType, name);
}
