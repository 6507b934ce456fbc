using Dva.Node.Bench;

namespace Dva.Node.Tests.Engine;

public class RelayHarnessTests
{
    private static readonly RelayOptions Small = new() { Packets = 2_000, Duration = TimeSpan.FromSeconds(20), GeneratorYieldEveryBatches = 1 };

    [Fact]
    public void Run_Baseline_SinkReceivesWhatTheRelayForwarded()
    {
        var result = RelayHarness.Run("baseline", null, Small);

        Assert.Equal(2_000, result.Sent);
        Assert.InRange(result.Received, 1, result.Sent);
        Assert.Equal(result.Relayed, result.Received);
    }

    [Fact]
    public void Run_WorkDropsEveryPacket_NothingReachesTheSink()
    {
        long seen = 0;

        var result = RelayHarness.Run("drop all", _ => { seen++; return false; }, Small);

        Assert.Equal(0, result.Received);
        Assert.Equal(0, result.Relayed);
        Assert.InRange(seen, 1, result.Sent);
    }

    [Fact]
    public void Compare_OneVariant_PrintsBaselineAndVariantWithRatio()
    {
        using var output = new StringWriter();

        var results = RelayHarness.Compare([("touch", p => p.Frame.Length > 0)], Small, output);

        Assert.Equal([RelayHarness.BaselineName, "touch"], results.Select(r => r.Name));
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.Contains("x baseline", lines[1], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "--seconds" }, "needs a positive number")]
    [InlineData(new[] { "--seconds", "-1" }, "needs a positive number")]
    [InlineData(new[] { "--rate", "5" }, "unknown or out-of-range option '--rate 5'")]
    [InlineData(new[] { "--payload", "70000" }, "unknown or out-of-range option '--payload 70000'")]
    [InlineData(new[] { "--rounds", "3" }, "--rounds goes with --roles or --chain alone")]
    [InlineData(new[] { "--roles", "--engines", "2", "--rounds", "3" }, "--rounds goes with --roles or --chain alone")]
    [InlineData(new[] { "--roles", "--rounds", "101" }, "unknown or out-of-range option '--rounds 101'")]
    [InlineData(new[] { "--roles", "--chain", "--rounds", "2" }, "--rounds goes with --roles or --chain alone")]
    [InlineData(new[] { "--chain", "--secure" }, "--chain with no other mode")]
    public void Command_BadOption_ExitCode2NamingOption(string[] args, string expected)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();

        var code = RelayHarnessCommand.Run(args, output, error);

        Assert.Equal(2, code);
        Assert.Contains(expected, error.ToString(), StringComparison.Ordinal);
        Assert.Empty(output.ToString());
    }
}
