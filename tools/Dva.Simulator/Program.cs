using System.Diagnostics;
using System.Text.Json;
using Dva.Simulator;

SimulatorCommand command;
try
{
    command = SimulatorCommand.Parse(args);
    foreach ((_, string script) in command.Scenarios)
    {
        _ = ScenarioScript.Parse(script);
    }
}
catch (Exception e) when (e is FormatException or ArgumentException)
{
    Console.Error.WriteLine(e.Message);
    Console.Error.WriteLine(SimulatorCommand.Usage);
    return 2;
}

var results = new List<object>();
var markdown = new System.Text.StringBuilder();
foreach ((string name, string script) in command.Scenarios)
{
    var clock = Stopwatch.StartNew();
    IReadOnlyList<StepReport> steps;
    try
    {
        steps = new ClusterSimulation(command.Options).Run(ScenarioScript.Parse(script));
    }
    catch (Exception e) when (e is ArgumentException or InvalidOperationException)
    {
        // Bad sizes (M not a power of two, Maglev size not prime) or a step the units cannot take.
        Console.Error.WriteLine($"{name}: {e.Message}");
        return 2;
    }

    clock.Stop();
    string table = MarkdownReport.Render(name, script, command.Options, steps, clock.Elapsed);
    Console.Write(table);
    markdown.Append(table);
    results.Add(new { Name = name, Script = script, command.Options, ElapsedSeconds = clock.Elapsed.TotalSeconds, Steps = steps });
}

if (command.JsonPath is string jsonPath)
{
    await File.WriteAllTextAsync(jsonPath, JsonSerializer.Serialize(results, JsonOutput.Options));
}

if (command.MarkdownPath is string markdownPath)
{
    await File.WriteAllTextAsync(markdownPath, markdown.ToString());
}

return 0;

internal static class JsonOutput
{
    public static readonly JsonSerializerOptions Options = new() { WriteIndented = true };
}
