using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Dva.Node.Agent;
using Dva.Node.Config;
using Dva.Shared.Tables;

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

    private static string DataPlane(int id, int port, bool inTable = true) => $$"""
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
              { "id": 40, "priority": 40, "action": "accept", "protocol": "icmp" },
              { "id": 50, "priority": 50, "action": "accept", "protocol": "tcp", "destinationPorts": "5201" } ] },
          "loadBalancer": {
            "vips": [
              { "address": "192.0.2.100", "port": 80, "method": "weightedRoundRobin", "members": [
                  { "address": "198.51.100.11", "port": 8080, "weight": 3 }, { "address": "198.51.100.12", "port": 8080, "weight": 1 } ] },
              { "address": "192.0.2.101", "port": 80, "members": [
                  { "address": "198.51.100.11", "port": 8080 }, { "address": "198.51.100.12", "port": 8080, "state": "draining" } ] } ],
            "snat": [ { "ifid": 2, "address": "198.51.100.1" } ] }
          {{(inTable ? ", " + Table : "")}} }
        """;

    private void Start(string name, string json)
    {
        var path = Path.Combine(_lab.Directory, $"{name}.json");
        File.WriteAllText(path, json);
        var dll = Path.Combine(AppContext.BaseDirectory, "dva-node.dll");
        var process = _lab.Spawn(_lab.Dva, $"dotnet {dll} run --config {path}");
        var ready = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var output = new System.Text.StringBuilder();

        // The output handlers append on a thread-pool thread while Exited or the assertion reads: read under the same lock.
        string Output()
        {
            lock (output)
            {
                return output.ToString();
            }
        }

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
        process.Exited += (_, _) => ready.TrySetException(new InvalidOperationException($"{name} exited: {Output()}"));
        process.EnableRaisingEvents = true;
        if (process.HasExited)
        {
            ready.TrySetException(new InvalidOperationException($"{name} exited at once: {Output()}"));
        }

        Assert.True(ready.Task.Wait(TimeSpan.FromSeconds(30)), $"{name} did not report ready: {Output()}");
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

    [Fact]
    public async Task Iperf3_LongTransferWhileADataPlaneJoinsAndAnotherDrains_CompletesWithoutError()
    {
        Start("dp3", DataPlane(3, 16293, inTable: false));
        _lab.Spawn(_lab.Backend1, "iperf3 -s -B 198.51.100.11 -p 5201 -1");
        var listening = false;
        for (var i = 0; i < 50 && !listening; i++)
        {
            listening = NfvLab.Exec(_lab.Backend1, "ss -ltn | grep -q 198.51.100.11:5201").Code == 0;
            if (!listening)
            {
                NfvLab.Exec(_lab.Backend1, "sleep 0.1");
            }
        }

        Assert.True(listening, "iperf3 server did not listen");
        Assert.True(NodeSettings.TryParse(Dispatcher(), out var settings, out var errors), string.Join("; ", errors));
        var v1 = NodeHost.StaticTable(settings!)!;

        // The data stream's client port is chosen so its bucket starts on dp2, which drains: the flow must move.
        var client = Dva.Shared.Packets.IpAddr.From(System.Net.IPAddress.Parse("192.0.2.10"));
        var server = Dva.Shared.Packets.IpAddr.From(System.Net.IPAddress.Parse("198.51.100.11"));
        var port = (ushort)Enumerable.Range(40000, 1000).First(p =>
            v1.OwnerOf(Dva.Shared.Flows.FlowHasher.Bucket(Dva.Shared.Flows.FlowKey.FromTuple(client, server, (ushort)p, 5201, 6), v1.Seed, v1.BucketCount)) == 2);
        // 12 s at 50 Mbit/s: long enough that both rollouts land mid-transfer on a loaded 2-core machine. The rollouts
        // are paced by what the data planes see, not by fixed sleeps (CI once finished an 8 s transfer before v3).
        var clock = Stopwatch.StartNew();
        var transfer = NfvLab.ExecAsync(_lab.Client, $"iperf3 -c 198.51.100.11 -p 5201 --cport {port} -t 12 -b 50M --connect-timeout 3000", TimeSpan.FromSeconds(45));
        var started = WaitFor(() => TunnelCounter("dp2", "DispatchReceived") > 200 || transfer.IsCompleted, TimeSpan.FromSeconds(15));
        Assert.True(started && !transfer.IsCompleted, $"the transfer did not reach dp2 ({clock.Elapsed}): {Diagnostics()}");

        // Era rollouts as the manager does them (DESIGN.md §5): data planes first, then the dispatcher.
        var v2 = v1.Next(Peers((1, 1), (2, 1), (3, 1)), DateTimeOffset.UtcNow, "dp3 joins", out int _);
        RollOut(v2);
        await Task.Delay(TimeSpan.FromSeconds(1));
        var v3 = v2.Next(Peers((1, 1), (2, 0), (3, 1)), DateTimeOffset.UtcNow, "dp2 drains", out int _);
        RollOut(v3);
        var switchedAt = clock.Elapsed;
        Assert.False(transfer.IsCompleted, $"the transfer ended before v3 reached the dispatcher ({switchedAt}); nothing was left to move");

        // The new owner punts the stream's packets to dp2, which still holds the flow.
        var punted = WaitFor(() => TunnelCounter("dp2", "PuntReceived") > 0 || transfer.IsCompleted, TimeSpan.FromSeconds(10))
            && TunnelCounter("dp2", "PuntReceived") > 0;

        var (code, output) = await transfer;
        Assert.True(code == 0, $"iperf3 failed ({code}): {output}{Diagnostics()}");
        Assert.Contains("receiver", output, StringComparison.Ordinal);
        Assert.DoesNotContain("error", output, StringComparison.OrdinalIgnoreCase);

        // The drained data plane kept the flow: the new owner punted its packets there.
        Assert.True(punted, $"no punt reached dp2 after v3 ({switchedAt} into the transfer): {Diagnostics()}");
    }

    /// <summary>One of a node's tunnel counters (<c>GET /counters</c>).</summary>
    private long TunnelCounter(string node, string name)
    {
        var control = _nodes.Single(n => n.Name == node).Control;
        var (code, json) = NfvLab.Exec(_lab.Dva, $"curl -sS --max-time 5 http://{control}/counters");
        Assert.True(code == 0, $"{node} control API: {json}");
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.GetProperty("tunnel").GetProperty(name).GetInt64();
    }

    private static bool WaitFor(Func<bool> condition, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > timeout)
            {
                return false;
            }

            Thread.Sleep(100);
        }

        return true;
    }

    /// <summary>One firewall rule's counters summed over the data planes' <c>GET /rules</c>.</summary>
    private (long Evaluations, long Flows, long Packets, long Bytes) RuleCounters(long ruleId)
    {
        (long, long, long, long) sum = default;
        foreach (var (name, _, control) in _nodes.Where(n => n.Name.StartsWith("dp", StringComparison.Ordinal)))
        {
            var (code, json) = NfvLab.Exec(_lab.Dva, $"curl -sS --max-time 5 http://{control}/rules");
            Assert.True(code == 0, $"{name} GET /rules: {json}");
            using var doc = JsonDocument.Parse(json);
            foreach (var rule in doc.RootElement.EnumerateArray().Where(r => r.GetProperty("ruleId").GetInt64() == ruleId))
            {
                sum = (sum.Item1 + rule.GetProperty("evaluations").GetInt64(), sum.Item2 + rule.GetProperty("flows").GetInt64(),
                    sum.Item3 + rule.GetProperty("packets").GetInt64(), sum.Item4 + rule.GetProperty("bytes").GetInt64());
            }
        }

        return sum;
    }

    /// <summary>TCP segments and IP octets, both directions, of a namespace's own stack (its /proc/net/snmp and netstat).</summary>
    private static (long Segments, long Octets) IpCounters(string ns)
    {
        var (code, output) = NfvLab.Exec(ns, "cat /proc/net/snmp /proc/net/netstat");
        Assert.True(code == 0, output);
        long Field(string prefix, string name)
        {
            var lines = output.Split('\n').Where(l => l.StartsWith(prefix + ":", StringComparison.Ordinal)).ToArray();
            var names = lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var values = lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return long.Parse(values[Array.IndexOf(names, name)], CultureInfo.InvariantCulture);
        }

        return (Field("Tcp", "InSegs") + Field("Tcp", "OutSegs"), Field("IpExt", "InOctets") + Field("IpExt", "OutOctets"));
    }

    [Fact]
    public void Firewall_RuleCounters_MatchWhatTheBackendSawOfCurlsConnection()
    {
        // A first request warms the neighbour caches; then wait until it is counted everywhere, so the measured
        // connection is the only traffic in B1's namespace between the two readings.
        if (Curl("http://198.51.100.11:8080/").Code != 0)
        {
            Assert.Fail(Diagnostics());
        }

        var rule = RuleCounters(10);
        var backend = IpCounters(_lab.Backend1);
        for (var i = 0; i < 100; i++)
        {
            NfvLab.Exec(_lab.Client, "sleep 0.2");
            var (r, b) = (RuleCounters(10), IpCounters(_lab.Backend1));
            if (r == rule && b == backend)
            {
                break;
            }

            (rule, backend) = (r, b);
        }

        // Diagnostics() pings from B1, so it is called only on failure, not as an eagerly built message.
        var (code, output) = Curl("http://198.51.100.11:8080/");
        if (code != 0)
        {
            Assert.Fail(output + Diagnostics());
        }

        // The connection's last ACK may still be on its way: wait until the data planes counted what B1 saw.
        var after = RuleCounters(10);
        var seen = IpCounters(_lab.Backend1);
        for (var i = 0; i < 300 && after.Packets - rule.Packets != seen.Segments - backend.Segments; i++)
        {
            NfvLab.Exec(_lab.Client, "sleep 0.1");
            after = RuleCounters(10);
            seen = IpCounters(_lab.Backend1);
        }

        Assert.Equal(1, after.Evaluations - rule.Evaluations);
        Assert.Equal(1, after.Flows - rule.Flows);
        Assert.Equal(seen.Segments - backend.Segments, after.Packets - rule.Packets);
        Assert.Equal(seen.Octets - backend.Octets, after.Bytes - rule.Bytes);
        Assert.InRange(after.Packets - rule.Packets, 6, 30);
    }

    [Fact]
    public async Task LoadBalancer_MemberSetDrainingAtRunTime_ItsLongTransferCompletesNewConnectionsGoToTheOther()
    {
        // VIP .101 sends everything to B1 (B2 drains): the download lands on B1, at a rate that makes it last ~16 s.
        var download = NfvLab.ExecAsync(_lab.Client,
            "curl -sS --max-time 60 --limit-rate 4M -o /dev/null -w '%{http_code} %{size_download}' http://192.0.2.101/big",
            TimeSpan.FromSeconds(75));
        var started = false;
        for (var i = 0; i < 300 && !started; i++)
        {
            started = MemberCounters("192.0.2.101:80/tcp", "198.51.100.11:8080").ActiveFlows == 1;
            if (!started)
            {
                NfvLab.Exec(_lab.Client, "sleep 0.1");
            }
        }

        Assert.True(started, "the download did not start on B1: " + Diagnostics());

        // The operator flips the pool: B1 draining, B2 enabled, on every data plane through PUT /services.
        var body = Path.Combine(_lab.Directory, "services.json");
        File.WriteAllText(body, """
            { "loadBalancer": { "vips": [ { "address": "192.0.2.101", "port": 80, "members": [
                { "address": "198.51.100.11", "port": 8080, "state": "draining" }, { "address": "198.51.100.12", "port": 8080 } ] } ],
              "snat": [ { "ifid": 2, "address": "198.51.100.1" } ] } }
            """);
        foreach (var (name, _, control) in _nodes.Where(n => n.Name.StartsWith("dp", StringComparison.Ordinal)))
        {
            var (code, output) = NfvLab.Exec(_lab.Dva,
                $"curl -sS --fail-with-body --max-time 5 -X PUT -H 'Content-Type: application/json' --data-binary @{body} http://{control}/services");
            Assert.True(code == 0, $"{name} refused the services: {output}");
        }

        for (var i = 0; i < 8; i++)
        {
            var (code, output) = Curl("http://192.0.2.101/");
            Assert.True(code == 0, $"request {i}: {output}");
            Assert.Equal("b2", output.Trim());
        }

        if (download.IsCompleted)
        {
            Assert.Fail($"the download ended before the pool changed under it, which proves nothing: {(await download).Output}");
        }

        Assert.Equal(1, MemberCounters("192.0.2.101:80/tcp", "198.51.100.11:8080").ActiveFlows);
        var (downloadCode, result) = await download;
        Assert.True(downloadCode == 0, $"the download from the draining member failed ({downloadCode}): {result}{Diagnostics()}");
        Assert.Equal($"200 {64 << 20}", result.Trim());
        var b1 = MemberCounters("192.0.2.101:80/tcp", "198.51.100.11:8080");
        var b2 = MemberCounters("192.0.2.101:80/tcp", "198.51.100.12:8080");
        Assert.Equal(1, b1.TotalConnections);
        Assert.Equal(8, b2.TotalConnections);
        Assert.True(b1.Bytes > 64 << 20, $"B1's bytes count the download: {b1.Bytes}");
    }

    /// <summary>A member's counters under a VIP, summed over the data planes' <c>GET /loadbalancer</c>.</summary>
    private (long ActiveFlows, long TotalConnections, long Bytes) MemberCounters(string vip, string member)
    {
        (long, long, long) sum = default;
        foreach (var (name, _, control) in _nodes.Where(n => n.Name.StartsWith("dp", StringComparison.Ordinal)))
        {
            var (code, json) = NfvLab.Exec(_lab.Dva, $"curl -sS --max-time 5 http://{control}/loadbalancer");
            Assert.True(code == 0, $"{name} GET /loadbalancer: {json}");
            using var doc = JsonDocument.Parse(json);
            foreach (var m in doc.RootElement.EnumerateArray().Where(v => v.GetProperty("address").GetString() == vip)
                .SelectMany(v => v.GetProperty("members").EnumerateArray()).Where(m => m.GetProperty("address").GetString() == member))
            {
                sum = (sum.Item1 + m.GetProperty("activeFlows").GetInt64(), sum.Item2 + m.GetProperty("totalConnections").GetInt64(),
                    sum.Item3 + m.GetProperty("bytes").GetInt64());
            }
        }

        return sum;
    }

    private static PeerInfo[] Peers(params (ushort Node, int Weight)[] dataPlanes) =>
    [
        .. dataPlanes.Select(d => new PeerInfo(d.Node, PeerRole.DataPlane, new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 16290 + d.Node), d.Weight)),
        new PeerInfo(100, PeerRole.Dispatcher, new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 16290)),
    ];

    private void RollOut(TableVersion table)
    {
        var path = Path.Combine(_lab.Directory, $"table-{table.Version}.bin");
        File.WriteAllBytes(path, TableCodec.Encode(table));
        foreach (var (name, _, control) in _nodes.Where(n => n.Name != "dispatcher").Concat(_nodes.Where(n => n.Name == "dispatcher")))
        {
            var (code, output) = NfvLab.Exec(_lab.Dva,
                $"curl -sS --fail-with-body --max-time 5 -X PUT -H 'Content-Type: application/octet-stream' --data-binary @{path} http://{control}/table");
            Assert.True(code == 0, $"{name} refused v{table.Version}: {output}");
        }
    }
}
