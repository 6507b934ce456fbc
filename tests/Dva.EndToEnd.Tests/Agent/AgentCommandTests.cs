using System.Diagnostics;
using System.Text.Json;
using Dva.EndToEnd.Tests.Demo;
using Dva.Node.Agent;

namespace Dva.EndToEnd.Tests.Agent;

[Collection(ManagerProcess.Collection)]
public sealed class AgentCommandTests
{
    private const string Token = "e2e-enrollment-token-0123456789";

    [Theory]
    [InlineData(new[] { "--enrollment", "t" }, "--manager and --enrollment are required")]
    [InlineData(new[] { "--manager", "ftp://x", "--enrollment", "t" }, "is not an http:// or https:// address")]
    [InlineData(new[] { "--manager", "http://m:5000", "--enrollment", "t", "--tunnel", "127.0.0.1:0" }, "with a non-zero port")]
    [InlineData(new[] { "--manager", "http://m:5000", "--enrollment", "t", "--source", "wire:x" }, "--source:")]
    [InlineData(new[] { "--manager", "http://m:5000", "--enrollment" }, "option '--enrollment' needs a value")]
    [InlineData(new[] { "--manager", "http://m:5000", "--enrollment", "t", "--colour", "red" }, "unknown option '--colour'")]
    public async Task RunAsync_BadArguments_ExitCode2AndNamesTheProblem(string[] args, string expected)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();

        var code = await AgentCommand.RunAsync(args, output, error);

        Assert.Equal(2, code);
        Assert.Contains(expected, error.ToString(), StringComparison.Ordinal);
        Assert.Contains("usage: dva-node agent", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void TryParse_EveryOption_Kept()
    {
        var ok = AgentCommand.TryParse(
            ["--manager", "http://m:5000", "--enrollment", "t", "--name", "u1", "--tunnel", "127.0.0.1:7000", "--control", "127.0.0.1:7001",
             "--source", "udp:LOCAL=127.0.0.1:1,PEER=127.0.0.1:2", "--stop-on-stdin-close"],
            out var options, out var problem);

        Assert.True(ok, problem);
        Assert.Equal("u1", options!.Name);
        Assert.Equal("127.0.0.1:7000", options.Tunnel.ToString());
        Assert.Equal("127.0.0.1:7001", options.Control.ToString());
        Assert.Equal(["udp:LOCAL=127.0.0.1:1,PEER=127.0.0.1:2"], options.Sources);
        Assert.True(options.StopOnStdinClose);
    }

    [Fact]
    public async Task Agent_RightToken_RegistersUnallocatedAndStopsWhenStdinCloses()
    {
        using var manager = new ManagerProcess("--Dva:Demo:Enabled=false", $"--Dva:EnrollmentToken={Token}");
        await manager.WaitForAsync("the manager", TimeSpan.FromSeconds(45), async () => await manager.TryGetAsync("api/v1/nodes") is { } v ? (object)v : null);
        using var agent = StartAgent(manager, Token, "e2e-agent");
        manager.Track([agent.Id]);

        var node = await manager.WaitForAsync("the agent's registration", TimeSpan.FromSeconds(30), async () =>
            await manager.TryGetAsync("api/v1/nodes") is { } list
                ? list.EnumerateArray().Where(n => n.GetProperty("name").GetString() == "e2e-agent").Select(n => (object?)n).FirstOrDefault()
                : null);
        Assert.Equal("unallocated", ((JsonElement)node).GetProperty("role").GetString());

        agent.StandardInput.Close();
        await agent.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(0, agent.ExitCode);
    }

    [Fact]
    public async Task Agent_WrongToken_IsRefusedAndSaysWhy()
    {
        using var manager = new ManagerProcess("--Dva:Demo:Enabled=false", $"--Dva:EnrollmentToken={Token}");
        await manager.WaitForAsync("the manager", TimeSpan.FromSeconds(45), async () => await manager.TryGetAsync("api/v1/nodes") is { } v ? (object)v : null);
        using var agent = StartAgent(manager, "not-the-token", "e2e-intruder");
        manager.Track([agent.Id]);
        var refused = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        agent.OutputDataReceived += (_, e) =>
        {
            if (e.Data?.Contains("Cannot reach the manager", StringComparison.Ordinal) == true && e.Data.Contains("401", StringComparison.Ordinal))
            {
                refused.TrySetResult();
            }
        };
        agent.BeginOutputReadLine();

        await refused.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var nodes = (await manager.TryGetAsync("api/v1/nodes"))!.Value;
        Assert.Equal(0, nodes.GetArrayLength());
        agent.StandardInput.Close();
        await agent.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(20));
    }

    private static Process StartAgent(ManagerProcess manager, string token, string name)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var argument in (string[])[
            Path.Combine(AppContext.BaseDirectory, "dva-node.dll"), "agent", "--manager", manager.BaseAddress.ToString(), "--enrollment", token,
            "--name", name, "--tunnel", "127.0.0.1:46090", "--stop-on-stdin-close"])
        {
            start.ArgumentList.Add(argument);
        }

        return Process.Start(start)!;
    }
}
