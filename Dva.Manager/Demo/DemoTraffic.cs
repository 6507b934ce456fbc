using System.Text.Json;

namespace Dva.Manager.Demo;

/// <summary>The demo traffic generator's latest figures (cumulative since it started).</summary>
/// <param name="Updated">When the generator printed them.</param>
/// <param name="Running">False once the generator process has exited.</param>
internal sealed record DemoTrafficSnapshot(long Opened, long Completed, long Broken, long Retransmits, DateTimeOffset Updated, bool Running, int ProcessId);

/// <summary>
/// What the demo's traffic generator reports: it prints a JSON line every second (<c>--progress-seconds 1</c>) and a
/// final result; the latest is kept here for the dashboard and <c>GET /api/v1/demo</c>. Readers take
/// <see cref="Latest"/> (null until the first line) or subscribe to <see cref="Changed"/>.
/// </summary>
internal sealed class DemoTraffic(TimeProvider time)
{
    private volatile DemoTrafficSnapshot? _latest;

    public DemoTrafficSnapshot? Latest => _latest;

    /// <summary>Raised on the generator's output thread after each update; handlers must be quick and not throw.</summary>
    public event Action<DemoTrafficSnapshot>? Changed;

    /// <summary>Reads one line of the generator's output; lines that are not its JSON figures are ignored.</summary>
    public bool TryReport(string line, int processId)
    {
        if (!line.StartsWith('{'))
        {
            return false;
        }

        try
        {
            using var json = JsonDocument.Parse(line);
            var root = json.RootElement;
            if (!root.TryGetProperty("opened", out var opened) || !root.TryGetProperty("completed", out var completed)
                || !root.TryGetProperty("broken", out var broken))
            {
                return false;
            }

            var final = !root.TryGetProperty("progress", out _);
            var retransmits = root.TryGetProperty("retransmits", out var r) ? r.GetInt64() : 0;
            Publish(new DemoTrafficSnapshot(opened.GetInt64(), completed.GetInt64(), broken.GetInt64(), retransmits, time.GetUtcNow(), !final, processId));
            return true;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            return false;
        }
    }

    /// <summary>The generator exited: the last figures stay, marked as no longer running.</summary>
    public void Exited(int processId)
    {
        if (_latest is { } last && last.ProcessId == processId && last.Running)
        {
            Publish(last with { Running = false });
        }
    }

    private void Publish(DemoTrafficSnapshot snapshot)
    {
        _latest = snapshot;
        Changed?.Invoke(snapshot);
    }
}
