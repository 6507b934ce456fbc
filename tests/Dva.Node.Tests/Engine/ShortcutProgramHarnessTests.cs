using System.Globalization;
using Dva.Node.Bench;

namespace Dva.Node.Tests.Engine;

/// <summary><c>dva-node shortcut-bench</c>: its options, and a short real run of the kernel's test runs (root).</summary>
public class ShortcutProgramHarnessTests
{
    [Theory]
    [InlineData(new[] { "--rounds", "0" }, "--rounds")]
    [InlineData(new[] { "--calls" }, "--calls")]
    [InlineData(new[] { "--fast" }, "--fast")]
    public void Run_BadOption_ExitCode2WithTheUsage(string[] args, string named)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();

        Assert.Equal(2, ShortcutProgramHarness.Run(args, output, error));

        Assert.Contains($"bad argument '{named}'", error.ToString(), StringComparison.Ordinal);
        Assert.Contains(ShortcutProgramHarness.Usage, error.ToString(), StringComparison.Ordinal);
        Assert.Equal("", output.ToString());
    }

    /// <summary>Every case ran the path it is named for (the harness checks each one's return value) and got a time.</summary>
    [Fact]
    [Trait("Requires", "root")]
    public void Run_OneShortRound_EveryCaseTimedAgainstTheBaseline()
    {
        using var output = new StringWriter();
        using var error = new StringWriter();

        var code = ShortcutProgramHarness.Run(["--rounds", "1", "--calls", "5"], output, error);

        Assert.True(code == 0, error.ToString());
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(9, lines.Length);
        Assert.Contains("1.00x", lines[1], StringComparison.Ordinal);
        Assert.All(lines[1..], l =>
        {
            var figure = l[..l.IndexOf(" ns", StringComparison.Ordinal)].Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1];
            Assert.True(double.Parse(figure, CultureInfo.InvariantCulture) > 0, l);
        });
    }
}
