using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Dva.Node.Agent;

namespace Dva.EndToEnd.Tests.Nfv;

/// <summary>
/// GSO/GRO super-frames end to end (issue 9): hosts with their default offloads (TSO on, checksums left to the device)
/// around a DVA whose dispatcher reads and writes <c>afpacket:IF?gso=1</c> sources, with <c>"superFrames": true</c> on
/// every node. A download from nginx arrives byte-exact, and the dispatcher's counters show that super-frames (frames
/// longer than the 1514-byte MTU) went through the DVA whole and were handed back to the kernel to segment. With a
/// tunnel MTU of 40 000 the dispatcher must split the larger ones in two on the way in, and the download is still exact.
/// With <c>parkPayloads</c> the payloads wait at the dispatcher and only headers reach the data planes: the download is
/// still exact, and the data planes receive a small fraction of its bytes; also with the dispatcher on two engines, where
/// headers parked by one engine come back to the other.
/// </summary>
[Trait("Requires", "root")]
public sealed class SuperFrameTests : IDisposable
{
    private const string Table = """
        "table": { "bucketCount": 256, "seed": "0x5eed",
          "dataPlanes": [ { "nodeId": 1, "endpoint": "127.0.0.1:16391" }, { "nodeId": 2, "endpoint": "127.0.0.1:16392" } ],
          "dispatchers": [ { "nodeId": 100, "endpoint": "127.0.0.1:16390" } ] }
        """;

    private readonly NfvLab _lab = new(defaultOffloads: true);
    private readonly List<(string Name, string Control)> _nodes = [];

    public void Dispose() => _lab.Dispose();

    [Theory]
    [InlineData(0, false, 1, 0)]
    [InlineData(40000, false, 1, 0)]
    [InlineData(0, false, 1, 1500)]
    [InlineData(0, true, 1, 0)]
    [InlineData(0, true, 2, 0)]
    public void Download_HostsWithTso_ByteExactAndSuperFramesCarriedWhole(int tunnelMtu, bool parkPayloads, int dispatcherEngines, int fabricMtu)
    {
        // A 1 500-byte fabric (the DVA namespace's loopback): each 64 KiB tunnel datagram leaves as IPv4 fragments (the
        // flow-port sender fragments to the route's MTU) and the receiving node's kernel reassembles it.
        if (fabricMtu != 0)
        {
            Assert.Equal(0, NfvLab.Exec(_lab.Dva, $"ip link set lo mtu {fabricMtu}").Code);
        }

        var reassembledBefore = Reassembled();
        var content = new byte[6 << 20];
        new Random(9).NextBytes(content);
        File.WriteAllBytes(Path.Combine(_lab.Directory, "b1", "random.bin"), content);
        Start("dp1", DataPlane(1, tunnelMtu));
        Start("dp2", DataPlane(2, tunnelMtu));
        Start("dispatcher", $$"""
            { "superFrames": true, "parkPayloads": {{(parkPayloads ? "true" : "false")}}, "engines": {{dispatcherEngines}}, "role": "dispatcher", "nodeId": 100, "name": "dispatcher", "tunnel": { "listen": "127.0.0.1:16390", "mtu": {{tunnelMtu}} },
              "interfaces": [
                { "ifid": 1, "mac": "02:00:00:00:00:01", "addresses": ["192.0.2.1/24"], "source": "afpacket:nfc-d?gso=1" },
                { "ifid": 2, "mac": "02:00:00:00:00:02", "addresses": ["198.51.100.1/24"], "source": "afpacket:nfb-d?gso=1" } ],
              {{Table}} }
            """);
        var (pingCode, ping) = NfvLab.Exec(_lab.Client, "ping -c 1 -W 5 198.51.100.11", TimeSpan.FromSeconds(15));
        Assert.True(pingCode == 0, $"no path through the DVA: {ping}\n{Diagnostics()}");

        var (code, output) = NfvLab.Exec(_lab.Client, "curl -sS --max-time 30 http://198.51.100.11:8080/random.bin | sha256sum", TimeSpan.FromSeconds(40));

        var expected = Convert.ToHexString(SHA256.HashData(content)).ToLowerInvariant();
        Assert.True(code == 0 && output.StartsWith(expected, StringComparison.Ordinal), $"sha256 {output.Trim()} (expected {expected})\n{Diagnostics()}");
        using var counters = JsonDocument.Parse(Counters("dispatcher"));
        var tunnel = counters.RootElement.GetProperty("tunnel");
        Assert.True(tunnel.GetProperty("SuperFrameDispatched").GetInt64() > 0, $"no super-frame entered the DVA\n{Diagnostics()}");
        Assert.True(tunnel.GetProperty("SuperFrameTransmitted").GetInt64() > 0, $"no super-frame left the DVA\n{Diagnostics()}");
        var split = tunnel.GetProperty("SuperFrameSplit").GetInt64();
        Assert.True(tunnelMtu == 0 ? split == 0 : split > 0, $"{split} super-frames split with tunnel MTU {tunnelMtu}\n{Diagnostics()}");
        // One source per engine on each interface.
        var backendSide = counters.RootElement.GetProperty("ports").EnumerateArray().Where(p => p.GetProperty("name").GetString() == "afpacket:nfb-d?gso=1").ToList();
        Assert.Equal(dispatcherEngines, backendSide.Count);
        var meanFrame = backendSide.Sum(p => p.GetProperty("receivedBytes").GetInt64()) / Math.Max(1, backendSide.Sum(p => p.GetProperty("receivedPackets").GetInt64()));
        Assert.True(meanFrame > 1514, $"frames from the backend averaged {meanFrame} bytes: no larger than the MTU\n{Diagnostics()}");
        var drops = counters.RootElement.GetProperty("drops");
        foreach (var reason in new[] { "OffloadMismatch", "SuperFrameTooLarge", "SuperFrameNeedsGsoSource", "WireBadOffload", "ParkedPayloadGone", "WireBadPark" })
        {
            Assert.False(drops.TryGetProperty(reason, out _), $"the dispatcher dropped frames as {reason}\n{Diagnostics()}");
        }

        var reassembled = Reassembled() - reassembledBefore;
        Assert.True(fabricMtu == 0 ? reassembled == 0 : reassembled > 0, $"{reassembled} datagrams reassembled over a {fabricMtu}-byte fabric\n{Diagnostics()}");
        var parked = tunnel.GetProperty("PayloadParked").GetInt64();
        var joined = tunnel.GetProperty("PayloadJoined").GetInt64();
        var dataPlaneBytes = 0L;
        foreach (var dp in new[] { "dp1", "dp2" })
        {
            using var dpCounters = JsonDocument.Parse(Counters(dp));
            dataPlaneBytes += dpCounters.RootElement.GetProperty("bytesIn").GetInt64();
            Assert.False(dpCounters.RootElement.GetProperty("drops").TryGetProperty("ParkedPayloadElsewhere", out _), $"{dp} dropped parked packets\n{Diagnostics()}");
        }

        if (parkPayloads)
        {
            Assert.True(parked > 0 && joined == parked, $"{parked} payloads parked, {joined} joined\n{Diagnostics()}");
            Assert.True(dataPlaneBytes < content.Length / 4, $"the data planes received {dataPlaneBytes} bytes of a {content.Length}-byte download\n{Diagnostics()}");
        }
        else
        {
            Assert.Equal(0, parked);
            Assert.True(dataPlaneBytes > content.Length, $"the data planes received {dataPlaneBytes} bytes of a {content.Length}-byte download\n{Diagnostics()}");
        }
    }

    private static string DataPlane(int id, int tunnelMtu) => $$"""
        { "superFrames": true, "role": "dataplane", "nodeId": {{id}}, "name": "dp{{id}}", "tunnel": { "listen": "127.0.0.1:1639{{id}}", "mtu": {{tunnelMtu}} },
          "interfaces": [
            { "ifid": 1, "mac": "02:00:00:00:00:01", "addresses": ["192.0.2.1/24"], "dispatcher": 100 },
            { "ifid": 2, "mac": "02:00:00:00:00:02", "addresses": ["198.51.100.1/24"], "dispatcher": 100 } ],
          "firewall": { "defaultAction": "drop", "midStream": "strict", "rules": [
              { "id": 10, "priority": 10, "action": "accept", "protocol": "tcp", "destinationPorts": "8080" },
              { "id": 20, "priority": 20, "action": "accept", "protocol": "icmp" } ] },
          {{Table}} }
        """;

    private void Start(string name, string json)
    {
        var path = Path.Combine(_lab.Directory, $"{name}.json");
        File.WriteAllText(path, json);
        var dll = Path.Combine(AppContext.BaseDirectory, "dva-node.dll");
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

        var process = _lab.Spawn(_lab.Dva, $"dotnet {dll} run --config {path}", line =>
        {
            lock (output)
            {
                output.AppendLine(line);
            }

            if (line.StartsWith(RunCommand.ReadyPrefix, StringComparison.Ordinal))
            {
                ready.TrySetResult(line);
            }
        });
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) => ready.TrySetException(new InvalidOperationException($"{name} exited: {Output()}"));
        Assert.True(ready.Task.Wait(TimeSpan.FromSeconds(30)), $"{name} did not report ready: {Output()}");
        var control = ready.Task.Result.Split(' ').Single(p => p.StartsWith("control=", StringComparison.Ordinal))["control=".Length..];
        _nodes.Add((name, control));
    }

    /// <summary>IPv4 datagrams the DVA namespace's kernel reassembled from fragments (/proc/net/snmp ReasmOKs).</summary>
    private long Reassembled()
    {
        var (code, output) = NfvLab.Exec(_lab.Dva, "cat /proc/net/snmp");
        Assert.True(code == 0, output);
        var lines = output.Split('\n').Where(l => l.StartsWith("Ip: ", StringComparison.Ordinal)).Select(l => l.Split(' ')).ToArray();
        return long.Parse(lines[1][Array.IndexOf(lines[0], "ReasmOKs")], CultureInfo.InvariantCulture);
    }

    private string Counters(string node)
    {
        var control = _nodes.Single(n => n.Name == node).Control;
        var (code, json) = NfvLab.Exec(_lab.Dva, $"curl -sS --max-time 5 http://{control}/counters");
        Assert.True(code == 0, $"{node} control API: {json}");
        return json;
    }

    private string Diagnostics()
    {
        var text = new System.Text.StringBuilder();
        foreach (var (name, control) in _nodes)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"--- {name}: {NfvLab.Exec(_lab.Dva, $"curl -sS --max-time 5 http://{control}/counters").Output}");
        }

        return text.ToString();
    }
}
