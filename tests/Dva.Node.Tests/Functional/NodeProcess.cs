using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Dva.Node.Agent;

namespace Dva.Node.Tests.Functional;

/// <summary>
/// One <c>dva-node run</c> process (the dva-node.dll built next to the test assembly) with its config in a
/// temporary directory. Waits for the node's ready line; <see cref="Dispose"/> kills it whatever happened.
/// </summary>
internal sealed class NodeProcess : IDisposable
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource<string> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private NodeProcess(string name, string configPath)
    {
        Name = name;
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "dva-node.dll"));
        start.ArgumentList.Add("run");
        start.ArgumentList.Add("--config");
        start.ArgumentList.Add(configPath);
        _process = new Process { StartInfo = start, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) => OnLine(e.Data);
        _process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        _process.Exited += (_, _) => _ready.TrySetException(new InvalidOperationException($"{Name} exited before it was ready:\n{Output}"));
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        Http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
    }

    public string Name { get; }

    public IPEndPoint Control { get; private set; } = new(IPAddress.None, 0);

    public HttpClient Http { get; }

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

    public static async Task<NodeProcess> StartAsync(string name, string directory, string configJson)
    {
        var path = Path.Combine(directory, $"{name}.json");
        await File.WriteAllTextAsync(path, configJson);
        var node = new NodeProcess(name, path);
        try
        {
            var line = await node._ready.Task.WaitAsync(StartTimeout);
            var control = line.Split(' ').Single(p => p.StartsWith("control=", StringComparison.Ordinal))["control=".Length..];
            node.Control = IPEndPoint.Parse(control);
            node.Http.BaseAddress = new Uri($"http://{node.Control}/");
            return node;
        }
        catch
        {
            node.Dispose();
            throw;
        }
    }

    public async Task<JsonElement> GetJsonAsync(string path) =>
        await Http.GetFromJsonAsync<JsonElement>(new Uri(path, UriKind.Relative));

    public async Task<HttpResponseMessage> PutTableAsync(byte[] encoded)
    {
        using var content = new ByteArrayContent(encoded);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/octet-stream");
        return await Http.PutAsync(new Uri("table", UriKind.Relative), content);
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
            // Never started or already gone.
        }

        _process.Dispose();
        Http.Dispose();
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }

        if (line.StartsWith(RunCommand.ReadyPrefix, StringComparison.Ordinal))
        {
            _ready.TrySetResult(line);
        }
    }
}
