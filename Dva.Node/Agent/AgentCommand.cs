using System.Net;
using System.Runtime.InteropServices;
using Dva.Shared.Contracts;
using Microsoft.Extensions.Logging;

namespace Dva.Node.Agent;

/// <summary>What <c>dva-node agent</c> was told on its command line.</summary>
internal sealed record AgentOptions
{
    public required Uri Manager { get; init; }

    public required string EnrollmentToken { get; init; }

    public required string Name { get; init; }

    /// <summary>The tunnel endpoint the unit announces and binds; peers must reach it at this address.</summary>
    public required IPEndPoint Tunnel { get; init; }

    public IReadOnlyList<string> Sources { get; init; } = [];

    public IPEndPoint Control { get; init; } = new(IPAddress.Loopback, 0);

    /// <summary>Stop when standard input reaches end of file: a parent that dies (even by SIGKILL) takes the unit with it.</summary>
    public bool StopOnStdinClose { get; init; }
}

/// <summary>
/// <c>dva-node agent --manager URL --enrollment TOKEN ...</c>: a compute unit managed by a manager. It registers,
/// waits for an assignment, runs the assigned role with the tables the manager rolls out, and sends heartbeats;
/// Ctrl-C, SIGTERM or (with <c>--stop-on-stdin-close</c>) the end of standard input stop it cleanly.
/// </summary>
internal static class AgentCommand
{
    public const string Usage = """
        usage: dva-node agent --manager URL --enrollment TOKEN [options]

          --manager URL          the manager's base address (http://manager:5000)
          --enrollment TOKEN     the manager's node enrollment token (printed by the manager at its first start)
          --name NAME            unique unit name (default: the host name)
          --tunnel ip:port       tunnel endpoint to bind and announce (default: this host's first IPv4 address, port 6090)
          --source SPEC          a frame source this unit can attach (afpacket:IF, tap:NAME, udp:LOCAL=..,PEER=..); repeatable
          --control ip:port      local control API (default 127.0.0.1:0, a free port)
          --stop-on-stdin-close  stop when standard input closes (used by the manager's local compute-unit provider)

        exit codes: 0 stopped cleanly, 1 failure while running, 2 bad command line.
        """;

    public const int DefaultTunnelPort = 6090;

    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        if (args is ["--help"] or ["-h"])
        {
            output.WriteLine(Usage);
            return 0;
        }

        if (!TryParse(args, out var options, out var problem))
        {
            error.WriteLine($"dva-node agent: {problem}");
            error.WriteLine(Usage);
            return 2;
        }

        using var stop = new CancellationTokenSource();
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel);
        if (options!.StopOnStdinClose)
        {
            _ = ParentWatch.StopOnEndOfInputAsync(stop);
        }

        using var logging = LoggerFactory.Create(b => b.AddSimpleConsole(c =>
        {
            c.SingleLine = true;
            c.TimestampFormat = "HH:mm:ss ";
        }).SetMinimumLevel(LogLevel.Information));
        var logger = logging.CreateLogger("dva-node.agent");
        await using var agent = new NodeAgent(options, logger);
        try
        {
            await agent.RunAsync(stop.Token);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Stopped before the first registration.
        }

        output.WriteLine($"stopping agent {options.Name}");
        return 0;

        void Cancel(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Cancel();
        }
    }

    public static bool TryParse(IReadOnlyList<string> args, out AgentOptions? options, out string problem)
    {
        options = null;
        problem = "";
        Uri? manager = null;
        string? token = null;
        string? name = null;
        IPEndPoint? tunnel = null;
        IPEndPoint? control = null;
        var sources = new List<string>();
        var stdin = false;
        for (var i = 0; i < args.Count; i++)
        {
            var option = args[i];
            if (option == "--stop-on-stdin-close")
            {
                stdin = true;
                continue;
            }

            if (option is not ("--manager" or "--enrollment" or "--name" or "--tunnel" or "--source" or "--control"))
            {
                problem = $"unknown option '{option}'";
                return false;
            }

            if (i + 1 >= args.Count || args[i + 1].StartsWith("--", StringComparison.Ordinal))
            {
                problem = $"option '{option}' needs a value";
                return false;
            }

            var value = args[++i];
            switch (option)
            {
                case "--manager":
                    if (!Uri.TryCreate(value, UriKind.Absolute, out manager) || manager.Scheme is not ("http" or "https"))
                    {
                        problem = $"--manager: '{value}' is not an http:// or https:// address";
                        return false;
                    }

                    break;
                case "--enrollment":
                    token = value;
                    break;
                case "--name":
                    if (value.Length is 0 or > 63)
                    {
                        problem = "--name: must be 1..63 characters";
                        return false;
                    }

                    name = value;
                    break;
                case "--tunnel" or "--control":
                    if (!IPEndPoint.TryParse(value, out var endpoint) || (option == "--tunnel" && endpoint.Port == 0))
                    {
                        problem = $"{option}: '{value}' is not ip:port" + (option == "--tunnel" ? " with a non-zero port (peers must know it)" : "");
                        return false;
                    }

                    if (option == "--tunnel")
                    {
                        tunnel = endpoint;
                    }
                    else
                    {
                        control = endpoint;
                    }

                    break;
                default:
                    if (!Io.FrameSourceSpec.TryParse(value, out _, out var sourceError))
                    {
                        problem = $"--source: {sourceError}";
                        return false;
                    }

                    sources.Add(value);
                    break;
            }
        }

        if (manager is null || string.IsNullOrWhiteSpace(token))
        {
            problem = "--manager and --enrollment are required";
            return false;
        }

        tunnel ??= DefaultTunnel();
        if (tunnel is null)
        {
            problem = "--tunnel: this host has no IPv4 address to announce; give one";
            return false;
        }

        options = new AgentOptions
        {
            Manager = manager,
            EnrollmentToken = token,
            Name = name ?? Environment.MachineName,
            Tunnel = tunnel,
            Sources = sources,
            Control = control ?? new IPEndPoint(IPAddress.Loopback, 0),
            StopOnStdinClose = stdin,
        };
        return true;
    }

    /// <summary>The first up, non-loopback IPv4 address: what other machines of the fleet most likely reach.</summary>
    private static IPEndPoint? DefaultTunnel()
    {
        var address = System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == System.Net.NetworkInformation.OperationalStatus.Up)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(u => u.Address)
            .FirstOrDefault(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && !IPAddress.IsLoopback(a));
        return address is null ? null : new IPEndPoint(address, DefaultTunnelPort);
    }
}
