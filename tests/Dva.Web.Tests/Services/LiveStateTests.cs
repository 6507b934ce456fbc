using System.Net;
using Dva.Manager.Services;
using Dva.Shared.Contracts;
using Dva.Shared.Tables;
using Microsoft.Extensions.Time.Testing;

namespace Dva.Web.Tests.Services;

public sealed class LiveStateTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 26, 10, 0, 0, TimeSpan.Zero);
    private static readonly Guid DvaGuid = Guid.Parse("6f1c2f4e-0000-4000-8000-000000000001");

    private readonly FakeTimeProvider _time = new(Start);

    [Fact]
    public void Record_TwoHeartbeats_ComputesPacketRatesFromCounterDeltas()
    {
        var live = new LiveState(_time);

        live.Record(Heartbeat(7, framesIn: 1_000, framesOut: 500, cpu: 0.2), Start);
        live.Record(Heartbeat(7, framesIn: 21_000, framesOut: 10_500, cpu: 0.4), Start.AddSeconds(2));

        var sample = Assert.Single(live.Samples(7));
        Assert.Equal(10_000, sample.PpsIn);
        Assert.Equal(5_000, sample.PpsOut);
        Assert.Equal(0.4, sample.CpuBusy);
        Assert.Equal(0, sample.ShortcutPps);
        Assert.Equal(sample, live.Node(7)!.Latest);
        Assert.Equal(21_000, live.Node(7)!.Heartbeat.Stats.FramesIn);
    }

    [Fact]
    public void Record_CountersWentBackwards_AddsNoRateForThatInterval()
    {
        var live = new LiveState(_time);

        live.Record(Heartbeat(1, framesIn: 50_000, framesOut: 50_000), Start);
        live.Record(Heartbeat(1, framesIn: 10, framesOut: 10), Start.AddSeconds(1));
        live.Record(Heartbeat(1, framesIn: 1_010, framesOut: 10), Start.AddSeconds(2));

        var sample = Assert.Single(live.Samples(1));
        Assert.Equal(1_000, sample.PpsIn);
    }

    [Fact]
    public void Record_TwoHeartbeatsWithShortcutTotals_ComputesTheKernelShortcutsRates()
    {
        var live = new LiveState(_time);

        live.Record(Heartbeat(100, tunnel: ShortcutTotals(frames: 1_000_000, bytes: 1_500_000_000)), Start);
        live.Record(Heartbeat(100, tunnel: ShortcutTotals(frames: 1_424_000, bytes: 9_025_000_000)), Start.AddSeconds(2));

        var sample = Assert.Single(live.Samples(100));
        Assert.Equal(212_000, sample.ShortcutPps);
        Assert.Equal(30.1e9, sample.ShortcutBitsPerSecond);
        Assert.Equal(0, sample.PpsIn);
    }

    [Fact]
    public void Record_ShortcutTotalsWentBackwards_AddsNoRateForThatInterval()
    {
        var live = new LiveState(_time);

        live.Record(Heartbeat(100, tunnel: ShortcutTotals(frames: 5_000_000, bytes: 7_000_000_000)), Start);
        live.Record(Heartbeat(100, tunnel: ShortcutTotals(frames: 100, bytes: 150_000)), Start.AddSeconds(1));
        live.Record(Heartbeat(100, tunnel: ShortcutTotals(frames: 1_100, bytes: 1_650_000)), Start.AddSeconds(2));

        var sample = Assert.Single(live.Samples(100));
        Assert.Equal(1_000, sample.ShortcutPps);
        Assert.Equal(12e6, sample.ShortcutBitsPerSecond);
    }

    [Fact]
    public void Samples_OlderThanTheWindow_AreNotShown()
    {
        var live = new LiveState(_time);
        for (var second = 0; second <= 900; second += 60)
        {
            live.Record(Heartbeat(3, framesIn: second * 100L, framesOut: 0), Start.AddSeconds(second));
        }

        _time.SetUtcNow(Start.AddSeconds(900));

        var samples = live.Samples(3);
        Assert.All(samples, s => Assert.True(s.At >= Start.AddSeconds(900) - LiveState.SampleWindow));
        Assert.Equal(Start.AddSeconds(900), samples[^1].At);
        Assert.Equal(11, samples.Count);
    }

    [Fact]
    public void Flows_ManyHeartbeats_KeepsTheNewestBoundedNumberNewestFirst()
    {
        var live = new LiveState(_time);
        live.SetTable(5, Table(), TimeSpan.FromMilliseconds(40), 0);

        for (var i = 0; i < 60; i++)
        {
            live.Record(Heartbeat(1, flows: [.. Enumerable.Range(i * 10, 10).Select(Flow)]), Start.AddSeconds(i));
        }

        var flows = live.Flows(5);
        Assert.Equal(LiveState.FlowSamplesPerDva, flows.Count);
        Assert.Equal(599, flows[0].Flow.Packets);
        Assert.Equal(100, flows[^1].Flow.Packets);
    }

    [Fact]
    public void Flows_ReportedBeforeTheDvasFirstTable_AppearOnceTheTableNamesTheDva()
    {
        var live = new LiveState(_time);
        live.Record(Heartbeat(1, flows: [Flow(1), Flow(2)]), Start);
        Assert.Empty(live.Flows(5));

        live.SetTable(5, Table(), TimeSpan.Zero, 0);

        Assert.Equal([2L, 1L], live.Flows(5).Select(f => f.Flow.Packets));
    }

    [Fact]
    public void SetTable_NewerVersions_BecomeCurrentAndFormTheEraTimelineNewestFirst()
    {
        var live = new LiveState(_time);
        var first = Table();
        var second = first.Next([Peer(1), Peer(2), Peer(3)], Start, "node 3 joined", out int moved);

        live.SetTable(5, first, TimeSpan.FromMilliseconds(30), first.BucketCount);
        live.SetTable(5, second, TimeSpan.FromMilliseconds(80), moved);
        live.SetTable(5, first, TimeSpan.FromMilliseconds(30), 0);

        Assert.Same(second, live.Table(5));
        var eras = live.Eras(5);
        Assert.Equal([2UL, 1UL], eras.Select(e => e.Version));
        Assert.Equal("node 3 joined", eras[0].Cause);
        Assert.Equal(moved, eras[0].MovedBuckets);
        Assert.Equal(0, eras[0].Era);
        Assert.Null(live.Table(6));
    }

    [Fact]
    public void RuleCounters_ReportedByTwoNodes_AreSummedPerRule()
    {
        var live = new LiveState(_time);

        live.SetRuleCounters(5, 1, new Dictionary<long, RuleCounter> { [10] = new(5, 500), [11] = new(1, 60) });
        live.SetRuleCounters(5, 2, new Dictionary<long, RuleCounter> { [10] = new(7, 700) });
        live.SetRuleCounters(5, 1, new Dictionary<long, RuleCounter> { [10] = new(6, 600), [11] = new(1, 60) });

        var counters = live.RuleCounters(5);
        Assert.Equal(new RuleCounter(13, 1300), counters[10]);
        Assert.Equal(new RuleCounter(1, 60), counters[11]);
    }

    [Fact]
    public void Subscribe_ChangesNotifyUntilDisposed()
    {
        var live = new LiveState(_time);
        var changes = new List<LiveChange>();
        var subscription = live.Subscribe(changes.Add);

        live.Record(Heartbeat(9), Start);
        live.SetTable(5, Table(), TimeSpan.Zero, 0);
        subscription.Dispose();
        live.Record(Heartbeat(9), Start.AddSeconds(1));

        Assert.Equal([new LiveChange(LiveChangeKind.Heartbeat, 9), new LiveChange(LiveChangeKind.Table, 5)], changes);
    }

    [Fact]
    public async Task Record_ManyWritersAndReadersAtOnce_KeepsEveryNodesLatestHeartbeat()
    {
        var live = new LiveState(_time);
        live.SetTable(5, Table(), TimeSpan.Zero, 0);
        using var subscription = live.Subscribe(_ => live.Flows(5));

        var writers = Enumerable.Range(1, 8).Select(node => Task.Run(() =>
        {
            for (var i = 1; i <= 200; i++)
            {
                live.Record(Heartbeat(node, framesIn: i * 1000L, framesOut: 0, flows: [Flow(i)]), Start.AddSeconds(i));
                _ = live.Samples(node);
            }
        }));
        await Task.WhenAll(writers).WaitAsync(TimeSpan.FromSeconds(30));

        for (var node = 1; node <= 8; node++)
        {
            Assert.Equal(200_000, live.Node(node)!.Heartbeat.Stats.FramesIn);
            Assert.Equal(199, live.Samples(node).Count);
        }

        Assert.Equal(LiveState.FlowSamplesPerDva, live.Flows(5).Count);
    }

    /// <param name="tunnel">The tunnel counters; by default a punt counter only.</param>
    internal static NodeHeartbeat Heartbeat(
        long node, long framesIn = 0, long framesOut = 0, double cpu = 0.1, IReadOnlyList<FlowSample>? flows = null,
        IReadOnlyDictionary<string, long>? tunnel = null) =>
        new(node, DvaGuid, (ushort)node, 1,
            new NodeStats(framesIn, framesOut, framesIn * 100, framesOut * 100, framesIn, cpu, 1_000_000, 42, 100, 58,
                tunnel ?? new Dictionary<string, long> { ["punt_sent"] = 3 }, new Dictionary<string, long> { ["ttl_expired"] = 1 }),
            [], flows ?? []);

    /// <summary>A dispatcher's kernel shortcut counters as its agent sends them (every node sends them, zero without shortcuts).</summary>
    internal static Dictionary<string, long> ShortcutTotals(long frames, long bytes, long entries = 0, long installed = 0) => new()
    {
        ["ShortcutFramesForwarded"] = frames,
        ["ShortcutBytesForwarded"] = bytes,
        ["ShortcutEntries"] = entries,
        ["ShortcutInstalled"] = installed,
        ["ShortcutRenewed"] = 0,
        ["ShortcutRemoved"] = 0,
    };

    internal static FlowSample Flow(int n) =>
        new("tcp", $"198.51.100.{n % 250}:{40000 + n}", "203.0.113.10:443", n % 4096, 1, "established", "accept", "rule 10", null, n, n * 100L);

    private static TableVersion Table() => TableVersion.CreateFirst(DvaGuid, 42, 256, [Peer(1), Peer(2)], "first");

    private static PeerInfo Peer(ushort node) => new(node, PeerRole.DataPlane, new IPEndPoint(IPAddress.Loopback, 6090 + node), 1);
}
