namespace Dva.Shared.Tests.Fuzz;

/// <summary>
/// A byte-level mutator in the style of AFL's havoc stage, seeded so a failing run can be repeated: bit flips,
/// interesting values, arithmetic, inserts, deletes, cuts, and splices with another seed.
/// Shared (as linked source) by the seeded fuzz tests of Dva.Shared.Tests and Dva.Node.Tests.
/// </summary>
internal sealed class FuzzMutator(int seed, IReadOnlyList<byte[]> seeds)
{
    private static readonly byte[] Interesting = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x0f, 0xf0, 0x10, 0x20, 0x40, 0x64, 0xfe];

    private readonly Random _random = new(seed);

    /// <summary>A new input: a seed with 1..8 stacked mutations.</summary>
    public byte[] Next()
    {
        var data = new List<byte>(seeds[_random.Next(seeds.Count)]);
        var count = 1 << _random.Next(4);
        for (var i = 0; i < count; i++)
        {
            Mutate(data);
        }

        return [.. data];
    }

    private void Mutate(List<byte> d)
    {
        var op = _random.Next(9);
        if (d.Count == 0 && op is not 5)
        {
            d.Add((byte)_random.Next(256));
            return;
        }

        var at = _random.Next(d.Count);
        switch (op)
        {
            case 0:
                d[at] ^= (byte)(1 << _random.Next(8));
                break;
            case 1:
                d[at] = Interesting[_random.Next(Interesting.Length)];
                break;
            case 2:
                d[at] = (byte)(d[at] + _random.Next(-16, 17));
                break;
            case 3:
                d[at] = (byte)_random.Next(256);
                break;
            case 4:
                d.RemoveRange(at, Math.Min(d.Count - at, 1 + _random.Next(8)));
                break;
            case 5:
                d.InsertRange(_random.Next(d.Count + 1), Enumerable.Repeat((byte)_random.Next(256), 1 + _random.Next(8)));
                break;
            case 6:
                d.RemoveRange(at, d.Count - at);
                break;
            case 7:
                // Splice: the tail from another seed, so fields of one format meet values of another.
                var other = seeds[_random.Next(seeds.Count)];
                var from = _random.Next(other.Length + 1);
                d.RemoveRange(at, d.Count - at);
                d.AddRange(other.AsSpan(from).ToArray());
                break;
            default:
                // 16-bit big-endian field set to a boundary value (lengths, counts, ports).
                if (at + 1 < d.Count)
                {
                    var v = _random.Next(4) switch { 0 => 0, 1 => 0xffff, 2 => 0x8000, _ => d.Count + _random.Next(-4, 5) };
                    d[at] = (byte)(v >> 8);
                    d[at + 1] = (byte)v;
                }

                break;
        }
    }
}

/// <summary>What a seeded fuzz run did.</summary>
internal sealed record FuzzRunResult(int Inputs, int Accepted, long MemoryGrowthBytes);

/// <summary>Runs a fuzz target over mutated inputs; an exception from the target is reported with the input that caused it.</summary>
internal static class FuzzLoop
{
    public static FuzzRunResult Run(IReadOnlyList<byte[]> seeds, Func<byte[], bool> target, int inputs, int seed)
    {
        var mutator = new FuzzMutator(seed, seeds);

        // Seeds first (they must pass), then one warm-up round so caches and the JIT are not counted as growth.
        var accepted = seeds.Count(s => Invoke(target, s));
        for (var i = 0; i < 1000; i++)
        {
            Invoke(target, mutator.Next());
        }

        var before = GC.GetTotalMemory(forceFullCollection: true);
        for (var i = 0; i < inputs; i++)
        {
            accepted += Invoke(target, mutator.Next()) ? 1 : 0;
        }

        var after = GC.GetTotalMemory(forceFullCollection: true);
        return new FuzzRunResult(inputs, accepted, after - before);
    }

    private static bool Invoke(Func<byte[], bool> target, byte[] input)
    {
        try
        {
            return target(input);
        }
        catch (Exception e)
        {
            throw new InvalidOperationException($"fuzz input {Convert.ToHexString(input)} made the target throw", e);
        }
    }
}

/// <summary>
/// The seeded fuzz runs measure the whole heap before and after, so they run alone: another test's live
/// objects at the second measurement would look like growth.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FuzzRunsAlone
{
    public const string Name = "Fuzz (heap measured, runs alone)";
}
