using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace Dva.EndToEnd.Tests.Demo;

/// <summary>
/// The real manager as <c>dotnet Dva.Manager.dll</c> (built next to the test assembly, with dva-node.dll beside it)
/// on a free loopback port and a temporary database. <see cref="Dispose"/> kills it and every child it reported,
/// whatever happened, and deletes the directory.
/// </summary>
internal sealed partial class ManagerProcess : IDisposable
{
    /// <summary>Tests that start managers run one at a time: each brings up several processes on a small machine.</summary>
    public const string Collection = "Manager processes";

    public const string AdminKey = "e2e-admin-key-0123456789abcdef0123456789";

    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly HashSet<int> _children = [];
    private readonly string _directory;
    private readonly bool _ownsDirectory;

    public ManagerProcess(params string[] settings)
        : this(new ManagerProcessOptions(), settings)
    {
    }

    /// <summary>A manager on <paramref name="address"/> (a restarted one keeps its predecessor's, so agents find it again).</summary>
    public ManagerProcess(Uri? address, params string[] settings)
        : this(address is null ? new ManagerProcessOptions() : new ManagerProcessOptions { Listen = IPAddress.Parse(address.Host), Port = address.Port }, settings)
    {
    }

    /// <summary>With <paramref name="options"/>: where to listen, and a database directory that outlives this process (a restart).</summary>
    public ManagerProcess(ManagerProcessOptions options, params string[] settings)
    {
        ArgumentNullException.ThrowIfNull(options);
        _ownsDirectory = options.Directory is null;
        _directory = options.Directory ?? Directory.CreateTempSubdirectory("dva-demo-").FullName;
        var port = options.Port == 0 ? FreeTcpPort() : options.Port;
        BaseAddress = new Uri($"http://{options.Listen}:{port}/");
        // Through env --default-signal=INT: a test run started as a background job of a shell without job control (nohup
        // ./test.sh &) has SIGINT ignored, every child inherits that across exec, and .NET leaves an inherited ignored
        // SIGINT alone, so Interrupt would do nothing. env execs dotnet in its own process: the pid stays the manager's.
        var start = new ProcessStartInfo("env")
        {
            WorkingDirectory = AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment.Remove("DOTNET_ENVIRONMENT");
        foreach (var argument in (string[])[
            "--default-signal=INT",
            "dotnet",
            Path.Combine(AppContext.BaseDirectory, "Dva.Manager.dll"),
            "--urls", BaseAddress.ToString().TrimEnd('/'),
            $"--Dva:Database={Path.Combine(_directory, "dva.db")}",
            $"--Dva:AdminKey={AdminKey}",
            .. settings])
        {
            start.ArgumentList.Add(argument);
        }

        _process = new Process { StartInfo = start };
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        Http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(10) };
        Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
    }

    public Uri BaseAddress { get; }

    public HttpClient Http { get; }

    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>GET as JSON; null while the manager does not answer yet (or answers an error).</summary>
    public async Task<JsonElement?> TryGetAsync(string path)
    {
        try
        {
            using var response = await Http.GetAsync(new Uri(path, UriKind.Relative));
            return response.IsSuccessStatusCode ? await response.Content.ReadFromJsonAsync<JsonElement>() : null;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }

    /// <summary>Polls <paramref name="probe"/> until it returns a value, failing with the manager's output after <paramref name="timeout"/>.</summary>
    public async Task<T> WaitForAsync<T>(string what, TimeSpan timeout, Func<Task<T?>> probe)
        where T : class
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            if (_process.HasExited)
            {
                Assert.Fail($"The manager exited (code {_process.ExitCode}) while waiting for {what}:\n{Tail()}");
            }

            if (await probe() is { } value)
            {
                return value;
            }

            await Task.Delay(250);
        }

        Assert.Fail($"Timed out after {timeout.TotalSeconds} s waiting for {what}:\n{Tail()}");
        return null!;
    }

    /// <summary>Remembers child pids so that <see cref="Dispose"/> can kill them even if the manager failed to.</summary>
    public void Track(IEnumerable<int> pids)
    {
        lock (_children)
        {
            _children.UnionWith(pids);
        }
    }

    /// <summary>Ctrl-C, as an operator would press it.</summary>
    public void Interrupt() => Assert.Equal(0, Kill(_process.Id, SigInt));

    /// <summary>
    /// SIGTERM, as systemd or a container runtime stops a service. Unlike SIGINT it is never ignored from birth: a shell
    /// without job control starts background commands with SIGINT ignored, and .NET keeps it so, so a test run started
    /// that way could not stop its manager with Ctrl-C's signal.
    /// </summary>
    public void Terminate() => Assert.Equal(0, Kill(_process.Id, SigTerm));

    /// <summary>SIGKILL: the manager cannot clean up; its children must notice by themselves.</summary>
    public void KillHard() => _process.Kill(entireProcessTree: false);

    /// <summary>Waits for the manager to exit; a timeout says what the manager wrote, the last lines being its shutdown.</summary>
    public async Task WaitForExitAsync(TimeSpan timeout)
    {
        try
        {
            await _process.WaitForExitAsync().WaitAsync(timeout);
        }
        catch (TimeoutException e)
        {
            var output = Output;
            throw new TimeoutException($"the manager did not exit within {timeout.TotalSeconds} s; its output:\n{output[Math.Max(0, output.Length - 12000)..]}", e);
        }
    }

    public static bool IsRunning(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    public string Tail() => string.Join('\n', Output.Split('\n').TakeLast(60));

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }

        lock (_children)
        {
            foreach (var pid in _children.Where(IsRunning))
            {
                try
                {
                    using var child = Process.GetProcessById(pid);
                    child.Kill(entireProcessTree: true);
                }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException)
                {
                    // Exited meanwhile.
                }
            }
        }

        _process.Dispose();
        Http.Dispose();
        if (!_ownsDirectory)
        {
            return;
        }

        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A child still closing the database; the temp directory is cleaned by the system.
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    public static int FreeTcpPort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    private const int SigInt = 2;
    private const int SigTerm = 15;

    [CollectionDefinition(Collection, DisableParallelization = true)]
    public sealed class SequentialCollection;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}

/// <summary>Where a <see cref="ManagerProcess"/> listens and keeps its database; the defaults suit one test on loopback.</summary>
internal sealed record ManagerProcessOptions
{
    public IPAddress Listen { get; init; } = IPAddress.Loopback;

    /// <summary>0: a free port.</summary>
    public int Port { get; init; }

    /// <summary>The directory of the database; null: a fresh temporary one, deleted on dispose. Given: kept.</summary>
    public string? Directory { get; init; }
}
