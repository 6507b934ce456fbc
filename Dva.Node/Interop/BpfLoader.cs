using System.Buffers.Binary;
using System.Text;

namespace Dva.Node.Interop;

/// <summary>
/// Creating BPF maps and loading the node's own BPF programs (the <c>afxdp:</c> source's XDP redirect, the kernel
/// shortcut's verdict and forward programs). Setup path: a refusal throws a readable error, with the verifier's log
/// for a program it refused.
/// </summary>
internal static unsafe class BpfLoader
{
    public const int InstructionSize = 8;

    private const int BpfProgLoad = 5;
    private const int LogBytes = 1 << 20;
    private const int LogShown = 4000;

    private static readonly byte[] License = Encoding.ASCII.GetBytes("Dual MIT/GPL\0");

    /// <summary>BPF_MAP_CREATE; <paramref name="name"/> (up to 15 ASCII characters) names it in bpftool's listing.</summary>
    public static int CreateMap(int type, int keySize, int valueSize, int entries, string name, string what)
    {
        Span<byte> attribute = stackalloc byte[72];
        attribute.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(attribute, (uint)type);
        BinaryPrimitives.WriteUInt32LittleEndian(attribute[4..], (uint)keySize);
        BinaryPrimitives.WriteUInt32LittleEndian(attribute[8..], (uint)valueSize);
        BinaryPrimitives.WriteUInt32LittleEndian(attribute[12..], (uint)entries);
        Encoding.ASCII.GetBytes(name).CopyTo(attribute[28..]);                            // map_name[16]
        var fd = Libc.Bpf(Libc.BPF_MAP_CREATE, attribute);
        return fd >= 0 ? fd : throw InteropException.FromLastError($"bpf(BPF_MAP_CREATE {what}, {entries} entries)");
    }

    /// <summary>
    /// BPF_PROG_LOAD of <paramref name="code"/> (little-endian instructions); on a refusal it loads again with the
    /// verifier's log on and throws with the log's end.
    /// </summary>
    public static int LoadProgram(int type, byte[] code, string name, int expectedAttachType, string what)
    {
        var fd = Load(type, code, name, expectedAttachType, 0, out _);
        if (fd >= 0)
        {
            return fd;
        }

        var errno = Libc.LastErrno;
        _ = Load(type, code, name, expectedAttachType, 1, out var log);
        throw new InteropException($"bpf(BPF_PROG_LOAD {what}) failed: {errno}; verifier: {(log.Length == 0 ? "(no log)" : log)}");
    }

    private static int Load(int type, byte[] code, string name, int expectedAttachType, int logLevel, out string log)
    {
        var logBuffer = new byte[logLevel == 0 ? 0 : LogBytes];
        Span<byte> attribute = stackalloc byte[72];
        attribute.Clear();
        fixed (byte* instructions = code)
        fixed (byte* license = License)
        fixed (byte* logPointer = logBuffer)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(attribute, (uint)type);
            BinaryPrimitives.WriteUInt32LittleEndian(attribute[4..], (uint)(code.Length / InstructionSize));
            BinaryPrimitives.WriteUInt64LittleEndian(attribute[8..], (ulong)instructions);
            BinaryPrimitives.WriteUInt64LittleEndian(attribute[16..], (ulong)license);
            BinaryPrimitives.WriteUInt32LittleEndian(attribute[24..], (uint)logLevel);
            BinaryPrimitives.WriteUInt32LittleEndian(attribute[28..], (uint)logBuffer.Length);
            BinaryPrimitives.WriteUInt64LittleEndian(attribute[32..], (ulong)logPointer);
            Encoding.ASCII.GetBytes(name).CopyTo(attribute[48..]);                        // prog_name[16]
            BinaryPrimitives.WriteUInt32LittleEndian(attribute[68..], (uint)expectedAttachType);
            var fd = Libc.Bpf(BpfProgLoad, attribute);
            var end = Array.IndexOf(logBuffer, (byte)0);
            log = Encoding.ASCII.GetString(logBuffer, 0, end < 0 ? logBuffer.Length : end).Trim();
            if (log.Length > LogShown)
            {
                log = "…" + log[^LogShown..];
            }

            return fd;
        }
    }
}
