using System.Globalization;
using System.Text;

namespace Dva.Simulator;

/// <summary>One scenario's figures as two markdown tables: our tables, then Maglev's.</summary>
internal static class MarkdownReport
{
    public static string Render(string name, string script, SimulationOptions options, IReadOnlyList<StepReport> steps, TimeSpan elapsed)
    {
        ArgumentNullException.ThrowIfNull(steps);
        ArgumentNullException.ThrowIfNull(options);
        var text = new StringBuilder();
        Line(text, $"### {name}: `{script}`");
        Line(text, "");
        Line(text, $"{options.Flows:N0} flows, M = {options.BucketCount} buckets, Maglev M = {options.MaglevSize}, churn {options.Churn:0.##}/step, prune {(options.PruneEmptyHistory ? "on" : "off")}, seed {options.Seed}; {elapsed.TotalSeconds:0.0} s.");
        Line(text, "");
        Line(text, "| step | change | units (+draining) | moved buckets | minimum | bucket max/share | flow max/share | owner changed | punts/packet | packets by punts 0/1/2/3/4 (%) | broken | lost (failed) | history entries / max depth |");
        Line(text, "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|");
        foreach (StepReport s in steps)
        {
            string histogram = string.Join(" / ", s.PuntHistogram.Select(n => Percent(n, s.Flows - s.LostFlows)));
            Line(text, $"| {s.Step} | {s.Change} | {s.ActiveUnits} (+{s.DrainingUnits}) | {s.MovedBuckets:N0} | {s.MinimumMoves:N0} | {s.BucketBalance:0.000} | {s.FlowBalance:0.000} | {Percent(s.OwnerChangedFlows, s.Flows)} % | {s.PuntsPerPacket:0.0000} | {histogram} | {s.BrokenFlows:N0} | {s.LostFlows:N0} | {s.HistoryEntries:N0} / {s.HistoryMaxDepth} |");
        }

        Line(text, "");
        Line(text, "| step | change | Maglev changed entries | minimum | disrupted flows | of which on failed units | beyond failed | entry max/share | flow max/share |");
        Line(text, "|---:|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (StepReport s in steps)
        {
            Line(text, $"| {s.Step} | {s.Change} | {s.MaglevChangedEntries:N0} | {s.MaglevMinimumChanges:N0} | {Percent(s.MaglevDisruptedFlows, s.Flows)} % | {Percent(s.MaglevDisruptedOnFailed, s.Flows)} % | {Percent(s.MaglevDisruptedFlows - s.MaglevDisruptedOnFailed, s.Flows)} % | {s.MaglevEntryBalance:0.000} | {s.MaglevFlowBalance:0.000} |");
        }

        Line(text, "");
        return text.ToString();
    }

    private static string Percent(long part, long whole) =>
        whole == 0 ? "0" : (100.0 * part / whole).ToString(part == 0 ? "0" : "0.00", CultureInfo.InvariantCulture);

    private static void Line(StringBuilder text, string line) => text.Append(line).Append('\n');
}
