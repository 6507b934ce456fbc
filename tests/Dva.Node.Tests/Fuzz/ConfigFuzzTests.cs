using System.Text;
using Dva.Node.Config;
using Dva.Shared.Tests.Fuzz;
using Xunit.Abstractions;

namespace Dva.Node.Tests.Fuzz;

/// <summary>
/// Seeded mutation fuzzing of the node configuration parser (docs/reliability.md, "Bad input"): 50 000 inputs,
/// bytes mutated by <see cref="FuzzMutator"/> and JSON values replaced by hostile ones; no exception may escape
/// and the heap must not grow across the run.
/// </summary>
[Collection(FuzzRunsAlone.Name)]
public class ConfigFuzzTests(ITestOutputHelper output)
{
    private static readonly string[] HostileValues =
        ["null", "\"\"", "-1", "0", "4294967296", "1e400", "[]", "{}", "[null]", "\"\\u0000\"", "true", "\"0x\"", "\"::\"", "\"[::]:0\""];

    [Fact]
    public void Config_MutatedConfigurations_NoExceptionNoGrowth()
    {
        var seeds = ConfigFuzzTarget.Seeds.Concat(HostileVariants()).ToArray();

        var result = FuzzLoop.Run(seeds, d => ConfigFuzzTarget.Config(d), 50_000, seed: 1500);

        output.WriteLine($"{result}");
        Assert.InRange(result.Accepted, 2, 50_000);
        Assert.True(result.MemoryGrowthBytes < 4 << 20, $"heap grew by {result.MemoryGrowthBytes} bytes");
    }

    [Fact]
    public void Seeds_TwoValidConfigurations_Accepted()
    {
        Assert.True(ConfigFuzzTarget.Config(ConfigFuzzTarget.Seeds[0]));
        Assert.True(ConfigFuzzTarget.Config(ConfigFuzzTarget.Seeds[1]));
    }

    [Theory]
    [InlineData("interfaces")]
    [InlineData("routes")]
    [InlineData("addresses")]
    [InlineData("dataPlanes")]
    [InlineData("dispatchers")]
    public void TryParse_ListSetToNull_ErrorNotException(string list)
    {
        var text = Encoding.UTF8.GetString(ConfigFuzzTarget.Seeds[0]);
        var at = text.IndexOf($"\"{list}\": [", StringComparison.Ordinal);
        var open = at + list.Length + 4;
        var end = open;
        for (var depth = 0; depth > 0 || end == open; end++)
        {
            depth += text[end] == '[' ? 1 : text[end] == ']' ? -1 : 0;
        }

        var broken = text[..open] + "null" + text[end..];

        var ok = NodeSettings.TryParse(broken, out var settings, out var errors);

        Assert.False(ok);
        Assert.Null(settings);
        Assert.Contains(errors, e => e.Contains(list, StringComparison.Ordinal));
    }

    // Every value of the seeds replaced, one at a time, by each hostile value: the mutations bytes rarely reach.
    private static IEnumerable<byte[]> HostileVariants()
    {
        foreach (var seed in ConfigFuzzTarget.Seeds.Take(2))
        {
            var text = Encoding.UTF8.GetString(seed);
            for (var colon = text.IndexOf(':', StringComparison.Ordinal); colon >= 0; colon = text.IndexOf(':', colon + 1))
            {
                var end = text.IndexOfAny([',', '}', '\n'], colon);
                if (end < 0 || text[colon + 1] != ' ')
                {
                    continue;
                }

                foreach (var value in HostileValues)
                {
                    yield return Encoding.UTF8.GetBytes(text[..(colon + 1)] + " " + value + text[end..]);
                }
            }
        }
    }
}
