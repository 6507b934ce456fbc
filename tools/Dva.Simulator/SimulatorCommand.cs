using System.Globalization;

namespace Dva.Simulator;

/// <summary>Parsed command line of dva-sim.</summary>
internal sealed record SimulatorCommand
{
    public const string Usage = """
        dva-sim — replays scale-out/in/failure sequences through the real DVA tables and Maglev's table.

        usage: dva-sim [options]
          --scenario NAME      built-in scenario, repeatable: scale-out, scale-in, fail, rolling, weights, all (default all)
          --script "STEPS"     custom scenario, e.g. "start 8; add 8 x7; drain 10%; fail 2; replace 1 x4; weight all 100"
          --flows N            live flows (default 1000000)
          --units N            units the built-in scenarios scale to (default 1000)
          --steps N            steps of the rolling scenario (default 10)
          --buckets M          our bucket count, power of two 256..65536 (default 65536)
          --maglev-size P      Maglev's table size, prime (default 65537)
          --churn F            chance a flow ends between steps, 0..1 (default 0.1)
          --no-prune           keep history entries whose unit holds no live flow
          --seed S             random seed (default 1)
          --json PATH          write every figure as JSON
          --markdown PATH      also write the tables to a file
        """;

    private static readonly HashSet<string> ValueOptions =
        ["--scenario", "--script", "--flows", "--units", "--steps", "--buckets", "--maglev-size", "--churn", "--seed", "--json", "--markdown"];

    public List<(string Name, string Script)> Scenarios { get; } = [];

    public SimulationOptions Options { get; init; } = new();

    public string? JsonPath { get; init; }

    public string? MarkdownPath { get; init; }

    /// <exception cref="FormatException">An unknown option or a value that does not parse.</exception>
    public static SimulatorCommand Parse(IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var options = new SimulationOptions();
        var names = new List<string>();
        var scripts = new List<string>();
        string? json = null;
        string? markdown = null;
        int units = 1000;
        int steps = 10;
        for (int i = 0; i < args.Count; i++)
        {
            string option = args[i];
            if (option == "--no-prune")
            {
                options = options with { PruneEmptyHistory = false };
                continue;
            }

            if (!ValueOptions.Contains(option))
            {
                throw new FormatException($"Unknown option {option}.");
            }

            string value = i + 1 < args.Count ? args[++i] : throw new FormatException($"{option} needs a value.");
            switch (option)
            {
                case "--scenario": names.Add(value); break;
                case "--script": scripts.Add(value); break;
                case "--flows": options = options with { Flows = Integer(option, value) }; break;
                case "--units": units = Integer(option, value); break;
                case "--steps": steps = Integer(option, value); break;
                case "--buckets": options = options with { BucketCount = Integer(option, value) }; break;
                case "--maglev-size": options = options with { MaglevSize = Integer(option, value) }; break;
                case "--churn": options = options with { Churn = double.Parse(value, CultureInfo.InvariantCulture) }; break;
                case "--seed": options = options with { Seed = ulong.Parse(value, CultureInfo.InvariantCulture) }; break;
                case "--json": json = value; break;
                case "--markdown": markdown = value; break;
                default: throw new FormatException($"Unhandled option {option}.");
            }
        }

        var command = new SimulatorCommand { Options = options, JsonPath = json, MarkdownPath = markdown };
        if (names.Count == 0 && scripts.Count == 0)
        {
            names.Add("all");
        }

        foreach (string name in names.SelectMany(n => n == "all" ? ScenarioScript.BuiltInNames : [n]))
        {
            command.Scenarios.Add((name, ScenarioScript.BuiltIn(name, units, steps)));
        }

        command.Scenarios.AddRange(scripts.Select(s => ("script", s)));
        return command;
    }

    private static int Integer(string option, string value) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n > 0
            ? n
            : throw new FormatException($"{option} needs a positive integer, not '{value}'.");
}
