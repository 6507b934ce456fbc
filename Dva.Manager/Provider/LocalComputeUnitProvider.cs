using System.Collections.Concurrent;
using System.Globalization;
using Dva.Manager.Hubs;
using Microsoft.Extensions.Options;

namespace Dva.Manager.Provider;

/// <summary>What the caller wants of a new local unit.</summary>
/// <param name="Name">Unit name (unique in the registry); null picks <c>local-N</c>.</param>
/// <param name="FrameSources">Frame sources the unit announces (a dispatcher's <c>udp:</c> wires).</param>
/// <param name="Tunnel">Tunnel endpoint wanted (the one a restarted unit had, so its DVA's tables need not change); a free port when null or taken.</param>
internal sealed record LocalUnitRequest(string? Name = null, IReadOnlyList<string>? FrameSources = null, string? Tunnel = null);

/// <summary>A local unit as the API and the dashboard show it.</summary>
internal sealed record LocalUnitView(string Name, int ProcessId, string Tunnel, string Control, DateTimeOffset Started, bool Running, int? ExitCode);

/// <summary>
/// The local compute-unit provider: runs <c>dva-node agent</c> processes on the manager's machine, each with free
/// loopback ports for its tunnel and control API, the manager's own address and its enrollment token. The units
/// register like any other, and the fleet reconciler allocates them. No restart policy: an exit is reported in the
/// log. When the manager stops, every unit is stopped (standard input closed, then the process tree killed after
/// <see cref="LocalUnitOptions.StopTimeout"/>); if the manager dies, the units see their standard input close and
/// stop by themselves.
/// </summary>
internal sealed partial class LocalComputeUnitProvider(
    ManagerEndpoint endpoint,
    EnrollmentToken token,
    IOptions<LocalUnitOptions> options,
    ILogger<LocalComputeUnitProvider> logger) : IHostedService, IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, (LocalProcess Process, LocalUnitView View)> _units = new(StringComparer.Ordinal);
    private readonly List<LocalProcess> _others = [];
    private readonly SemaphoreSlim _starting = new(1, 1);
    private volatile bool _stopped;
    private int _next;

    /// <summary>Every unit this manager started, running or not.</summary>
    public IReadOnlyList<LocalUnitView> Units =>
        [.. _units.Values.Select(u => u.View with { Running = !u.Process.HasExited, ExitCode = u.Process.ExitCode }).OrderBy(u => u.Started)];

    /// <summary>Process ids of every child this provider started (units and other <c>dva-node</c> commands).</summary>
    public IReadOnlyList<int> ProcessIds
    {
        get
        {
            lock (_others)
            {
                return [.. _units.Values.Select(u => u.Process.Id), .. _others.Select(p => p.Id)];
            }
        }
    }

    /// <summary>Starts one unit once the manager listens; throws a readable error when dva-node cannot be found.</summary>
    public async Task<LocalUnitView> StartUnitAsync(LocalUnitRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        var manager = await endpoint.Address.WaitAsync(ct);
        await _starting.WaitAsync(ct);
        try
        {
            ObjectDisposedException.ThrowIf(_stopped, this);
            var name = request.Name ?? NextName();
            if (_units.TryGetValue(name, out var existing) && !existing.Process.HasExited)
            {
                return existing.View;
            }

            var tunnel = FreePorts.UdpOrFree(request.Tunnel);
            var control = FreePorts.Tcp();
            var arguments = new List<string>
            {
                "agent", "--manager", manager.ToString(), "--enrollment", token.Value, "--name", name,
                "--tunnel", tunnel.ToString(), "--control", control.ToString(), "--stop-on-stdin-close",
            };
            foreach (var source in request.FrameSources ?? [])
            {
                arguments.Add("--source");
                arguments.Add(source);
            }

            var process = LocalProcess.Start(name, NodeAssembly(), arguments, logger);
            var view = new LocalUnitView(name, process.Id, tunnel.ToString(), control.ToString(), process.Started, true, null);
            _units[name] = (process, view);
            LogStarted(logger, name, process.Id, view.Tunnel, view.Control);
            return view;
        }
        finally
        {
            _starting.Release();
        }
    }

    /// <summary>Runs another <c>dva-node</c> command (the demo's traffic generator) under the same stop rules.</summary>
    public LocalProcess StartCommand(string name, IEnumerable<string> arguments, Action<string>? onLine = null)
    {
        ObjectDisposedException.ThrowIf(_stopped, this);
        var process = LocalProcess.Start(name, NodeAssembly(), arguments, logger, onLine);
        lock (_others)
        {
            _others.Add(process);
        }

        return process;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Stops every child: all at once, each given <see cref="LocalUnitOptions.StopTimeout"/> before its tree is killed.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _stopped = true;
        List<LocalProcess> all;
        lock (_others)
        {
            all = [.. _others.Where(p => !p.HasExited), .. _units.Values.Select(u => u.Process).Where(p => !p.HasExited)];
        }

        if (all.Count == 0)
        {
            return;
        }

        LogStopping(logger, all.Count);
        var stops = Task.WhenAll(all.Select(p => p.StopAsync(options.Value.StopTimeout)));
        try
        {
            await stops.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // The host's shutdown timeout ran out: no waiting any more.
            foreach (var process in all)
            {
                process.Kill();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None);
        _starting.Dispose();
    }

    private string NodeAssembly() =>
        NodeExecutable.Find(options.Value.NodeAssembly, out var searched)
        ?? throw new InvalidOperationException(
            $"Cannot start local units: {NodeExecutable.AssemblyName} was not found (looked at {string.Join(", ", searched)}). " +
            "Build Dva.Node or set Dva:LocalUnits:NodeAssembly.");

    private string NextName()
    {
        string name;
        do
        {
            name = string.Create(CultureInfo.InvariantCulture, $"local-{Interlocked.Increment(ref _next)}");
        }
        while (_units.ContainsKey(name));

        return name;
    }

    [LoggerMessage(EventId = 4610, Level = LogLevel.Information, Message = "Started local unit {Unit} (pid {Pid}), tunnel {Tunnel}, control {Control}")]
    private static partial void LogStarted(ILogger logger, string unit, int pid, string tunnel, string control);

    [LoggerMessage(EventId = 4611, Level = LogLevel.Information, Message = "Stopping {Count} local process(es)")]
    private static partial void LogStopping(ILogger logger, int count);
}
