using Xunit.Abstractions;

namespace Dva.Shared.Tests.Fuzz;

/// <summary>
/// Seeded mutation fuzzing of the parsers that take untrusted bytes (docs/reliability.md, "Bad input"):
/// 50 000 inputs per target, no exception may escape, no promised property may break, and the heap
/// must not grow across the run. The coverage-guided runs of the same targets live in tests/Dva.Fuzz.
/// </summary>
[Collection(FuzzRunsAlone.Name)]
public class SharedFuzzTests(ITestOutputHelper output)
{
    private const int Inputs = 50_000;
    private const long MaxGrowthBytes = 4 << 20;

    private static readonly Dictionary<string, (IReadOnlyList<byte[]> Seeds, Func<byte[], bool> Target)> Targets = new(StringComparer.Ordinal)
    {
        ["tunnel"] = (FuzzSeeds.Tunnel, d => SharedFuzzTargets.Tunnel(d)),
        ["packet"] = (FuzzSeeds.Packet, d => SharedFuzzTargets.Packet(d)),
        ["table"] = (FuzzSeeds.Table, d => SharedFuzzTargets.Table(d)),
    };

    [Theory]
    [InlineData("tunnel", 6090)]
    [InlineData("packet", 8023)]
    [InlineData("table", 4096)]
    public void Target_MutatedGoldenInputs_NoExceptionNoBrokenPromiseNoGrowth(string name, int seed)
    {
        var (seeds, target) = Targets[name];

        var result = FuzzLoop.Run(seeds, target, Inputs, seed);

        output.WriteLine($"{name}: {result}");
        Assert.InRange(result.Accepted, seeds.Count, Inputs);
        Assert.True(result.MemoryGrowthBytes < MaxGrowthBytes, $"heap grew by {result.MemoryGrowthBytes} bytes");
    }

    [Theory]
    [InlineData("100020053000c1ff000000000000")] // CONTROL, T set, no payload: AppendNid said Truncated (afl-fuzz, fixed)
    [InlineData("10002005300181ff000000000000")]
    public void Tunnel_InputsCoverageGuidedFuzzingFound_KeepTheirPromises(string hex)
    {
        Assert.True(SharedFuzzTargets.Tunnel(Convert.FromHexString(hex)));
    }

    [Fact]
    public void Mutator_SameSeed_SameInputs()
    {
        var a = new FuzzMutator(1, FuzzSeeds.Tunnel);
        var b = new FuzzMutator(1, FuzzSeeds.Tunnel);

        for (var i = 0; i < 100; i++)
        {
            Assert.Equal(a.Next(), b.Next());
        }
    }
}
