using System.Globalization;
using System.Net;
using System.Text.Json;
using Dva.Node.Io;

namespace Dva.Node.Traffic;

/// <summary><c>dva-node traffic</c>: plays client and server hosts on a dispatcher's two <c>udp:</c> wires.</summary>
internal static class TrafficCommand
{
    public const string Usage = """
        usage: dva-node traffic --client-wire LOCAL=ip:port,PEER=ip:port --server-wire LOCAL=ip:port,PEER=ip:port [options]

          --client-wire SPEC     the generator's end of the outside wire (PEER = the dispatcher's udp: LOCAL)
          --server-wire SPEC     the generator's end of the inside wire
          --client-gateway IP    shared IPv4 address on the outside (default 192.0.2.1)
          --server-gateway IP    shared IPv4 address on the inside (default 198.51.100.1)
          --flows N              flows to open in all (default 1000; 0 = until --seconds, keeping --concurrency open)
          --concurrency N        flows open at once (default 100)
          --rate N               new flows per second at most (default 2000)
          --seconds N            time limit (default 60)
          --segments N           data segments each way per flow (default 3)
          --payload N            bytes per data segment (default 200)
          --step-ms N            pause between a flow's segments, to make flows live longer (default 0)
          --retries N            resends of an unanswered segment before its flow counts as broken (default 5)
          --backoff              double the 300 ms resend timeout after every resend, up to 4 s, as TCP does
                                 (default: fixed 300 ms, so 5 resends give up after 1.8 s; with --backoff after 12.5 s)
          --first-flow N         first flow id, so a second run on the same wires uses other ports (default 0)
          --udp-every N          every Nth flow is UDP request/response (default 4; 0 = TCP only)
          --clients N --servers N  host counts (default 50 and 10)
          --json                 print the result as JSON
          --progress-seconds N   also print a JSON progress line every N seconds: {"progress":true,"opened":..,"completed":..,"broken":..}
          --stop-on-stdin-close  stop (and print the result) when standard input closes, e.g. because the parent died

        exit codes: 0 every flow completed, 1 some flow broke, 2 bad options.
        """;

    public static Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        if (args is ["--help"] or ["-h"])
        {
            output.WriteLine(Usage);
            return Task.FromResult(0);
        }

        if (!TryParse(args, out var options, out var json, out var problem))
        {
            error.WriteLine($"dva-node traffic: {problem}");
            error.WriteLine(Usage);
            return Task.FromResult(2);
        }

        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };
        if (args.Contains("--stop-on-stdin-close"))
        {
            _ = Agent.ParentWatch.StopOnEndOfInputAsync(stop);
        }

        TrafficResult result;
        try
        {
            using var generator = new TrafficGenerator(options!);
            using var progress = options!.ProgressInterval > TimeSpan.Zero
                ? new Timer(_ => WriteProgress(output, generator), null, options.ProgressInterval, options.ProgressInterval)
                : null;
            result = generator.Run(stop.Token);
        }
        catch (Exception e) when (e is TimeoutException or System.Net.Sockets.SocketException or OperationCanceledException)
        {
            error.WriteLine($"dva-node traffic: {e.Message}");
            return Task.FromResult(1);
        }

        if (json)
        {
            output.WriteLine(JsonSerializer.Serialize(result, JsonSerializerOptions.Web));
        }
        else
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"flows opened {result.Opened}, completed {result.Completed}, broken {result.Broken} in {result.Seconds:F1} s; frames sent {result.FramesSent}, received {result.FramesReceived}, retransmits {result.Retransmits}, duplicates {result.Duplicates}, stray {result.StrayFrames}"));
            foreach (var (reason, count) in result.Failures)
            {
                output.WriteLine($"  broken: {count} x {reason}");
            }
        }

        return Task.FromResult(result.Broken == 0 ? 0 : 1);
    }

    /// <summary>One JSON line a supervising process (the manager's demo) reads while the generator runs.</summary>
    private static void WriteProgress(TextWriter output, TrafficGenerator generator)
    {
        var line = JsonSerializer.Serialize(new { progress = true, opened = generator.Opened, completed = generator.Completed, broken = generator.Broken, retransmits = generator.Retransmits });
        lock (output)
        {
            output.WriteLine(line);
            output.Flush();
        }
    }

    public static bool TryParse(IReadOnlyList<string> args, out TrafficOptions? options, out bool json, out string problem)
    {
        options = null;
        json = false;
        problem = string.Empty;
        FrameSourceSpec? client = null;
        FrameSourceSpec? server = null;
        var o = new TrafficOptions
        {
            ClientLocal = new IPEndPoint(IPAddress.Loopback, 0),
            ClientPeer = new IPEndPoint(IPAddress.Loopback, 0),
            ServerLocal = new IPEndPoint(IPAddress.Loopback, 0),
            ServerPeer = new IPEndPoint(IPAddress.Loopback, 0),
        };
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            if (name == "--json")
            {
                json = true;
                continue;
            }

            if (name == "--stop-on-stdin-close")
            {
                continue;
            }

            if (name == "--backoff")
            {
                o = o with { Backoff = true };
                continue;
            }

            if (i + 1 >= args.Count)
            {
                problem = $"option '{name}' needs a value";
                return false;
            }

            var value = args[++i];
            switch (name)
            {
                case "--client-wire" or "--server-wire":
                    if (!FrameSourceSpec.TryParse("udp:" + value, out var spec, out var specError))
                    {
                        problem = $"{name}: {specError}";
                        return false;
                    }

                    if (name == "--client-wire")
                    {
                        client = spec;
                    }
                    else
                    {
                        server = spec;
                    }

                    break;
                case "--client-gateway" or "--server-gateway":
                    if (!IPAddress.TryParse(value, out var gateway) || gateway.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
                    {
                        problem = $"{name}: '{value}' is not an IPv4 address";
                        return false;
                    }

                    o = name == "--client-gateway" ? o with { ClientGateway = gateway } : o with { ServerGateway = gateway };
                    break;
                default:
                    if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n))
                    {
                        problem = $"{name}: '{value}' is not a non-negative number";
                        return false;
                    }

                    switch (name)
                    {
                        case "--flows": o = o with { Flows = n }; break;
                        case "--concurrency" when n >= 1: o = o with { Concurrency = (int)Math.Min(n, 100_000) }; break;
                        case "--rate" when n >= 1: o = o with { Rate = n }; break;
                        case "--seconds" when n >= 1: o = o with { Duration = TimeSpan.FromSeconds(n) }; break;
                        case "--segments" when n >= 1 && n <= 1000: o = o with { Segments = (int)n }; break;
                        case "--payload" when n >= 1 && n <= 1400: o = o with { PayloadBytes = (int)n }; break;
                        case "--progress-seconds" when n >= 1 && n <= 3600: o = o with { ProgressInterval = TimeSpan.FromSeconds(n) }; break;
                        case "--step-ms" when n <= 60_000: o = o with { StepInterval = TimeSpan.FromMilliseconds(n) }; break;
                        case "--retries" when n <= 30: o = o with { Retries = (int)n }; break;
                        case "--first-flow" when n <= 1_000_000_000: o = o with { FirstFlow = n }; break;
                        case "--udp-every": o = o with { UdpEvery = (int)Math.Min(n, int.MaxValue) }; break;
                        case "--clients" when n >= 1 && n <= 200: o = o with { Clients = (int)n }; break;
                        case "--servers" when n >= 1 && n <= 200: o = o with { Servers = (int)n }; break;
                        default:
                            problem = $"unknown option or value out of range: '{name} {value}'";
                            return false;
                    }

                    break;
            }
        }

        if (client is null || server is null)
        {
            problem = "--client-wire and --server-wire are required";
            return false;
        }

        options = o with { ClientLocal = client.Local!, ClientPeer = client.Peer!, ServerLocal = server.Local!, ServerPeer = server.Peer! };
        return true;
    }
}
