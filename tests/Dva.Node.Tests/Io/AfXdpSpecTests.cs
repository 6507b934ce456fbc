using Dva.Node.Io;

namespace Dva.Node.Tests.Io;

/// <summary>The <c>afxdp:</c> spec and the XDP program's bytes; no privileges needed.</summary>
public class AfXdpSpecTests
{
    [Theory]
    [InlineData("afxdp:eth1", nameof(XdpAttachMode.Auto))]
    [InlineData("afxdp:eth1?mode=native", nameof(XdpAttachMode.Native))]
    [InlineData("afxdp:eth1?mode=generic", nameof(XdpAttachMode.Generic))]
    public void TryParse_AfXdp_GivesInterfaceAndModeAndPrintsBack(string text, string modeName)
    {
        var mode = Enum.Parse<XdpAttachMode>(modeName);
        Assert.True(FrameSourceSpec.TryParse(text, out var spec, out var error), error);

        Assert.Equal(FrameSourceKind.AfXdp, spec.Kind);
        Assert.Equal("eth1", spec.InterfaceName);
        Assert.Equal(mode, spec.XdpMode);
        Assert.Equal(text, spec.ToString());
    }

    [Theory]
    [InlineData("afxdp:", "afxdp: interface name is missing")]
    [InlineData("afxdp:eth1?ring=1", "afxdp: unknown option 'ring=1'")]
    [InlineData("afxdp:eth1?mode=fast", "afxdp: unknown option 'mode=fast'")]
    [InlineData("afxdp:abcdefghijklmnop", "is 16 characters")]
    public void TryParse_BadAfXdp_NamesTheProblem(string text, string expected)
    {
        Assert.False(FrameSourceSpec.TryParse(text, out _, out var error));

        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownKind_ListsAfXdpAmongTheKinds()
    {
        Assert.False(FrameSourceSpec.TryParse("xdp:eth0", out _, out var error));

        Assert.Contains("expected afpacket, afxdp, tap or udp", error, StringComparison.Ordinal);
    }

    /// <summary>
    /// Byte for byte what <c>clang -target bpf</c> assembles from the same program (struct bpf_insn, little-endian),
    /// except the map load's src field: 1 (BPF_PSEUDO_MAP_FD), which libbpf sets where clang leaves a map relocation.
    /// </summary>
    [Fact]
    public void Instructions_AreTheRedirectProgramByteForByte()
    {
        byte[] expected =
        [
            0x61, 0x12, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, // r2 = *(u32 *)(r1 + 16)
            0x18, 0x11, 0x00, 0x00, 0x07, 0x01, 0x00, 0x00, // r1 = map fd 0x107 (ld_imm64, src = PSEUDO_MAP_FD)
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //      upper 32 bits of the immediate
            0xb7, 0x03, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, // r3 = XDP_PASS
            0x85, 0x00, 0x00, 0x00, 0x33, 0x00, 0x00, 0x00, // call bpf_redirect_map (51)
            0x95, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // exit
        ];

        Assert.Equal(expected, XdpRedirectProgram.Instructions(0x107));
    }
}
