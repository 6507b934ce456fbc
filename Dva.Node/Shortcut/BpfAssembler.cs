using System.Buffers.Binary;

namespace Dva.Node.Shortcut;

/// <summary>An eBPF register: r0 return value, r1..r5 helper arguments (clobbered by calls), r6..r9 kept, r10 the frame pointer.</summary>
internal enum Reg : byte
{
    R0,
    R1,
    R2,
    R3,
    R4,
    R5,
    R6,
    R7,
    R8,
    R9,
    Fp,
}

/// <summary>Load and store widths.</summary>
internal enum Width : byte
{
    W = 0x00,
    H = 0x08,
    B = 0x10,
    DW = 0x18,
}

/// <summary>Conditional jumps (BPF_JMP class, 64-bit compares).</summary>
internal enum Jump : byte
{
    Eq = 0x10,
    Gt = 0x20,
    Ge = 0x30,
    Set = 0x40,
    Ne = 0x50,
    Lt = 0xa0,
    Le = 0xb0,
}

/// <summary>A place in the program a jump goes to; bound once with <see cref="BpfAssembler.Mark"/>.</summary>
internal sealed class BpfLabel
{
    internal int Position { get; set; } = -1;
}

/// <summary>
/// Writes eBPF instructions (linux/bpf.h encoding: opcode, dst/src nibbles, 16-bit offset, 32-bit immediate, little-endian)
/// with forward labels, for the node's own programs: nothing on a node compiles BPF, and the programs are small enough to
/// read as assembly. Only the instructions the programs use are here.
/// </summary>
internal sealed class BpfAssembler
{
    public const int InstructionSize = Interop.BpfLoader.InstructionSize;

    private const byte ClassLd = 0x00;
    private const byte ClassLdx = 0x01;
    private const byte ClassSt = 0x02;
    private const byte ClassStx = 0x03;
    private const byte ClassAlu = 0x04;
    private const byte ClassJmp = 0x05;
    private const byte ClassAlu64 = 0x07;
    private const byte ModeImm = 0x00;
    private const byte ModeMem = 0x60;
    private const byte ModeAtomic = 0xc0;
    private const byte SourceX = 0x08;
    private const byte OpAdd = 0x00;
    private const byte OpSub = 0x10;
    private const byte OpOr = 0x40;
    private const byte OpAnd = 0x50;
    private const byte OpRsh = 0x70;
    private const byte OpMov = 0xb0;
    private const byte OpCall = 0x80;
    private const byte OpExit = 0x90;
    private const byte PseudoMapFd = 1;

    private readonly List<(byte Opcode, byte Registers, short Offset, int Immediate)> _code = [];
    private readonly List<(int At, BpfLabel Target)> _fixups = [];

    public int Count => _code.Count;

    /// <summary>dst = imm (64-bit move of a sign-extended 32-bit immediate).</summary>
    public void Mov(Reg dst, int immediate) => Add(ClassAlu64 | OpMov, dst, Reg.R0, 0, immediate);

    /// <summary>dst = src.</summary>
    public void Mov(Reg dst, Reg src) => Add(ClassAlu64 | OpMov | SourceX, dst, src, 0, 0);

    /// <summary>32-bit dst = imm, zero-extended (so −1 gives 0xffffffff).</summary>
    public void Mov32(Reg dst, int immediate) => Add(ClassAlu | OpMov, dst, Reg.R0, 0, immediate);

    public void AddImm(Reg dst, int immediate) => Add(ClassAlu64 | OpAdd, dst, Reg.R0, 0, immediate);

    public void Add(Reg dst, Reg src) => Add(ClassAlu64 | OpAdd | SourceX, dst, src, 0, 0);

    public void Sub(Reg dst, Reg src) => Add(ClassAlu64 | OpSub | SourceX, dst, src, 0, 0);

    public void SubImm(Reg dst, int immediate) => Add(ClassAlu64 | OpSub, dst, Reg.R0, 0, immediate);

    public void AndImm(Reg dst, int immediate) => Add(ClassAlu64 | OpAnd, dst, Reg.R0, 0, immediate);

    public void OrImm(Reg dst, int immediate) => Add(ClassAlu64 | OpOr, dst, Reg.R0, 0, immediate);

    public void RshImm(Reg dst, int immediate) => Add(ClassAlu64 | OpRsh, dst, Reg.R0, 0, immediate);

    /// <summary>dst = *(width *)(src + offset).</summary>
    public void Load(Width width, Reg dst, Reg src, short offset) => Add((byte)(ClassLdx | ModeMem | (byte)width), dst, src, offset, 0);

    /// <summary>*(width *)(dst + offset) = src.</summary>
    public void Store(Width width, Reg dst, short offset, Reg src) => Add((byte)(ClassStx | ModeMem | (byte)width), dst, src, offset, 0);

    /// <summary>*(width *)(dst + offset) = imm.</summary>
    public void StoreImm(Width width, Reg dst, short offset, int immediate) => Add((byte)(ClassSt | ModeMem | (byte)width), dst, Reg.R0, offset, immediate);

    /// <summary>Atomic *(u64 *)(dst + offset) += src (BPF_ATOMIC | BPF_ADD).</summary>
    public void AtomicAdd64(Reg dst, short offset, Reg src) => Add((byte)(ClassStx | ModeAtomic | (byte)Width.DW), dst, src, offset, OpAdd);

    /// <summary>dst = the map whose fd is <paramref name="mapFd"/> (ld_imm64 with BPF_PSEUDO_MAP_FD; two slots).</summary>
    public void LoadMap(Reg dst, int mapFd)
    {
        Add((byte)(ClassLd | ModeImm | (byte)Width.DW), dst, (Reg)PseudoMapFd, 0, mapFd);
        Add(0, Reg.R0, Reg.R0, 0, 0);
    }

    public void Call(int helper) => Add(ClassJmp | OpCall, Reg.R0, Reg.R0, 0, helper);

    public void Exit() => Add(ClassJmp | OpExit, Reg.R0, Reg.R0, 0, 0);

    /// <summary>Unconditional jump.</summary>
    public void Goto(BpfLabel target)
    {
        _fixups.Add((_code.Count, target));
        Add(ClassJmp, Reg.R0, Reg.R0, 0, 0);
    }

    /// <summary>if (dst op imm) goto target.</summary>
    public void If(Reg dst, Jump op, int immediate, BpfLabel target)
    {
        _fixups.Add((_code.Count, target));
        Add((byte)(ClassJmp | (byte)op), dst, Reg.R0, 0, immediate);
    }

    /// <summary>if (dst op src) goto target.</summary>
    public void If(Reg dst, Jump op, Reg src, BpfLabel target)
    {
        _fixups.Add((_code.Count, target));
        Add((byte)(ClassJmp | (byte)op | SourceX), dst, src, 0, 0);
    }

    /// <summary>Binds <paramref name="label"/> to the next instruction.</summary>
    public void Mark(BpfLabel label)
    {
        if (label.Position >= 0)
        {
            throw new InvalidOperationException("A BPF label is bound twice.");
        }

        label.Position = _code.Count;
    }

    /// <summary>The encoded program; every label a jump uses must be bound, and within a 16-bit jump.</summary>
    public byte[] Build()
    {
        foreach (var (at, target) in _fixups)
        {
            if (target.Position < 0)
            {
                throw new InvalidOperationException($"The BPF jump at instruction {at} goes to a label that is never bound.");
            }

            var instruction = _code[at];
            _code[at] = instruction with { Offset = checked((short)(target.Position - at - 1)) };
        }

        _fixups.Clear();
        var code = new byte[_code.Count * InstructionSize];
        for (var i = 0; i < _code.Count; i++)
        {
            var (opcode, registers, offset, immediate) = _code[i];
            var at = code.AsSpan(i * InstructionSize, InstructionSize);
            at[0] = opcode;
            at[1] = registers;
            BinaryPrimitives.WriteInt16LittleEndian(at[2..], offset);
            BinaryPrimitives.WriteInt32LittleEndian(at[4..], immediate);
        }

        return code;
    }

    private void Add(int opcode, Reg dst, Reg src, short offset, int immediate) =>
        _code.Add(((byte)opcode, (byte)(((int)src << 4) | (int)dst), offset, immediate));
}
