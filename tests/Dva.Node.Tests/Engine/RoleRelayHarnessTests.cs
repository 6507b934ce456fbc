using Dva.Node.Bench;

namespace Dva.Node.Tests.Engine;

/// <summary>The role relay measures the real roles: what reaches the sink is what the role sent, and it is not nothing.</summary>
public sealed class RoleRelayHarnessTests
{
    private static readonly RelayOptions Small = new() { Packets = 20_000, Duration = TimeSpan.FromSeconds(5), GeneratorYieldEveryBatches = 1 };

    [Fact]
    public async Task RunDispatcherAsync_FramesFromTheWire_ReachTheDataPlaneSinkAsDispatch()
    {
        var result = await RoleRelayHarness.RunDispatcherAsync(Small);

        // The sink's socket may overflow on a loaded machine (seen in full test runs), so: something arrived, and
        // nothing arrived that the data plane did not send.
        Assert.True(result.Received > 0, $"the sink got nothing: {result}");
        Assert.InRange(result.Received, 1, result.Relayed);
    }

    [Fact]
    public async Task RunDataPlaneAsync_DispatchDatagrams_LeaveAsEgressToTheOtherDispatcher()
    {
        var result = await RoleRelayHarness.RunDataPlaneAsync(Small);

        Assert.True(result.Received > 0, $"the sink got nothing: {result}");
        Assert.Equal(result.Relayed, result.Received);
    }

    [Fact]
    public async Task CompareAsync_TwoRounds_EachRoleAgainstItsRoundsBaselineOfDispatchSizedDatagramsThenMedians()
    {
        using var output = new StringWriter();

        var results = await RoleRelayHarness.CompareAsync(Small, output, rounds: 2);

        var baselineName = $"{RelayHarness.BaselineName}, {RoleRelayHarness.DispatchDatagramLength} B";
        Assert.Equal(
            [baselineName, "dispatcher (real role)", "data plane (real role)", baselineName, "dispatcher (real role)", "data plane (real role)"],
            results.Select(r => r.Name));
        var text = output.ToString();
        Assert.Contains("round 2 of 2", text, StringComparison.Ordinal);
        Assert.Matches(@"over 2 rounds, pps: dispatcher median \d+\.\d\dx \(min .*\); data plane median \d+\.\d\dx", text);
        Assert.Matches(@"over 2 rounds, rate per engine CPU: dispatcher median \d+\.\d\dx \(min .*\); data plane median \d+\.\d\dx", text);
        // Every run read its engines' CPU: a relay that moved datagrams ran for some time.
        Assert.All(results, r => Assert.True(r.EngineCpu > TimeSpan.Zero && r.CpuNanosecondsPerPacket > 0, r.ToString()));
    }

    // The whole chain: client frames on the dispatcher's outside wire reach the server wire only through the data plane
    // (routed to the inside interface, with the server's MAC learned from its ARP on that wire).
    [Fact]
    public async Task RunChainAsync_ClientFrames_ReachTheServerWireThroughDispatcherDataPlaneDispatcher()
    {
        var result = await RoleRelayHarness.RunChainAsync(Small);

        Assert.Equal(RoleRelayHarness.ChainName, result.Name);
        Assert.True(result.Received > 0, $"the sink got nothing: {result}");
        Assert.InRange(result.Received, 1, result.Sent);
        Assert.True(result.EngineCpu > TimeSpan.Zero, result.ToString());
    }

    [Fact]
    public void RunChainBaseline_ThreeRelaysInARow_WhatTheLastSendsReachesTheSink()
    {
        var result = RoleRelayHarness.RunChainBaseline(Small);

        Assert.Equal(RoleRelayHarness.ChainBaselineName, result.Name);
        Assert.True(result.Received > 0, $"the sink got nothing: {result}");
        Assert.Equal(result.Relayed, result.Received);
        Assert.InRange(result.Relayed, 1, result.Sent);
    }

    [Theory]
    [InlineData(new[] { 1.0 }, 1.0)]
    [InlineData(new[] { 0.9, 0.5, 1.2 }, 0.9)]
    [InlineData(new[] { 1.0, 0.8, 0.6, 1.2 }, 0.9)]
    public void Median_OddAndEvenCounts(double[] values, double expected) =>
        Assert.Equal(expected, RoleRelayHarness.Median(values), 9);

    [Fact]
    public async Task RunDataPlaneAsync_TwoEnginesFedFromFlowPorts_LeaveAsEgressToTheOtherDispatcher()
    {
        var result = await RoleRelayHarness.RunDataPlaneAsync(Small, engines: 2, flowPorts: true);

        // Two engines send to one sink at once: on a loaded machine its socket may overflow, so only "none invented".
        Assert.Equal("data plane, 2 engines", result.Name);
        Assert.True(result.Received > 0, $"the sink got nothing: {result}");
        Assert.InRange(result.Received, 1, result.Relayed);
    }
}
