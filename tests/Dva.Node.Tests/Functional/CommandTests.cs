using System.Diagnostics;

namespace Dva.Node.Tests.Functional;

/// <summary>The command line as an operator meets it: exit codes and the errors it prints.</summary>
public class CommandTests
{
    [Fact]
    public async Task Run_BadConfig_EveryErrorNamesItsFieldAndExitCode2()
    {
        var path = Path.Combine(Path.GetTempPath(), $"dva-bad-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(path, """
            { "role": "router", "nodeId": 0, "tunnel": { "listen": "127.0.0.1:0" },
              "interfaces": [ { "ifid": 1, "mac": "zz", "source": "udp:LOCAL=127.0.0.1:1,PEER=127.0.0.1:2" } ] }
            """);
        try
        {
            var (code, _, error) = await RunAsync("run", "--config", path);

            Assert.Equal(2, code);
            Assert.Contains("role: 'router' is not a role", error, StringComparison.Ordinal);
            Assert.Contains("nodeId: 0 is out of range", error, StringComparison.Ordinal);
            Assert.Contains("interfaces[0].mac: 'zz' is not a MAC address", error, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("2", "frobnicate")]
    [InlineData("2", "run")]
    [InlineData("2", "counters", "--control", "nowhere")]
    [InlineData("2", "traffic", "--flows", "10")]
    [InlineData("0", "help")]
    public async Task Command_Arguments_ExitCode(string expected, params string[] args)
    {
        var (code, output, error) = await RunAsync(args);

        Assert.Equal(int.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), code);
        Assert.Contains(code == 0 ? "usage" : "dva-node", code == 0 ? output : error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Counters_RunningNode_PrintsTableVersionAndPorts()
    {
        using var cluster = await DvaCluster.StartAsync(dataPlanes: 1, inTable: 1);

        var (code, output, _) = await RunAsync("counters", "--control", cluster.Dispatcher.Control.ToString());

        Assert.Equal(0, code);
        Assert.Contains("node 100 (Dispatcher, dispatcher) table v1", output, StringComparison.Ordinal);
        Assert.Contains("port udp:LOCAL=", output, StringComparison.Ordinal);
    }

    private static async Task<(int Code, string Output, string Error)> RunAsync(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "dva-node.dll"));
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }

        return (process.ExitCode, await output, await error);
    }
}
