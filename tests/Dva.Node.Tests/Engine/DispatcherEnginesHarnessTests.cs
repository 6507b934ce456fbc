using Dva.Node.Bench;

namespace Dva.Node.Tests.Engine;

/// <summary>The dispatcher-engines harness measures the real dispatcher on a veth pair: what it reports is what happened.</summary>
[Trait("Requires", "root")]
public sealed class DispatcherEnginesHarnessTests
{
    /// <param name="xdp">afxdp: sources (one veth queue per engine) instead of the PACKET_MMAP ring.</param>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task CompareAsync_OneRound_BothRunsDispatchWhatTheyTookAndTheDataPlaneGetsIt(bool xdp)
    {
        var output = new StringWriter();
        var results = await DispatcherEnginesHarness.CompareAsync(new DispatcherBenchOptions { Duration = TimeSpan.FromSeconds(1), Rounds = 1, Xdp = xdp }, output);

        Assert.Equal([1, 2], results.Select(r => r.Engines));
        Assert.All(results, r =>
        {
            // Every frame taken from the sources is a TCP frame of the harness to the shared MAC: all are dispatched.
            Assert.True(r.Received > 0, $"{r.Name} took nothing from its source");
            Assert.Equal(r.Received, r.Dispatched);
            Assert.InRange(r.Received, 1, r.Sent);

            // The sink's socket may overflow on a loaded machine: nothing invented, and something arrived.
            Assert.InRange(r.SinkReceived, 1, r.Dispatched);
            Assert.True(r.EngineCpu > TimeSpan.Zero, $"{r.Name}: no engine CPU time read");
        });
        Assert.Contains("dispatcher, 2 engines", output.ToString(), StringComparison.Ordinal);
        Assert.Contains(xdp ? "afxdp:dvab1" : "afpacket:dvab1?ring=1", output.ToString(), StringComparison.Ordinal);
    }
}
