using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Dva.Node.Agent;

namespace Dva.EndToEnd.Tests.Nfv;

/// <summary>
/// The DVA's nodes as real <c>dva-node run</c> processes in namespace D (a dispatcher on AF_PACKET sources over the
/// veth ends, two data planes, tunnels over D's loopback) between a real client and two real nginx backends.
/// Firewall: tcp/8080 accepted, tcp/8081 dropped, tcp/8082 rejected, ICMP accepted, the rest dropped.
/// Load balancer: VIP 192.0.2.100:80 → B1:8080 (weight 3), B2:8080 (weight 1), weighted round robin;
/// VIP 192.0.2.101:80 → B1:8080, B2:8080 draining.
/// </summary>
[Trait("Requires", "root")]
public sealed class NfvTests : IDisposable
{
    private readonly NfvLab _lab = new();
    private readonly List<(string Name, Process Process, string Control)> _nodes = [];

    public NfvTests()
    {
        try
        {
            Start("dp1", DataPlane(1, 16291));
            Start("dp2", DataPlane(2, 16292));
            Start("dispatcher", Dispatcher());
        }
        catch
        {
            _lab.Dispose();
            throw;
        }
    }

    public void Dispose() => _lab.Dispose();

    private const string Table = """
        "table": { "bucketCount": 256, "seed": "0x5eed",
          "dataPlanes": [ { "nodeId": 1, "endpoint": "127.0.0.1:16291" }, { "nodeId": 2, "endpoint": "127.0.0.1:16292" } ],
          "dispatchers": [ { "nodeId": 100, "endpoint": "127.0.0.1:16290" } ] }
        """;

    private static string Dispatcher() => $$"""
        { "role": "dispatcher", "nodeId": 100, "name": "dispatcher", "tunnel": { "listen": "127.0.0.1:16290" },
          "interfaces": [
            { "ifid": 1, "mac": "02:00:00:00:00:01", "addresses": ["192.0.2.1/24", "192.0.2.100/24", "192.0.2.101/24"], "source": "afpacket:nfc-d" },
            { "ifid": 2, "mac": "02:00:00:00:00:02", "addresses": ["198.51.100.1/24"], "source": "afpacket:nfb-d" } ],
          {{Table}} }
        """;

    private static string DataPlane(int id, int port) => $$"""
        { "role": "dataplane", "nodeId": {{id}}, "name": "dp{{id}}", "tunnel": { "listen": "127.0.0.1:{{port}}" },
          "interfaces": [
            { "ifid": 1, "mac": "02:00:00:00:00:01", "addresses": ["192.0.2.1/24", "192.0.2.100/24", "192.0.2.101/24"], "dispatcher": 100 },
            { "ifid": 2, "mac": "02:00:00:00:00:02", "addresses": ["198.51.100.1/24"], "dispatcher": 100 } ],
          "firewall": {
            "defaultAction": "drop", "midStream": "loose",
            "rules": [
              { "id": 10, "priority": 10, "action": "accept", "protocol": "tcp", "destinationPorts": "8080" },
              { "id": 20, "priority": 20, "action": "drop", "protocol": "tcp", "destinationPorts": "8081" },
              { "id": 30, "priority": 30, "action": "reject", "protocol": "tcp", "destinationPorts": "8082" },
              { "id": 40, "priority": 40, "action": "accept", "protocol": "icmp" } ] },
          "loadBalancer": {
            "vips": [
              { "address": "192.0.2.100", "port": 80, "method": "weightedRoundRobin", "members": [
                  { "address": "198.51.100.11", "port": 8080, "weight": 3 }, { "address": "198.51.100.12", "port": 8080, "weight": 1 } ] },
              { "address": "192.0.2.101", "port": 80, "members": [
                  { "address": "198.51.100.11", "port": 8080 }, { "address": "198.51.100.12", "port": 8080, "state": "draining" } ] } ],
            "snat": [ { "ifid": 2, "address": "198.51.100.1" } ] },
          {{Table}} }
        """;

    private void Start(string name, string json)
    {
        var path = Path.Combine(_lab.Directory, $"{name}.json");
        File.WriteAllText(path, json);
        var dll = Path.Combine(AppContext.BaseDirectory, "dva-node.dll");
        var process = _lab.Spawn(_lab.Dva, $"dotnet {dll} run --config {path}");
        var ready = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var output = new System.Text.StringBuilder();
        DataReceivedEventHandler onLine = (_, e) =>
        {
            lock (output)
            {
                output.AppendLine(e.Data);
            }

            if (e.Data?.StartsWith(RunCommand.ReadyPrefix, StringComparison.Ordinal) == true)
            {
                ready.TrySetResult(e.Data);
            }
        };
        process.OutputDataReceived += onLine;
        process.ErrorDataReceived += onLine;
        process.Exited += (_, _) => ready.TrySetException(new InvalidOperationException($"{name} exited: {output}"));
        process.EnableRaisingEvents = true;
        if (process.HasExited)
        {
            ready.TrySetException(new InvalidOperationException($"{name} exited at once: {output}"));
        }

        Assert.True(ready.Task.Wait(TimeSpan.FromSeconds(30)), $"{name} did not report ready: {output}");
        var control = ready.Task.Result.Split(' ').Single(p => p.StartsWith("control=", StringComparison.Ordinal))["control=".Length..];
        _nodes.Add((name, process, control));
    }

    private (int Code, string Output) Curl(string url, int maxSeconds = 5) =>
        NfvLab.Exec(_lab.Client, $"curl -sS --max-time {maxSeconds} {url}", TimeSpan.FromSeconds(maxSeconds + 10));

    /// <summary>Every node's counters, and what the backends see, for a failure message.</summary>
    private string Diagnostics()
    {
        var text = new System.Text.StringBuilder();
        foreach (var (name, _, control) in _nodes)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"--- {name}: {NfvLab.Exec(_lab.Dva, $"curl -sS --max-time 5 http://{control}/counters").Output}");
        }

        text.AppendLine(NfvLab.Exec(_lab.Backend1, "ping -c 1 -W 2 198.51.100.1; ip neigh; ss -ltn").Output);
        return text.ToString();
    }

    private long DataPlaneDrops(string reason)
    {
        long total = 0;
        foreach (var (name, _, control) in _nodes.Where(n => n.Name.StartsWith("dp", StringComparison.Ordinal)))
        {
            var (code, json) = NfvLab.Exec(_lab.Dva, $"curl -sS --max-time 5 http://{control}/counters");
            Assert.True(code == 0, $"{name} control API: {json}");
            using var doc = JsonDocument.Parse(json);
            if (doc.RootElement.GetProperty("drops").TryGetProperty(reason, out var value))
            {
                total += value.GetInt64();
            }
        }

        return total;
    }

    [Fact]
    public void Ping_SharedIp_AnsweredByTheDva()
    {
        var (code, output) = NfvLab.Exec(_lab.Client, "ping -c 3 -i 0.2 -W 3 192.0.2.1");

        Assert.True(code == 0, output);
        Assert.Contains("3 received", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Firewall_AcceptDropReject_CurlSucceedsTimesOutIsRefused()
    {
        var accepted = Curl("http://198.51.100.11:8080/");
        Assert.True(accepted.Code == 0, accepted.Output + Diagnostics());
        Assert.Contains("b1", accepted.Output, StringComparison.Ordinal);

        var dropped = Curl("http://198.51.100.11:8081/", maxSeconds: 3);
        Assert.True(dropped.Code == 28, $"a dropped SYN makes curl time out (exit 28): {dropped.Code} {dropped.Output}");

        var rejected = Curl("http://198.51.100.11:8082/");
        Assert.True(rejected.Code == 7, $"a rejected SYN gets a RST: connection refused (exit 7): {rejected.Code} {rejected.Output}");

        Assert.True(DataPlaneDrops("FirewallDrop") >= 1);
        Assert.True(DataPlaneDrops("FirewallReject") >= 1);
    }

    [Fact]
    public void LoadBalancer_WeightedVip_RequestsSpreadThreeToOne()
    {
        var counts = new Dictionary<string, int> { ["b1"] = 0, ["b2"] = 0 };
        for (var i = 0; i < 40; i++)
        {
            var (code, output) = Curl("http://192.0.2.100/");
            Assert.True(code == 0, $"request {i}: {output}");
            counts[output.Trim()]++;
        }

        // Each data plane runs its own smooth weighted round robin: 3:1 on each, so 3:1 within a few overall.
        Assert.True(counts["b2"] >= 5 && counts["b1"] >= 2 * counts["b2"], string.Create(CultureInfo.InvariantCulture, $"b1={counts["b1"]} b2={counts["b2"]}"));
    }

    [Fact]
    public void LoadBalancer_DrainingMember_GetsNoNewConnection()
    {
        for (var i = 0; i < 16; i++)
        {
            var (code, output) = Curl("http://192.0.2.101/");
            Assert.True(code == 0, $"request {i}: {output}");
            Assert.Equal("b1", output.Trim());
        }
    }
}
