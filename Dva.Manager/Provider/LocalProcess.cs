using System.Diagnostics;

namespace Dva.Manager.Provider;

/// <summary>
/// One <c>dva-node</c> child process. Its standard input is a pipe the manager holds open and never writes: closing
/// it asks the child to stop (<c>--stop-on-stdin-close</c>), and if the manager dies, however abruptly, the kernel
/// closes it too, so no child outlives its manager. Output lines go to a callback and the last few are kept, so an
/// unexpected exit can be reported with its reason.
/// </summary>
internal sealed partial class LocalProcess : IAsyncDisposable
{
    public const int KeptLines = 20;

    private readonly Process _process;
    private readonly Queue<string> _recent = new();
    private readonly ILogger _logger;
    private readonly Action<string>? _onLine;
    private readonly Task _exited;
    private volatile bool _stopping;

    private LocalProcess(string name, Process process, ILogger logger, Action<string>? onLine)
    {
        Name = name;
        _process = process;
        _logger = logger;
        _onLine = onLine;
        _process.OutputDataReceived += (_, e) => OnLine(e.Data);
        _process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        _process.Start();
        Id = _process.Id;
        Started = DateTimeOffset.UtcNow;
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        _exited = WatchAsync();
    }

    public string Name { get; }

    public int Id { get; }

    public DateTimeOffset Started { get; }

    /// <summary>Completes when the process has exited.</summary>
    public Task Exited => _exited;

    public bool HasExited => _exited.IsCompleted;

    public int? ExitCode => _exited.IsCompleted ? _process.ExitCode : null;

    /// <summary>The last lines the process printed.</summary>
    public IReadOnlyList<string> RecentOutput
    {
        get
        {
            lock (_recent)
            {
                return [.. _recent];
            }
        }
    }

    /// <summary>Starts <c>dotnet dva-node.dll</c> with <paramref name="arguments"/> (which should include <c>--stop-on-stdin-close</c>).</summary>
    public static LocalProcess Start(string name, string nodeAssembly, IEnumerable<string> arguments, ILogger logger, Action<string>? onLine = null)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        var start = new ProcessStartInfo(NodeExecutable.DotnetHost())
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(nodeAssembly);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return new LocalProcess(name, new Process { StartInfo = start }, logger, onLine);
    }

    /// <summary>Asks the process to stop (closes its standard input); kills its whole tree if it is still there after <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        _stopping = true;
        if (!HasExited)
        {
            try
            {
                _process.StandardInput.Close();
            }
            catch (IOException)
            {
                // Already gone: the pipe broke.
            }

            try
            {
                await _exited.WaitAsync(grace);
            }
            catch (TimeoutException)
            {
                LogKilled(_logger, Name, Id, grace.TotalSeconds);
                Kill();
            }
        }

        await _exited;
    }

    /// <summary>Kills the process tree at once (the manager is going away and cannot wait).</summary>
    public void Kill()
    {
        _stopping = true;
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.FromSeconds(5));
        _process.Dispose();
    }

    private async Task WatchAsync()
    {
        await _process.WaitForExitAsync();
        if (_stopping)
        {
            return;
        }

        // No restart policy: the exit is reported with what the process said last, and the operator decides.
        // Exit code 0 is a clean stop (Ctrl-C in the terminal reaches the children too).
        if (_process.ExitCode == 0)
        {
            LogStopped(_logger, Name, Id);
        }
        else
        {
            LogExited(_logger, Name, Id, _process.ExitCode, string.Join(" | ", RecentOutput.TakeLast(5)));
        }
    }

    private void OnLine(string? line)
    {
        if (string.IsNullOrEmpty(line))
        {
            return;
        }

        lock (_recent)
        {
            _recent.Enqueue(line);
            if (_recent.Count > KeptLines)
            {
                _recent.Dequeue();
            }
        }

        if (_onLine is not null)
        {
            _onLine(line);
        }
        else
        {
            LogLine(_logger, Name, line);
        }
    }

    [LoggerMessage(EventId = 4601, Level = LogLevel.Information, Message = "[{Unit}] {Line}")]
    private static partial void LogLine(ILogger logger, string unit, string line);

    [LoggerMessage(EventId = 4602, Level = LogLevel.Warning, Message = "Local process {Unit} (pid {Pid}) exited with code {ExitCode}; it is not restarted. Last output: {Output}")]
    private static partial void LogExited(ILogger logger, string unit, int pid, int exitCode, string output);

    [LoggerMessage(EventId = 4604, Level = LogLevel.Information, Message = "Local process {Unit} (pid {Pid}) stopped")]
    private static partial void LogStopped(ILogger logger, string unit, int pid);

    [LoggerMessage(EventId = 4603, Level = LogLevel.Warning, Message = "Local process {Unit} (pid {Pid}) did not stop within {Seconds} s; killed its process tree")]
    private static partial void LogKilled(ILogger logger, string unit, int pid, double seconds);
}
