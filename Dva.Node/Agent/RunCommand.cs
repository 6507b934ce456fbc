using System.Runtime.InteropServices;
using System.Text.Json;
using Dva.Node.Config;

namespace Dva.Node.Agent;

/// <summary><c>dva-node run --config node.json</c>: validate, start, wait for Ctrl-C or SIGTERM, stop cleanly.</summary>
internal static class RunCommand
{
    public const string Usage = "run --config node.json";

    /// <summary>Printed on stdout once the node forwards; scripts and tests wait for it.</summary>
    public const string ReadyPrefix = "ready ";

    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        if (args is not ["--config", var path])
        {
            error.WriteLine($"dva-node run: expected '--config FILE'; usage: dva-node {Usage}");
            return 2;
        }

        if (!NodeSettings.TryLoad(path, out var settings, out var errors))
        {
            error.WriteLine($"dva-node run: {path} is not a valid node configuration:");
            foreach (var e in errors)
            {
                error.WriteLine($"  {e}");
            }

            return 2;
        }

        using var stop = new CancellationTokenSource();
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel);
        NodeHost host;
        try
        {
            host = await NodeHost.StartAsync(settings!, cancellationToken: stop.Token);
        }
#pragma warning disable CA1031 // Any failure to open sockets or devices is reported to the operator as one readable line.
        catch (Exception e)
#pragma warning restore CA1031
        {
            error.WriteLine($"dva-node run: cannot start {settings!.Role} node {settings.NodeId}: {e.Message}");
            return 1;
        }

        await using (host)
        {
            output.WriteLine($"{ReadyPrefix}role={settings!.Role} node={settings.NodeId} tunnel={host.TunnelEndPoint} control={host.ControlEndPoint}");
            output.Flush();
            try
            {
                await Task.Delay(Timeout.Infinite, stop.Token);
            }
            catch (OperationCanceledException)
            {
                // Ctrl-C or SIGTERM: fall through to the clean stop.
            }

            output.WriteLine($"stopping node {settings.NodeId}");
        }

        return 0;

        void Cancel(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Cancel();
        }
    }
}

/// <summary><c>dva-node counters --control ip:port [--json]</c>: prints a running node's counters.</summary>
internal static class CountersCommand
{
    public const string Usage = "counters --control ip:port [--json]";

    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        var json = args.Contains("--json");
        var rest = args.Where(a => a != "--json").ToList();
        if (rest is not ["--control", var endpoint] || !System.Net.IPEndPoint.TryParse(endpoint, out var ep) || ep.Port == 0)
        {
            error.WriteLine($"dva-node counters: expected '--control ip:port'; usage: dva-node {Usage}");
            return 2;
        }

        using var http = new HttpClient { BaseAddress = new Uri($"http://{ep}/"), Timeout = TimeSpan.FromSeconds(5) };
        string body;
        try
        {
            body = await http.GetStringAsync(new Uri("counters", UriKind.Relative));
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            error.WriteLine($"dva-node counters: no node answers on {ep}: {e.Message}");
            return 1;
        }

        if (json)
        {
            output.WriteLine(body);
            return 0;
        }

        var c = JsonSerializer.Deserialize<CountersView>(body, JsonSerializerOptions.Web)!;
        output.WriteLine($"node {c.NodeId} ({c.Role}, {c.Name}) table v{c.TableVersion}");
        output.WriteLine($"  frames in {c.FramesIn} ({c.BytesIn} B), out {c.FramesOut} ({c.BytesOut} B), drops {c.TotalDrops}");
        output.WriteLine($"  flows active {c.FlowsActive}, created {c.FlowsCreated}, expired {c.FlowsExpired}");
        foreach (var (name, value) in c.Tunnel.Where(t => t.Value != 0))
        {
            output.WriteLine($"  tunnel {name,-20} {value}");
        }

        foreach (var (name, value) in c.Drops)
        {
            output.WriteLine($"  drop   {name,-20} {value}");
        }

        foreach (var p in c.Ports)
        {
            output.WriteLine($"  port {p.Name}: rx {p.ReceivedPackets}, tx {p.SentPackets}, rx errors {p.ReceiveErrors}, tx drops {p.SendDrops}");
        }

        return 0;
    }
}
