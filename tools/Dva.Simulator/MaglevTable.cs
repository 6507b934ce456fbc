using System.IO.Hashing;
using System.Text;
using Dva.Shared.Tables;

namespace Dva.Simulator;

/// <summary>
/// Maglev's lookup table (Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load Balancer",
/// NSDI 2016, §3.4, Pseudocode 1), built here only to compare against our bucket tables.
/// </summary>
/// <remarks>
/// Each backend walks its own permutation of the M entries, offset = h1(name) mod M,
/// skip = h2(name) mod (M − 1) + 1, and the backends take turns claiming their next free entry until the
/// table is full. M must be prime so every skip generates a full permutation. Weights are "weighted
/// turns": a backend earns its weight in credit each round and takes a turn per max-weight of credit, so
/// with equal weights every backend takes exactly one turn per round, as in the paper.
/// </remarks>
internal sealed class MaglevTable
{
    /// <summary>The paper's table size for production (a prime ≥ 100 × backends for up to ~650 backends).</summary>
    public const int DefaultSize = 65537;

    private const long OffsetHashSeed = 0x4D61676C65763101;
    private const long SkipHashSeed = 0x4D61676C65763202;

    private readonly ushort[] _entries;

    private MaglevTable(ushort[] entries) => _entries = entries;

    public int Size => _entries.Length;

    /// <summary>Backend node id of each entry.</summary>
    public ReadOnlySpan<ushort> Entries => _entries;

    public int EntryOf(ulong flowHash) => (int)(flowHash % (ulong)_entries.Length);

    public ushort Lookup(ulong flowHash) => _entries[EntryOf(flowHash)];

    /// <summary>Populates a table for <paramref name="backends"/> (weight 0 = absent).</summary>
    /// <exception cref="ArgumentException">Size not prime, or no backend with weight above 0.</exception>
    public static MaglevTable Build(ReadOnlySpan<NodeWeight> backends, int size)
    {
        if (size < 3 || !IsPrime(size))
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, "Maglev's table size must be a prime.");
        }

        NodeWeight[] active = [.. backends.ToArray().Where(b => b.Weight > 0).OrderBy(b => b.NodeId)];
        if (active.Length == 0)
        {
            throw new ArgumentException("At least one backend with weight above 0 is required.", nameof(backends));
        }

        int n = active.Length;
        var position = new long[n];
        var skip = new long[n];
        var credit = new long[n];
        long maxWeight = 0;
        for (int i = 0; i < n; i++)
        {
            byte[] name = Encoding.ASCII.GetBytes($"unit-{active[i].NodeId}");
            position[i] = (long)(XxHash64.HashToUInt64(name, OffsetHashSeed) % (ulong)size);
            skip[i] = (long)(XxHash64.HashToUInt64(name, SkipHashSeed) % (ulong)(size - 1)) + 1;
            maxWeight = Math.Max(maxWeight, active[i].Weight);
        }

        // Node ids start at 1, so 0 marks a free entry.
        var entries = new ushort[size];
        int filled = 0;
        while (true)
        {
            for (int i = 0; i < n; i++)
            {
                credit[i] += active[i].Weight;
                if (credit[i] < maxWeight)
                {
                    continue;
                }

                credit[i] -= maxWeight;
                // permutation[i][next[i]] = (offset + next[i]·skip) mod M, walked by adding skip.
                long c = position[i];
                while (entries[c] != 0)
                {
                    c += skip[i];
                    if (c >= size)
                    {
                        c -= size;
                    }
                }

                entries[c] = active[i].NodeId;
                c += skip[i];
                position[i] = c >= size ? c - size : c;
                if (++filled == size)
                {
                    return new MaglevTable(entries);
                }
            }
        }
    }

    internal static bool IsPrime(int value)
    {
        if (value < 2)
        {
            return false;
        }

        for (int d = 2; (long)d * d <= value; d++)
        {
            if (value % d == 0)
            {
                return false;
            }
        }

        return true;
    }
}
