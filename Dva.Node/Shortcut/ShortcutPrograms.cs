namespace Dva.Node.Shortcut;

/// <summary>
/// The two BPF programs of the dispatcher's kernel shortcut (docs/node.md "Kernel shortcut"), written as assembly.
/// Both parse a frame the same way and look its flow up in the shortcut map:
/// <list type="bullet">
/// <item><b>Verdict</b> (a socket filter on the dispatcher's AF_PACKET sockets, which see a frame first): a frame of a
/// live shortcut is dropped from the socket (verdict FAST in <c>cb[0]</c>); every other frame is accepted whole
/// (verdict SLOW). Once per lease interval it lets one frame of a shortcut through instead (the keep-alive), so the
/// data plane keeps seeing the flow, and marks the lease PENDING; a lease the data plane does not renew within the next
/// interval sends the whole flow back through the data plane. SYN, FIN or RST withdraws the shortcut.</item>
/// <item><b>Forward</b> (tcx ingress of the shared interface, right after the sockets): a frame with verdict FAST is
/// counted, its TTL or hop limit decremented (IPv4 checksum updated), its VLAN tag and MACs set from the map, and it is
/// redirected to the egress interface — a GSO super-frame stays whole. Any other frame goes on unchanged.</item>
/// </list>
/// </summary>
internal static class ShortcutPrograms
{
    /// <summary><c>cb[0]</c> after the verdict program: the frame is the kernel's to forward, the socket dropped it.</summary>
    public const int VerdictFast = 0x5c0f_a57;

    /// <summary><c>cb[0]</c> after the verdict program: the socket took the frame.</summary>
    public const int VerdictSlow = 0x5c0_510e;

    public const int TcActOk = 0;
    public const int TcActShot = 2;

    private const int HelperMapLookup = 1;
    private const int HelperKtimeGetNs = 5;
    private const int HelperSkbStoreBytes = 9;
    private const int HelperL3CsumReplace = 10;
    private const int HelperL4CsumReplace = 11;
    private const int CsumPseudoHeader = 1 << 4;                      // BPF_F_PSEUDO_HDR
    private const int CsumMangledZero = 1 << 5;                       // BPF_F_MARK_MANGLED_0: a UDP checksum of 0 stays 0
    private const int HelperVlanPush = 18;
    private const int HelperVlanPop = 19;
    private const int HelperRedirect = 23;
    private const int HelperSkbLoadBytes = 26;

    // struct __sk_buff offsets (linux/bpf.h).
    private const short SkbLen = 0;
    private const short SkbVlanPresent = 20;
    private const short SkbVlanTci = 24;
    private const short SkbIfIndex = 40;
    private const short SkbCb0 = 48;
    private const short SkbGsoSize = 176;

    // The stack. The frame's first bytes go at Frame so that its 4-byte fields (addresses) are 4-aligned, as the
    // verifier requires of stack accesses.
    private const short Frame = -114;
    private const short L4 = -136;
    private const short TcpFlags = -142;
    private const short Scratch = -140;
    private const short StateKey = -144;
    private const short SavedVerdict = -148;
    private const short KeyAt = -48;
    private const short L4ChecksumAt = -152;
    private const short L4FlagsAt = -156;
    private const short L4At = -160;

    /// <summary>The verdict program (BPF_PROG_TYPE_SOCKET_FILTER) for the shortcut map <paramref name="mapFd"/>.</summary>
    public static byte[] Verdict(int mapFd, long leaseNanoseconds)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(leaseNanoseconds, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(leaseNanoseconds, int.MaxValue);
        var asm = new BpfAssembler();
        var accept = new BpfLabel();
        var fast = new BpfLabel();
        var transition = new BpfLabel();
        asm.Mov(Reg.R6, Reg.R1);
        asm.Mov(Reg.R0, VerdictSlow);
        asm.Store(Width.W, Reg.R6, SkbCb0, Reg.R0);
        EmitParseAndLookup(asm, mapFd, accept);
        asm.Load(Width.B, Reg.R1, Reg.Fp, TcpFlags);
        asm.If(Reg.R1, Jump.Ne, 0, transition);
        asm.Load(Width.H, Reg.R1, Reg.R7, ShortcutLayout.ValueFlags);
        asm.If(Reg.R1, Jump.Set, ShortcutLayout.FlagWithdrawn, accept);
        EmitSizeCheck(asm, accept);

        // The lease: one frame per interval goes to the data plane; a lease still PENDING after it is over is not used.
        asm.Call(HelperKtimeGetNs);
        asm.Load(Width.DW, Reg.R1, Reg.R7, ShortcutLayout.ValueLeaseNs);
        asm.Mov(Reg.R2, Reg.R0);
        asm.Sub(Reg.R2, Reg.R1);
        asm.If(Reg.R2, Jump.Lt, (int)leaseNanoseconds, fast);
        asm.Load(Width.H, Reg.R1, Reg.R7, ShortcutLayout.ValueFlags);
        asm.If(Reg.R1, Jump.Set, ShortcutLayout.FlagPending, accept);
        asm.OrImm(Reg.R1, ShortcutLayout.FlagPending);
        asm.Store(Width.H, Reg.R7, ShortcutLayout.ValueFlags, Reg.R1);
        asm.Store(Width.DW, Reg.R7, ShortcutLayout.ValueLeaseNs, Reg.R0);
        asm.Goto(accept);

        asm.Mark(fast);
        asm.Mov(Reg.R0, VerdictFast);
        asm.Store(Width.W, Reg.R6, SkbCb0, Reg.R0);
        asm.Mov(Reg.R0, 0);
        asm.Exit();

        // SYN, FIN or RST of a shortcut flow: the flow is opening again or closing, the data plane sees the rest.
        asm.Mark(transition);
        asm.Load(Width.H, Reg.R1, Reg.R7, ShortcutLayout.ValueFlags);
        asm.OrImm(Reg.R1, ShortcutLayout.FlagWithdrawn);
        asm.Store(Width.H, Reg.R7, ShortcutLayout.ValueFlags, Reg.R1);

        asm.Mark(accept);
        asm.Mov32(Reg.R0, -1);
        asm.Exit();
        return asm.Build();
    }

    /// <summary>The forward program (BPF_PROG_TYPE_SCHED_CLS, tcx ingress) for the maps <paramref name="mapFd"/> and <paramref name="stateFd"/>.</summary>
    public static byte[] Forward(int mapFd, int stateFd)
    {
        var asm = new BpfAssembler();
        var pass = new BpfLabel();
        var missing = new BpfLabel();
        var unverdicted = new BpfLabel();
        var noVlan = new BpfLabel();
        var ttl = new BpfLabel();
        var hopLimit = new BpfLabel();
        var macs = new BpfLabel();
        var notEligible = new BpfLabel();
        asm.Mov(Reg.R6, Reg.R1);
        asm.Load(Width.W, Reg.R1, Reg.R6, SkbCb0);
        asm.If(Reg.R1, Jump.Eq, VerdictSlow, pass);
        asm.Store(Width.W, Reg.Fp, SavedVerdict, Reg.R1);
        EmitParseAndLookup(asm, mapFd, missing);
        asm.Load(Width.W, Reg.R1, Reg.Fp, SavedVerdict);
        asm.If(Reg.R1, Jump.Ne, VerdictFast, unverdicted);

        // Counted on the entry, then rewritten as the data plane rewrote the frame the shortcut was asked with.
        asm.Mov(Reg.R1, 1);
        asm.AtomicAdd64(Reg.R7, ShortcutLayout.ValuePackets, Reg.R1);
        asm.Load(Width.W, Reg.R1, Reg.R6, SkbLen);
        asm.AtomicAdd64(Reg.R7, ShortcutLayout.ValueBytes, Reg.R1);
        asm.Call(HelperKtimeGetNs);
        asm.Store(Width.DW, Reg.R7, ShortcutLayout.ValueLastUsedNs, Reg.R0);
        EmitRewrite(asm);
        asm.Load(Width.W, Reg.R1, Reg.R6, SkbVlanPresent);
        asm.If(Reg.R1, Jump.Eq, 0, noVlan);
        asm.Mov(Reg.R1, Reg.R6);
        asm.Call(HelperVlanPop);
        asm.Mark(noVlan);
        asm.Load(Width.H, Reg.R3, Reg.R7, ShortcutLayout.ValueEgressTci);
        asm.If(Reg.R3, Jump.Eq, 0, ttl);
        asm.Mov(Reg.R1, Reg.R6);
        asm.Mov(Reg.R2, 0x0081);                                        // htons(ETH_P_8021Q)
        asm.Call(HelperVlanPush);
        asm.Mark(ttl);
        asm.If(Reg.R8, Jump.Eq, 6, hopLimit);
        asm.Load(Width.H, Reg.R3, Reg.Fp, Frame + 22);                  // TTL and protocol, as they sit in the frame
        asm.Mov(Reg.R4, Reg.R3);
        asm.SubImm(Reg.R4, 1);                                          // the TTL is the first byte: -1 never borrows (TTL > 1)
        asm.Store(Width.H, Reg.Fp, Scratch, Reg.R4);
        asm.Mov(Reg.R1, Reg.R6);
        asm.Mov(Reg.R2, 14 + 10);
        asm.Mov(Reg.R5, 2);
        asm.Call(HelperL3CsumReplace);
        EmitStoreBytes(asm, Reg.Fp, Scratch, 2, frameOffset: 14 + 8);
        asm.Goto(macs);
        asm.Mark(hopLimit);
        asm.Load(Width.B, Reg.R1, Reg.Fp, Frame + 21);
        asm.SubImm(Reg.R1, 1);
        asm.Store(Width.B, Reg.Fp, Scratch, Reg.R1);
        EmitStoreBytes(asm, Reg.Fp, Scratch, 1, frameOffset: 14 + 7);
        asm.Mark(macs);
        EmitStoreBytes(asm, Reg.R7, ShortcutLayout.ValueDestinationMac, 12, frameOffset: 0);
        asm.Load(Width.W, Reg.R1, Reg.R7, ShortcutLayout.ValueEgressIfIndex);
        asm.Mov(Reg.R2, 0);
        asm.Call(HelperRedirect);
        asm.Exit();

        // FAST but the entry is gone: the socket dropped the frame and the kernel cannot forward it. Counted.
        asm.Mark(missing);
        asm.Load(Width.W, Reg.R1, Reg.Fp, SavedVerdict);
        asm.If(Reg.R1, Jump.Ne, VerdictFast, pass);
        EmitStateCount(asm, stateFd, ShortcutLayout.StateLost);
        asm.Mov(Reg.R0, TcActShot);
        asm.Exit();

        // A shortcut frame without a verdict: another socket filter on the interface ran after the dispatcher's and
        // cleared cb[], so whether the dispatcher took the frame is unknown. Counted, and left to the stack.
        asm.Mark(unverdicted);
        asm.Load(Width.B, Reg.R1, Reg.Fp, TcpFlags);
        asm.If(Reg.R1, Jump.Ne, 0, pass);
        asm.Load(Width.H, Reg.R1, Reg.R7, ShortcutLayout.ValueFlags);
        asm.If(Reg.R1, Jump.Set, ShortcutLayout.FlagWithdrawn, pass);
        EmitSizeCheck(asm, notEligible);
        EmitStateCount(asm, stateFd, ShortcutLayout.StateUnverdicted);
        asm.Mark(notEligible);
        asm.Mark(pass);
        asm.Mov(Reg.R0, TcActOk);
        asm.Exit();
        return asm.Build();
    }

    /// <summary>
    /// A translated flow's entry (flag rewrite): every address word and port that differs from the entry's is written,
    /// the IPv4 header checksum and the transport checksum updated incrementally (the helpers also handle a checksum left
    /// to the device: addresses as a pseudo-header change, ports not at all; a UDP checksum of 0 stays 0). r6 context,
    /// r7 entry, r8 family; the frame's old addresses and ports are on the stack.
    /// </summary>
    private static void EmitRewrite(BpfAssembler asm)
    {
        var done = new BpfLabel();
        var v6 = new BpfLabel();
        var ports = new BpfLabel();
        var tcp = new BpfLabel();
        var offsets = new BpfLabel();
        asm.Load(Width.H, Reg.R1, Reg.R7, ShortcutLayout.ValueFlags);
        asm.AndImm(Reg.R1, ShortcutLayout.FlagRewrite);
        asm.If(Reg.R1, Jump.Eq, 0, done);

        // Where the transport header and its checksum are, and the checksum flags, kept on the stack across the calls.
        asm.Mov(Reg.R2, 14 + 20);
        asm.If(Reg.R8, Jump.Eq, 4, offsets);
        asm.Mov(Reg.R2, 14 + 40);
        asm.Mark(offsets);
        asm.Store(Width.W, Reg.Fp, L4At, Reg.R2);
        asm.Load(Width.B, Reg.R1, Reg.Fp, KeyAt + ShortcutLayout.KeyProtocol);
        asm.Mov(Reg.R3, CsumPseudoHeader | CsumMangledZero);
        asm.AddImm(Reg.R2, 6);                                          // UDP: checksum at 6
        asm.If(Reg.R1, Jump.Ne, 6, tcp);
        asm.Mov(Reg.R3, CsumPseudoHeader);
        asm.AddImm(Reg.R2, 10);                                         // TCP: at 16
        asm.Mark(tcp);
        asm.Store(Width.W, Reg.Fp, L4ChecksumAt, Reg.R2);
        asm.Store(Width.W, Reg.Fp, L4FlagsAt, Reg.R3);

        asm.If(Reg.R8, Jump.Eq, 6, v6);
        EmitRewriteWord(asm, frameOffset: 26, valueOffset: ShortcutLayout.ValueRewriteSource, ipv4: true);
        EmitRewriteWord(asm, frameOffset: 30, valueOffset: ShortcutLayout.ValueRewriteDestination, ipv4: true);
        asm.Goto(ports);
        asm.Mark(v6);
        for (short word = 0; word < 4; word++)
        {
            EmitRewriteWord(asm, frameOffset: (short)(22 + (4 * word)), valueOffset: (short)(ShortcutLayout.ValueRewriteSource + (4 * word)), ipv4: false);
            EmitRewriteWord(asm, frameOffset: (short)(38 + (4 * word)), valueOffset: (short)(ShortcutLayout.ValueRewriteDestination + (4 * word)), ipv4: false);
        }

        asm.Mark(ports);
        EmitRewritePort(asm, 0);
        EmitRewritePort(asm, 2);
        asm.Mark(done);
    }

    /// <summary>One 32-bit address word at <paramref name="frameOffset"/> of the frame, if the entry's differs.</summary>
    private static void EmitRewriteWord(BpfAssembler asm, short frameOffset, short valueOffset, bool ipv4)
    {
        var same = new BpfLabel();
        asm.Load(Width.W, Reg.R3, Reg.Fp, (short)(Frame + frameOffset));
        asm.Load(Width.W, Reg.R4, Reg.R7, valueOffset);
        asm.If(Reg.R3, Jump.Eq, Reg.R4, same);
        if (ipv4)
        {
            asm.Mov(Reg.R1, Reg.R6);
            asm.Mov(Reg.R2, 14 + 10);
            asm.Mov(Reg.R5, 4);
            asm.Call(HelperL3CsumReplace);
            asm.Load(Width.W, Reg.R3, Reg.Fp, (short)(Frame + frameOffset));
            asm.Load(Width.W, Reg.R4, Reg.R7, valueOffset);
        }

        asm.Mov(Reg.R1, Reg.R6);
        asm.Load(Width.W, Reg.R2, Reg.Fp, L4ChecksumAt);
        asm.Load(Width.W, Reg.R5, Reg.Fp, L4FlagsAt);
        asm.OrImm(Reg.R5, 4);
        asm.Call(HelperL4CsumReplace);
        EmitStoreBytes(asm, Reg.R7, valueOffset, 4, frameOffset);
        asm.Mark(same);
    }

    /// <summary>The source (0) or destination (2) port, if the entry's differs: not part of the pseudo-header.</summary>
    private static void EmitRewritePort(BpfAssembler asm, short at)
    {
        var same = new BpfLabel();
        asm.Load(Width.H, Reg.R3, Reg.Fp, (short)(L4 + at));
        asm.Load(Width.H, Reg.R4, Reg.R7, (short)(ShortcutLayout.ValueRewritePorts + at));
        asm.If(Reg.R3, Jump.Eq, Reg.R4, same);
        asm.Mov(Reg.R1, Reg.R6);
        asm.Load(Width.W, Reg.R2, Reg.Fp, L4ChecksumAt);
        asm.Load(Width.W, Reg.R5, Reg.Fp, L4FlagsAt);
        asm.AndImm(Reg.R5, CsumMangledZero);
        asm.OrImm(Reg.R5, 2);
        asm.Call(HelperL4CsumReplace);
        asm.Load(Width.W, Reg.R2, Reg.Fp, L4At);
        asm.AddImm(Reg.R2, at);
        EmitStoreBytes(asm, Reg.R7, (short)(ShortcutLayout.ValueRewritePorts + at), 2, frameOffset: null);
        asm.Mark(same);
    }

    /// <summary>
    /// Parses the frame (IPv4 without options or fragments, or IPv6 without extension headers; TCP or UDP; TTL or hop
    /// limit above 1), builds the key on the stack and looks it up, and checks the frame went to the entry's ingress MAC.
    /// Falls through with r7 = the entry, r8 = 4 or 6,
    /// r9 = the IP and transport header length, and the TCP SYN/FIN/RST bits at <see cref="TcpFlags"/>; jumps to
    /// <paramref name="miss"/> otherwise. r6 holds the context.
    /// </summary>
    private static void EmitParseAndLookup(BpfAssembler asm, int mapFd, BpfLabel miss)
    {
        var ipv4 = new BpfLabel();
        var transport = new BpfLabel();
        var tcp = new BpfLabel();
        var ports = new BpfLabel();
        var lookup = new BpfLabel();
        for (short at = KeyAt; at < 0; at += 8)
        {
            asm.StoreImm(Width.DW, Reg.Fp, at, 0);
        }

        asm.StoreImm(Width.B, Reg.Fp, TcpFlags, 0);
        EmitLoadBytes(asm, frameOffset: 0, stackAt: Frame, length: 34, miss);
        asm.Load(Width.H, Reg.R1, Reg.Fp, Frame + 12);
        asm.If(Reg.R1, Jump.Eq, 0x0008, ipv4);                           // 0x0800 as it sits in memory
        asm.If(Reg.R1, Jump.Ne, 0xdd86, miss);                           // 0x86dd

        EmitLoadBytes(asm, frameOffset: 14, stackAt: Frame + 14, length: 40, miss);
        asm.Load(Width.B, Reg.R1, Reg.Fp, Frame + 14);
        asm.AndImm(Reg.R1, 0xf0);
        asm.If(Reg.R1, Jump.Ne, 0x60, miss);
        asm.Load(Width.B, Reg.R1, Reg.Fp, Frame + 21);
        asm.If(Reg.R1, Jump.Le, 1, miss);
        for (short word = 0; word < 8; word++)
        {
            asm.Load(Width.W, Reg.R1, Reg.Fp, (short)(Frame + 22 + (4 * word)));
            asm.Store(Width.W, Reg.Fp, (short)(KeyAt + ShortcutLayout.KeySource + (4 * word)), Reg.R1);
        }

        asm.StoreImm(Width.B, Reg.Fp, KeyAt + ShortcutLayout.KeyFamily, 6);
        asm.Load(Width.B, Reg.R2, Reg.Fp, Frame + 20);
        asm.Mov(Reg.R8, 6);
        asm.Mov(Reg.R9, 40);
        asm.Goto(transport);

        asm.Mark(ipv4);
        asm.Load(Width.B, Reg.R1, Reg.Fp, Frame + 14);
        asm.If(Reg.R1, Jump.Ne, 0x45, miss);
        asm.Load(Width.H, Reg.R1, Reg.Fp, Frame + 20);
        asm.If(Reg.R1, Jump.Set, 0xff3f, miss);                          // MF or a fragment offset (0x3fff in network order)
        asm.Load(Width.B, Reg.R1, Reg.Fp, Frame + 22);
        asm.If(Reg.R1, Jump.Le, 1, miss);
        asm.Load(Width.W, Reg.R1, Reg.Fp, Frame + 26);
        asm.Store(Width.W, Reg.Fp, KeyAt + ShortcutLayout.KeySource, Reg.R1);
        asm.Load(Width.W, Reg.R1, Reg.Fp, Frame + 30);
        asm.Store(Width.W, Reg.Fp, KeyAt + ShortcutLayout.KeyDestination, Reg.R1);
        asm.StoreImm(Width.B, Reg.Fp, KeyAt + ShortcutLayout.KeyFamily, 4);
        asm.Load(Width.B, Reg.R2, Reg.Fp, Frame + 23);
        asm.Mov(Reg.R8, 4);
        asm.Mov(Reg.R9, 20);

        asm.Mark(transport);
        asm.Store(Width.B, Reg.Fp, KeyAt + ShortcutLayout.KeyProtocol, Reg.R2);
        asm.If(Reg.R2, Jump.Eq, 6, tcp);
        asm.If(Reg.R2, Jump.Ne, 17, miss);
        EmitLoadTransport(asm, length: 4, miss);
        asm.AddImm(Reg.R9, 8);
        asm.Goto(ports);

        asm.Mark(tcp);
        EmitLoadTransport(asm, length: 14, miss);
        asm.Load(Width.B, Reg.R1, Reg.Fp, L4 + 12);
        asm.AndImm(Reg.R1, 0xf0);
        asm.RshImm(Reg.R1, 2);                                           // data offset × 4
        asm.Add(Reg.R9, Reg.R1);
        asm.Load(Width.B, Reg.R1, Reg.Fp, L4 + 13);
        asm.AndImm(Reg.R1, 0x07);                                        // FIN, SYN, RST
        asm.Store(Width.B, Reg.Fp, TcpFlags, Reg.R1);

        asm.Mark(ports);
        asm.Load(Width.W, Reg.R1, Reg.Fp, L4);
        asm.Store(Width.W, Reg.Fp, KeyAt + ShortcutLayout.KeyPorts, Reg.R1);
        asm.Load(Width.W, Reg.R1, Reg.R6, SkbIfIndex);
        asm.Store(Width.W, Reg.Fp, KeyAt + ShortcutLayout.KeyIfIndex, Reg.R1);
        asm.Load(Width.W, Reg.R1, Reg.R6, SkbVlanPresent);
        asm.If(Reg.R1, Jump.Eq, 0, lookup);
        asm.Load(Width.W, Reg.R1, Reg.R6, SkbVlanTci);
        asm.AndImm(Reg.R1, 0x0fff);
        asm.Store(Width.H, Reg.Fp, KeyAt + ShortcutLayout.KeyVlan, Reg.R1);

        asm.Mark(lookup);
        asm.LoadMap(Reg.R1, mapFd);
        asm.Mov(Reg.R2, Reg.Fp);
        asm.AddImm(Reg.R2, KeyAt);
        asm.Call(HelperMapLookup);
        asm.If(Reg.R0, Jump.Eq, 0, miss);
        asm.Mov(Reg.R7, Reg.R0);

        // Only a frame to the shared MAC is the DVA's (a promiscuous interface also sees its neighbours' unicast).
        for (short half = 0; half < 6; half += 2)
        {
            asm.Load(Width.H, Reg.R1, Reg.Fp, (short)(Frame + half));
            asm.Load(Width.H, Reg.R2, Reg.R7, (short)(ShortcutLayout.ValueIngressMac + half));
            asm.If(Reg.R1, Jump.Ne, Reg.R2, miss);
        }
    }

    /// <summary>
    /// bpf_skb_store_bytes(ctx, frameOffset, from + fromOffset, length, 0): <paramref name="from"/> is the stack (r10) or
    /// the entry (r7). A null <paramref name="frameOffset"/>: the caller has put the offset in r2.
    /// </summary>
    private static void EmitStoreBytes(BpfAssembler asm, Reg from, short fromOffset, int length, int? frameOffset)
    {
        asm.Mov(Reg.R1, Reg.R6);
        if (frameOffset is { } offset)
        {
            asm.Mov(Reg.R2, offset);
        }

        asm.Mov(Reg.R3, from);
        asm.AddImm(Reg.R3, fromOffset);
        asm.Mov(Reg.R4, length);
        asm.Mov(Reg.R5, 0);
        asm.Call(HelperSkbStoreBytes);
    }

    /// <summary>
    /// bpf_skb_load_bytes(ctx, frameOffset, fp + stackAt, length); a short frame jumps to <paramref name="fail"/>. A null
    /// <paramref name="frameOffset"/>: the caller has put the offset in r2.
    /// </summary>
    private static void EmitLoadBytes(BpfAssembler asm, int? frameOffset, short stackAt, int length, BpfLabel fail)
    {
        asm.Mov(Reg.R1, Reg.R6);
        if (frameOffset is { } offset)
        {
            asm.Mov(Reg.R2, offset);
        }

        asm.Mov(Reg.R3, Reg.Fp);
        asm.AddImm(Reg.R3, stackAt);
        asm.Mov(Reg.R4, length);
        asm.Call(HelperSkbLoadBytes);
        asm.If(Reg.R0, Jump.Ne, 0, fail);
    }

    /// <summary>The transport header's first <paramref name="length"/> bytes, at 14 + r9, to <see cref="L4"/>.</summary>
    private static void EmitLoadTransport(BpfAssembler asm, int length, BpfLabel fail)
    {
        asm.Mov(Reg.R2, Reg.R9);
        asm.AddImm(Reg.R2, 14);
        EmitLoadBytes(asm, frameOffset: null, L4, length, fail);
    }

    /// <summary>
    /// The frame fits the egress MTU the entry holds: a plain frame's IP length, or a super-frame's segments (GSO size
    /// plus the headers, r9). A frame that does not goes to the data plane, which answers too big or fragments.
    /// </summary>
    private static void EmitSizeCheck(BpfAssembler asm, BpfLabel tooBig)
    {
        var plain = new BpfLabel();
        var fits = new BpfLabel();
        asm.Load(Width.W, Reg.R2, Reg.R7, ShortcutLayout.ValueMtu);
        asm.Load(Width.W, Reg.R1, Reg.R6, SkbGsoSize);
        asm.If(Reg.R1, Jump.Eq, 0, plain);
        asm.Add(Reg.R1, Reg.R9);
        asm.If(Reg.R1, Jump.Gt, Reg.R2, tooBig);
        asm.Goto(fits);
        asm.Mark(plain);
        asm.Load(Width.W, Reg.R1, Reg.R6, SkbLen);
        asm.SubImm(Reg.R1, 14);
        asm.If(Reg.R1, Jump.Gt, Reg.R2, tooBig);
        asm.Mark(fits);
    }

    /// <summary>Adds one to the state map's counter at <paramref name="offset"/>.</summary>
    private static void EmitStateCount(BpfAssembler asm, int stateFd, short offset)
    {
        var done = new BpfLabel();
        asm.StoreImm(Width.W, Reg.Fp, StateKey, 0);
        asm.LoadMap(Reg.R1, stateFd);
        asm.Mov(Reg.R2, Reg.Fp);
        asm.AddImm(Reg.R2, StateKey);
        asm.Call(HelperMapLookup);
        asm.If(Reg.R0, Jump.Eq, 0, done);
        asm.Mov(Reg.R1, 1);
        asm.AtomicAdd64(Reg.R0, offset, Reg.R1);
        asm.Mark(done);
    }
}
