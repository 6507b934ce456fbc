using Dva.Node.Bench;

namespace Dva.Node.Tests.Engine;

/// <summary><c>dva-node afpacket-bench</c>: its options, and a short real comparison on a veth pair (root).</summary>
public class AfPacketRingHarnessTests
{
    [Theory]
    [InlineData(new[] { "--senders", "0" }, "bad option '--senders'")]
    [InlineData(new[] { "--senders", "9" }, "bad option '--senders'")]
    [InlineData(new[] { "--frame", "59" }, "bad option '--frame'")]
    [InlineData(new[] { "--ring" }, "bad option '--ring'")]
    public void Run_BadOption_ExitCode2NamingOptionAndUsage(string[] args, string expected)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();

        var code = AfPacketRingHarness.Run(args, output, error);

        Assert.Equal(2, code);
        Assert.Contains(expected, error.ToString(), StringComparison.Ordinal);
        Assert.Contains("--senders N", error.ToString(), StringComparison.Ordinal);
        Assert.Equal("", output.ToString());
    }

    [Fact]
    public void Compare_TwoSenders_BothSourcesReceiveTheSendersFramesAndPrintTheirRatios()
    {
        using var output = new StringWriter();

        var results = AfPacketRingHarness.Compare(new RingBenchOptions { Duration = TimeSpan.FromSeconds(1), Rounds = 1, Senders = 2 }, output);

        Assert.Equal(["afpacket: (recvmmsg)", "afpacket:?ring=1 (TPACKET_V3)"], results.Select(r => r.Name));
        Assert.All(results, r =>
        {
            Assert.InRange(r.Received, 1, r.Sent);
            Assert.True(r.CpuNanosecondsPerPacket > 0, $"{r.Name}: no receiver CPU measured");
        });
        var text = output.ToString();
        Assert.Contains("2 sender thread(s)", text, StringComparison.Ordinal);
        Assert.Contains("(1.00x)", text, StringComparison.Ordinal);
    }
}
