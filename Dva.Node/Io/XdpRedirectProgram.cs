using System.Buffers.Binary;
using System.Text;
using Dva.Node.Interop;

namespace Dva.Node.Io;

/// <summary>Where an <c>afxdp:</c> source's XDP program runs.</summary>
internal enum XdpAttachMode
{
    /// <summary>In the driver if it has an XDP hook that takes the program, else the generic hook.</summary>
    Auto,

    /// <summary>In the driver (XDP_FLAGS_DRV_MODE), before the kernel builds an skb; refused if the driver cannot.</summary>
    Native,

    /// <summary>The generic hook (XDP_FLAGS_SKB_MODE), after the kernel built an skb; works on every device.</summary>
    Generic,
}

/// <summary>
/// The XDP program of an <c>afxdp:</c> source: it sends every frame to the AF_XDP socket registered for the receive
/// queue the frame arrived on (an XSKMAP keyed by <c>rx_queue_index</c>); a queue with no socket passes its frames on to
/// the kernel (the lookup's default action). Six instructions, encoded here because nothing on the node compiles BPF:
/// <code>
/// r2 = *(u32 *)(r1 + 16)           ; xdp_md.rx_queue_index
/// r1 = map_fd (ld_imm64, PSEUDO_MAP_FD) ; two slots
/// r3 = XDP_PASS                     ; what to do when the map has no socket for the queue
/// call bpf_redirect_map             ; helper 51
/// exit                              ; r0 = the helper's verdict
/// </code>
/// Attached through a BPF link (BPF_LINK_CREATE): the program is detached when the link's fd closes, even if the node
/// dies, so a crashed dispatcher does not leave its interface redirecting into a socket that is gone.
/// </summary>
internal sealed class XdpRedirectProgram : IDisposable
{
    public const int InstructionSize = 8;
    public const int InstructionCount = 6;
    public const int MaxQueues = 64;

    private const int XdpPass = 2;
    private const int RedirectMapHelper = 51;
    private const string Name = "dva_xsk_redir";

    private int _map;
    private int _program;
    private int _link = -1;

    private XdpRedirectProgram(string interfaceName, int map, int program)
    {
        InterfaceName = interfaceName;
        _map = map;
        _program = program;
    }

    public string InterfaceName { get; }

    /// <summary>Where the program runs once attached: <see cref="XdpAttachMode.Native"/> or <see cref="XdpAttachMode.Generic"/>.</summary>
    public XdpAttachMode Mode { get; private set; }

    /// <summary>The program's instructions with <paramref name="mapFd"/> as the XSKMAP; 48 bytes, little-endian.</summary>
    public static byte[] Instructions(int mapFd)
    {
        var code = new byte[InstructionCount * InstructionSize];
        Emit(code, 0, 0x61, dst: 2, src: 1, offset: 16, immediate: 0);                  // BPF_LDX | BPF_W | BPF_MEM
        Emit(code, 1, 0x18, dst: 1, src: 1, offset: 0, immediate: mapFd);               // BPF_LD | BPF_DW | BPF_IMM, src = BPF_PSEUDO_MAP_FD
        Emit(code, 2, 0x00, dst: 0, src: 0, offset: 0, immediate: 0);                   // upper half of the 64-bit immediate
        Emit(code, 3, 0xb7, dst: 3, src: 0, offset: 0, immediate: XdpPass);             // BPF_ALU64 | BPF_MOV | BPF_K
        Emit(code, 4, 0x85, dst: 0, src: 0, offset: 0, immediate: RedirectMapHelper);   // BPF_JMP | BPF_CALL
        Emit(code, 5, 0x95, dst: 0, src: 0, offset: 0, immediate: 0);                   // BPF_JMP | BPF_EXIT
        return code;
    }

    /// <summary>Creates the XSKMAP and loads the program (not yet attached). Setup path: throws a readable error.</summary>
    public static XdpRedirectProgram Load(string interfaceName)
    {
        Span<byte> attribute = stackalloc byte[128];
        attribute.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(attribute, Libc.BPF_MAP_TYPE_XSKMAP);
        BinaryPrimitives.WriteUInt32LittleEndian(attribute[4..], sizeof(uint));      // key: the queue index
        BinaryPrimitives.WriteUInt32LittleEndian(attribute[8..], sizeof(int));       // value: the socket's fd
        BinaryPrimitives.WriteUInt32LittleEndian(attribute[12..], MaxQueues);
        var map = Libc.Bpf(Libc.BPF_MAP_CREATE, attribute[..20]);
        if (map < 0)
        {
            throw InteropException.FromLastError($"bpf(BPF_MAP_CREATE XSKMAP, {interfaceName})");
        }

        int program;
        try
        {
            program = BpfLoader.LoadProgram(Libc.BPF_PROG_TYPE_XDP, Instructions(map), Name, Libc.BPF_XDP, $"XDP, {interfaceName}");
        }
        catch
        {
            _ = Libc.close(map);
            throw;
        }

        return new XdpRedirectProgram(interfaceName, map, program);
    }

    /// <summary>Puts <paramref name="socketFd"/> in the map for <paramref name="queue"/>; before <see cref="Attach"/>, so no frame finds the map empty.</summary>
    public unsafe void Register(int queue, int socketFd)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(queue);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(queue, MaxQueues);
        var key = (uint)queue;
        var value = socketFd;
        Span<byte> attribute = stackalloc byte[32];
        attribute.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(attribute, (uint)_map);
        BinaryPrimitives.WriteUInt64LittleEndian(attribute[8..], (ulong)&key);
        BinaryPrimitives.WriteUInt64LittleEndian(attribute[16..], (ulong)&value);
        if (Libc.Bpf(Libc.BPF_MAP_UPDATE_ELEM, attribute) != 0)
        {
            throw InteropException.FromLastError($"bpf(BPF_MAP_UPDATE_ELEM XSKMAP queue {queue}, {InterfaceName})");
        }
    }

    /// <summary>
    /// Attaches the program to the interface through a BPF link. <see cref="XdpAttachMode.Auto"/> tries the driver's hook
    /// and falls back to the generic one (veth, for one, refuses native XDP when its MTU is larger than a page holds).
    /// Fails with EBUSY if another XDP program is attached.
    /// </summary>
    public void Attach(int ifIndex, XdpAttachMode mode)
    {
        if (mode != XdpAttachMode.Generic)
        {
            _link = CreateLink(ifIndex, Libc.XDP_FLAGS_DRV_MODE);
            if (_link >= 0)
            {
                Mode = XdpAttachMode.Native;
                return;
            }

            if (mode == XdpAttachMode.Native || Libc.LastErrno == Errno.EBUSY)
            {
                throw InteropException.FromLastError($"bpf(BPF_LINK_CREATE XDP native, {InterfaceName})");
            }
        }

        _link = CreateLink(ifIndex, Libc.XDP_FLAGS_SKB_MODE);
        if (_link < 0)
        {
            throw InteropException.FromLastError($"bpf(BPF_LINK_CREATE XDP generic, {InterfaceName})");
        }

        Mode = XdpAttachMode.Generic;
    }

    public void Dispose()
    {
        foreach (var fd in new[] { Interlocked.Exchange(ref _link, -1), Interlocked.Exchange(ref _program, -1), Interlocked.Exchange(ref _map, -1) })
        {
            if (fd >= 0)
            {
                _ = Libc.close(fd);
            }
        }
    }

    private static void Emit(byte[] code, int index, byte opcode, int dst, int src, short offset, int immediate)
    {
        var at = code.AsSpan(index * InstructionSize, InstructionSize);
        at[0] = opcode;
        at[1] = (byte)((src << 4) | dst);
        BinaryPrimitives.WriteInt16LittleEndian(at[2..], offset);
        BinaryPrimitives.WriteInt32LittleEndian(at[4..], immediate);
    }

    private int CreateLink(int ifIndex, int flags)
    {
        Span<byte> attribute = stackalloc byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(attribute, (uint)_program);
        BinaryPrimitives.WriteUInt32LittleEndian(attribute[4..], (uint)ifIndex);
        BinaryPrimitives.WriteUInt32LittleEndian(attribute[8..], Libc.BPF_XDP);
        BinaryPrimitives.WriteUInt32LittleEndian(attribute[12..], (uint)flags);
        return Libc.Bpf(Libc.BPF_LINK_CREATE, attribute);
    }
}
