using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Dva.Node.Services.Firewall;

/// <summary>
/// One header field of the bit-vector classifier (Lakshman and Stiliadis, "High-speed policy-based
/// packet forwarding using efficient multi-dimensional range matching", 1998): the field's value
/// space is cut into elementary intervals at every rule boundary, and each interval carries the
/// bitset of rules (in evaluation order) whose range covers it. Classifying ANDs one bitset per field.
/// Identical bitsets are stored once, which matters for the wide fields: with 10 000 rules a row is
/// 157 words and most gaps between rule boundaries share one row.
/// Each row has a summary (the aggregated bit vector of Baboescu and Varghese, 2001): bit j is set
/// when word j of the row is non-zero. ANDing the summaries first finds the words worth reading, so
/// a packet that matches no rule, or only a late one, skips most of the rows. Summaries are kept
/// apart from the rows, densely, so they stay in cache while the large rows do not.
/// </summary>
internal static class BitVectorField
{
    /// <summary>A rule's range in one field; <c>Present = false</c> means the rule never matches in this field.</summary>
    public readonly record struct FieldRange(bool Present, UInt128 Low, UInt128 High)
    {
        public static FieldRange All(UInt128 max) => new(true, UInt128.Zero, max);

        public static readonly FieldRange None = new(false, UInt128.Zero, UInt128.Zero);
    }

    /// <summary>The elementary intervals (start values ascending) and, for each, the id of its row.</summary>
    public readonly record struct Built(UInt128[] Starts, int[] RowIds, FieldRows Rows);

    /// <summary>Words of summary in front of a row of <paramref name="words"/> rule words.</summary>
    public static int SummaryWords(int words) => (words + 63) / 64;

    public static Built Build(ReadOnlySpan<FieldRange> perRule, UInt128 max, int words)
    {
        var points = new List<UInt128>(perRule.Length * 2 + 1) { UInt128.Zero };
        foreach (FieldRange s in perRule)
        {
            if (s.Present)
            {
                points.Add(s.Low);
                if (s.High < max)
                {
                    points.Add(s.High + 1);
                }
            }
        }

        points.Sort();
        UInt128[] starts = Unique(points);

        // Sweep the intervals once, keeping the set of covering rules: a rule enters at the interval
        // starting at its low bound and leaves at the one starting just past its high bound.
        var events = new List<(int At, int Rule, bool Enter)>(perRule.Length * 2);
        for (int r = 0; r < perRule.Length; r++)
        {
            FieldRange s = perRule[r];
            if (!s.Present)
            {
                continue;
            }

            events.Add((Array.BinarySearch(starts, s.Low), r, true));
            if (s.High < max)
            {
                events.Add((Array.BinarySearch(starts, s.High + 1), r, false));
            }
        }

        events.Sort(static (a, b) => a.At != b.At ? a.At.CompareTo(b.At) : a.Enter.CompareTo(b.Enter));

        int summary = SummaryWords(words);
        var rows = new RowStore(summary + words, Math.Min(starts.Length, 1024));
        var current = new ulong[words];
        var row = new ulong[summary + words];
        var rowIds = new int[starts.Length];
        int e = 0;
        for (int i = 0; i < starts.Length; i++)
        {
            for (; e < events.Count && events[e].At == i; e++)
            {
                (_, int rule, bool enter) = events[e];
                if (enter)
                {
                    current[rule >> 6] |= 1UL << rule;
                }
                else
                {
                    current[rule >> 6] &= ~(1UL << rule);
                }
            }

            Array.Clear(row, 0, summary);
            for (int w = 0; w < words; w++)
            {
                row[summary + w] = current[w];
                if (current[w] != 0)
                {
                    row[w >> 6] |= 1UL << w;
                }
            }

            rowIds[i] = rows.Intern(row) / (summary + words);
        }

        return new Built(starts, rowIds, FieldRows.Split(rows.ToArray(), summary, words));
    }

    /// <summary>Expands intervals into a table indexed by the field value, for fields of at most 65 537 values.</summary>
    public static int[] ExpandDirect(Built built, int domainSize)
    {
        var table = new int[domainSize];
        int interval = 0;
        for (int v = 0; v < domainSize; v++)
        {
            while (interval + 1 < built.Starts.Length && built.Starts[interval + 1] <= (UInt128)v)
            {
                interval++;
            }

            table[v] = built.RowIds[interval];
        }

        return table;
    }

    /// <summary>Index of the last start at or below <paramref name="key"/>; starts[0] is always 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Find<T>(T[] starts, T key)
        where T : unmanaged, IComparisonOperators<T, T, bool>
    {
        int lo = 0;
        int hi = starts.Length - 1;
        ref T first = ref MemoryMarshal.GetArrayDataReference(starts);
        while (lo < hi)
        {
            int mid = (lo + hi + 1) >>> 1;
            if (Unsafe.Add(ref first, mid) <= key)
            {
                lo = mid;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return lo;
    }

    private static UInt128[] Unique(List<UInt128> sorted)
    {
        var unique = new List<UInt128>(sorted.Count);
        foreach (UInt128 p in sorted)
        {
            if (unique.Count == 0 || unique[^1] != p)
            {
                unique.Add(p);
            }
        }

        return [.. unique];
    }

    /// <summary>Rows of <c>words</c> ulongs, each distinct content stored once.</summary>
    private sealed class RowStore : IEqualityComparer<int>
    {
        private readonly int _words;
        private readonly HashSet<int> _index;
        private ulong[] _rows;
        private int _count;

        public RowStore(int words, int capacity)
        {
            _words = words;
            _rows = new ulong[(capacity + 1) * words];
            _index = new HashSet<int>(this);
        }

        /// <summary>Returns the word offset of a row equal to <paramref name="row"/>, adding it if new.</summary>
        public int Intern(ulong[] row)
        {
            // The candidate is written into the next free slot, so the comparer can see it by offset.
            int candidate = _count * _words;
            if (candidate + _words > _rows.Length)
            {
                Array.Resize(ref _rows, _rows.Length * 2);
            }

            row.CopyTo(_rows, candidate);
            if (_index.TryGetValue(candidate, out int existing))
            {
                return existing;
            }

            _index.Add(candidate);
            _count++;
            return candidate;
        }

        public ulong[] ToArray() => _rows.AsSpan(0, _count * _words).ToArray();

        public bool Equals(int x, int y) => _rows.AsSpan(x, _words).SequenceEqual(_rows.AsSpan(y, _words));

        public int GetHashCode(int obj)
        {
            var hash = new HashCode();
            hash.AddBytes(MemoryMarshal.AsBytes(_rows.AsSpan(obj, _words)));
            return hash.ToHashCode();
        }
    }
}

/// <summary>The distinct rows of one field: rule bits (<see cref="Words"/> per row) and summaries (<see cref="SummaryWords"/> per row).</summary>
internal sealed class FieldRows
{
    private FieldRows(ulong[] bits, ulong[] summaries, int summaryWords, int words)
    {
        Bits = bits;
        Summaries = summaries;
        SummaryWords = summaryWords;
        Words = words;
    }

    public ulong[] Bits { get; }
    public ulong[] Summaries { get; }
    public int SummaryWords { get; }
    public int Words { get; }
    public long Bytes => 8L * (Bits.Length + Summaries.Length);

    /// <summary>Splits rows stored as [summary][bits] into the two arrays.</summary>
    public static FieldRows Split(ulong[] combined, int summaryWords, int words)
    {
        int count = combined.Length / (summaryWords + words);
        var bits = new ulong[count * words];
        var summaries = new ulong[count * summaryWords];
        for (int r = 0; r < count; r++)
        {
            int from = r * (summaryWords + words);
            Array.Copy(combined, from, summaries, r * summaryWords, summaryWords);
            Array.Copy(combined, from + summaryWords, bits, r * words, words);
        }

        return new FieldRows(bits, summaries, summaryWords, words);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref ulong Summary(int rowId) => ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(Summaries), rowId * SummaryWords);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref ulong Row(int rowId) => ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(Bits), rowId * Words);
}
