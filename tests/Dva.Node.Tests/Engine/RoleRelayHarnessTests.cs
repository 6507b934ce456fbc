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
    public async Task RunDataPlaneAsync_TwoEnginesFedFromFlowPorts_LeaveAsEgressToTheOtherDispatcher()
    {
        var result = await RoleRelayHarness.RunDataPlaneAsync(Small, engines: 2, flowPorts: true);

        // Two engines send to one sink at once: on a loaded machine its socket may overflow, so only "none invented".
        Assert.Equal("data plane, 2 engines", result.Name);
        Assert.True(result.Received > 0, $"the sink got nothing: {result}");
        Assert.InRange(result.Received, 1, result.Relayed);
    }
}
