using System.Net;
using System.Text.Json;
using Dva.Node.Traffic;
using Dva.Shared.Tables;

namespace Dva.Node.Tests.Functional;

/// <summary>
/// The whole node data path with real processes: a dispatcher and data planes on loopback, the traffic
/// generator playing hosts on the dispatcher's wires, and table rollouts through the control API while
/// flows are open (DESIGN.md §5, §6).
/// </summary>
[Collection(ProcessTests.Name)]
public class RolloutTests
{
    private const int Flows = 3000;

    [Fact]
    public async Task Rollout_AddDataPlaneThenDrainOne_NoFlowBreaksAndEveryFlowStaysOnOneDataPlane()
    {
        using var cluster = await DvaCluster.StartAsync(dataPlanes: 4, inTable: 3);
        // Re-sending the installed version warms every node's table path (a first request pays for JIT in
        // five processes), so the rollouts below land while flows are still open even on a loaded machine.
        await cluster.RollOutAsync(cluster.FirstTable);
        var options = cluster.Traffic(Flows) with
        {
            Concurrency = 400,
            Rate = 150,
            StepInterval = TimeSpan.FromMilliseconds(50),
            Duration = TimeSpan.FromSeconds(45),
            RecordFlows = true,
        };
        using var generator = new TrafficGenerator(options);
        var run = Task.Factory.StartNew(() => generator.Run(), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

        var v1 = cluster.FirstTable;
        await generator.WhenCompleted(Flows / 4).WaitAsync(TimeSpan.FromSeconds(30));
        var v2 = v1.Next(cluster.Peers([(1, 1), (2, 1), (3, 1), (4, 1)]), DateTimeOffset.UtcNow, "dp 4 joins", out int movedToFour);
        await cluster.RollOutAsync(v2);

        await generator.WhenCompleted(Flows / 2).WaitAsync(TimeSpan.FromSeconds(30));
        foreach (var dp in cluster.DataPlanes.Values)
        {
            using var dropped = await dp.Http.PostAsync(new Uri("table/drop-previous", UriKind.Relative), null);
            Assert.Equal(HttpStatusCode.NoContent, dropped.StatusCode);
        }

        var v3 = v2.Next(cluster.Peers([(1, 1), (2, 0), (3, 1), (4, 1)]), DateTimeOffset.UtcNow, "dp 2 drains", out int movedFromTwo);
        await cluster.RollOutAsync(v3);
        var openedWhenDrained = generator.Opened;
        var result = await run.WaitAsync(TimeSpan.FromSeconds(50));

        Assert.True(movedToFour > 0 && movedFromTwo > 0);
        Assert.True(result.Broken == 0, $"{result.Broken} broken flows: {string.Join("; ", result.Flows.Where(f => !f.Completed).Take(5).Select(f => $"{f.Protocol} {f.Client}->{f.Server} {f.Failure}"))}");
        Assert.Equal(Flows, result.Completed);

        var flowsByNode = new Dictionary<ushort, List<JsonElement>>();
        foreach (var (id, dp) in cluster.DataPlanes)
        {
            flowsByNode[id] = [.. (await dp.GetJsonAsync("flows")).EnumerateArray()];
        }

        var seen = flowsByNode.SelectMany(n => n.Value.Select(f => (Node: n.Key, Key: FlowKeyOf(f), Packets: f.GetProperty("packetsOriginal").GetInt64() + f.GetProperty("packetsReply").GetInt64())))
            .ToLookup(f => f.Key);
        foreach (var flow in result.Flows)
        {
            var key = FlowKeyOf(flow.Protocol, flow.Client, flow.Server);
            var holders = seen[key].ToList();
            if (flow.Protocol == "udp" && holders.Count == 0)
            {
                continue; // idled out already (udpSeconds 2); TCP flows stay listed when closed.
            }

            Assert.True(holders.Count == 1, $"{key} is held by {holders.Count} data planes ({string.Join(", ", holders.Select(h => h.Node))})");
            var sent = flow.PacketsToServer + flow.PacketsToClient;
            if (flow.Retransmits == 0)
            {
                Assert.True(holders[0].Packets == sent, $"{key} on dp{holders[0].Node}: {holders[0].Packets} packets, the generator sent {sent}");
            }
            else
            {
                Assert.InRange(holders[0].Packets, sent - flow.Retransmits, sent);
            }
        }

        long punts = 0;
        var counters = new List<string>();
        foreach (var dp in cluster.DataPlanes.Values)
        {
            var c = await dp.GetJsonAsync("counters");
            punts += c.GetProperty("tunnel").GetProperty("PuntSent").GetInt64();
            counters.Add($"{dp.Name}: tunnel {c.GetProperty("tunnel")}, drops {c.GetProperty("drops")}");
        }

        Assert.True(punts > 0, $"flows open across a table change are punted to their predecessor; {result.Seconds:F1} s, {result.Retransmits} retransmits; {string.Join(" | ", counters)}");
        Assert.True(flowsByNode[4].Count > 0, "new flows reach the data plane that joined");
        Assert.Contains(result.Flows, f => f.Id >= openedWhenDrained);
        Assert.True(result.Flows.Where(f => f.Id >= openedWhenDrained).All(f => seen[FlowKeyOf(f.Protocol, f.Client, f.Server)].All(h => h.Node != 2)),
            "flows opened after the drain reached the dispatcher never land on the drained data plane");

        // The drained unit empties: TCP flows closed, UDP flows idle out.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        int active;
        do
        {
            active = (await cluster.DataPlanes[2].GetJsonAsync("flows")).EnumerateArray().Count(f => !f.GetProperty("closed").GetBoolean());
        }
        while (active > 0 && DateTime.UtcNow < deadline && await Delay());
        Assert.Equal(0, active);
    }

    [Fact]
    public async Task PutTable_BadBodyOrStaleVersion_ProblemWithTheReason()
    {
        using var cluster = await DvaCluster.StartAsync(dataPlanes: 1, inTable: 1);
        var node = cluster.DataPlanes[1];

        using var garbage = await node.PutTableAsync([1, 2, 3, 4, 5, 6, 7, 8]);
        var problem = JsonDocument.Parse(await garbage.Content.ReadAsStringAsync()).RootElement;
        var v2 = cluster.FirstTable.Next(cluster.Peers([(1, 2)]), DateTimeOffset.UtcNow, "weight", out int _);
        using var installed = await node.PutTableAsync(TableCodec.Encode(v2));
        using var stale = await node.PutTableAsync(TableCodec.Encode(cluster.FirstTable));
        var table = await node.GetJsonAsync("table");

        Assert.Equal(HttpStatusCode.BadRequest, garbage.StatusCode);
        Assert.Equal("application/problem+json", garbage.Content.Headers.ContentType?.MediaType);
        Assert.StartsWith("TableCodecError.", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, installed.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, stale.StatusCode);
        Assert.Equal(2UL, table.GetProperty("version").GetUInt64());
        Assert.Equal(1UL, table.GetProperty("previousVersion").GetUInt64());
    }

    /// <summary>Pauses a poll of a remote process's state (nothing local to await); always true.</summary>
    private static async Task<bool> Delay()
    {
        await Task.Delay(200);
        return true;
    }

    private static string FlowKeyOf(JsonElement flow) =>
        FlowKeyOf(flow.GetProperty("protocol").GetString()!, flow.GetProperty("source").GetString()!, flow.GetProperty("destination").GetString()!);

    private static string FlowKeyOf(string protocol, string a, string b) =>
        string.CompareOrdinal(a, b) < 0 ? $"{protocol} {a} {b}" : $"{protocol} {b} {a}";
}
