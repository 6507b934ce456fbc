using System.Globalization;

namespace Dva.Simulator;

/// <summary>What one scenario step does to the set of units.</summary>
internal enum StepKind
{
    /// <summary>First table: Count units of weight Weight.</summary>
    Start,

    /// <summary>Count new units join (scale-out).</summary>
    Add,

    /// <summary>Count random units get weight 0 and keep their flows until those end (graceful scale-in).</summary>
    Drain,

    /// <summary>Count random units vanish with their flows (crash; removed from the peers at once).</summary>
    Fail,

    /// <summary>Count new units join and the Count oldest active units drain, in one change (rolling replace).</summary>
    Replace,

    /// <summary>Count random active units (or all) get weight Weight.</summary>
    Weight,
}

/// <summary>One step; <see cref="Count"/> is absolute, or a fraction of the active units when <see cref="Fraction"/> is set.</summary>
internal sealed record ScenarioStep(StepKind Kind, int Count, double? Fraction = null, int Weight = ScenarioScript.BaseWeight)
{
    public int ResolveCount(int activeUnits) =>
        Fraction is double f ? Math.Max(1, (int)Math.Round(f * activeUnits)) : Count;

    public override string ToString()
    {
        string count = Fraction switch
        {
            1.0 => "all",
            double f => $"{f * 100:0.#}%",
            null => Count.ToString(CultureInfo.InvariantCulture),
        };
        return Kind switch
        {
            StepKind.Start => $"start {count}",
            StepKind.Weight => $"weight {count} {Weight}",
            _ => $"{Kind.ToString().ToLowerInvariant()} {count}",
        };
    }
}

/// <summary>
/// The scenario language: steps separated by ';', each "verb count [weight] [xRepeat]", count an integer,
/// a percentage of the active units, or "all". Example: "start 8; add 8 x7" scales out 8 → 64 by 8.
/// </summary>
internal static class ScenarioScript
{
    /// <summary>Weight of a unit of ordinary capacity; 200 is twice as fast.</summary>
    public const int BaseWeight = 100;

    public static IReadOnlyList<string> BuiltInNames { get; } = ["scale-out", "scale-in", "fail", "rolling", "weights"];

    /// <summary>The script of a built-in scenario for <paramref name="units"/> units.</summary>
    public static string BuiltIn(string name, int units, int steps)
    {
        int eighth = Math.Max(1, units / 8);
        return name switch
        {
            "scale-out" => $"start {eighth}; add {eighth} x7",
            "scale-in" => $"start {eighth * 8}; drain {eighth} x7",
            "fail" => $"start {units}; fail 10%",
            "rolling" => $"start {units}; replace {Math.Max(1, units / steps)} x{steps}",
            "weights" => $"start {units}; weight 10% 200; weight 10% 50; weight all {BaseWeight}",
            _ => throw new ArgumentException($"Unknown scenario '{name}'; built-in: {string.Join(", ", BuiltInNames)}.", nameof(name)),
        };
    }

    /// <exception cref="FormatException">A step that does not parse, or a script not starting with "start".</exception>
    public static IReadOnlyList<ScenarioStep> Parse(string script)
    {
        ArgumentNullException.ThrowIfNull(script);
        var steps = new List<ScenarioStep>();
        foreach (string text in script.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string[] words = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            int repeat = 1;
            if (words.Length > 1 && words[^1].StartsWith('x') && int.TryParse(words[^1].AsSpan(1), CultureInfo.InvariantCulture, out repeat))
            {
                words = words[..^1];
            }

            ScenarioStep step = ParseStep(words, text);
            if (repeat < 1 || (step.Kind == StepKind.Start && (repeat != 1 || steps.Count != 0)))
            {
                throw new FormatException($"'{text}': start comes once, first, without repeat; repeats are x1 or more.");
            }

            steps.AddRange(Enumerable.Repeat(step, repeat));
        }

        return steps.Count > 0 && steps[0].Kind == StepKind.Start
            ? steps
            : throw new FormatException("A scenario begins with 'start N'.");
    }

    private static ScenarioStep ParseStep(string[] words, string text)
    {
        StepKind kind = words.Length > 0 && Enum.TryParse(words[0], ignoreCase: true, out StepKind k) && !int.TryParse(words[0], out _)
            ? k
            : throw new FormatException($"'{text}': unknown verb; use start, add, drain, fail, replace or weight.");
        int expectedWords = kind == StepKind.Weight ? 3 : 2;
        if (words.Length != expectedWords)
        {
            throw new FormatException($"'{text}': expected {(kind == StepKind.Weight ? "'weight COUNT WEIGHT'" : $"'{words[0]} COUNT'")}.");
        }

        int weight = BaseWeight;
        if (kind == StepKind.Weight && (!int.TryParse(words[2], CultureInfo.InvariantCulture, out weight) || weight < 1))
        {
            throw new FormatException($"'{text}': weight must be a positive integer.");
        }

        string count = words[1];
        if (count == "all" && kind is StepKind.Weight)
        {
            return new ScenarioStep(kind, 0, 1.0, weight);
        }

        if (count.EndsWith('%') && double.TryParse(count.AsSpan(0, count.Length - 1), NumberStyles.Float, CultureInfo.InvariantCulture, out double percent)
            && percent is > 0 and <= 100 && kind != StepKind.Start)
        {
            return new ScenarioStep(kind, 0, percent / 100, weight);
        }

        return int.TryParse(count, CultureInfo.InvariantCulture, out int n) && n > 0
            ? new ScenarioStep(kind, n, null, weight)
            : throw new FormatException($"'{text}': count must be a positive integer, a percentage, or 'all' (weight only).");
    }
}
