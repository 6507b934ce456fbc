using Dva.Node.Traffic;

namespace Dva.Node.Tests.Functional;

public class TrafficRetransmitTests
{
    private static readonly string[] Wires = ["--client-wire", "LOCAL=127.0.0.1:5001,PEER=127.0.0.1:5002", "--server-wire", "LOCAL=127.0.0.1:5003,PEER=127.0.0.1:5004"];

    [Fact]
    public void RetransmitTimeoutAfter_Default_Fixed300MsGivingUpAfter1800Ms()
    {
        var options = Parse();

        Assert.False(options.Backoff);
        Assert.Equal(5, options.Retries);
        Assert.All(Enumerable.Range(0, 8), resends => Assert.Equal(TimeSpan.FromMilliseconds(300), options.RetransmitTimeoutAfter(resends)));
        Assert.Equal(TimeSpan.FromMilliseconds(1800), options.GiveUpAfter());
    }

    [Fact]
    public void RetransmitTimeoutAfter_Backoff_DoublesPerResendUpTo4Seconds()
    {
        var options = Parse("--backoff");

        int[] expectedMs = [300, 600, 1200, 2400, 4000, 4000, 4000];
        Assert.Equal(expectedMs, Enumerable.Range(0, expectedMs.Length).Select(r => (int)options.RetransmitTimeoutAfter(r).TotalMilliseconds));
        Assert.Equal(TimeSpan.FromSeconds(4), options.RetransmitTimeoutAfter(int.MaxValue));
        Assert.Equal(TimeSpan.FromMilliseconds(300 + 600 + 1200 + 2400 + 4000 + 4000), options.GiveUpAfter());
    }

    [Fact]
    public void GiveUpAfter_BackoffAndEightRetries_OutlastsAStallOf20Seconds()
    {
        var options = Parse("--backoff", "--retries", "8");

        Assert.Equal(8, options.Retries);
        Assert.Equal(TimeSpan.FromMilliseconds(300 + 600 + 1200 + 2400 + (5 * 4000)), options.GiveUpAfter());
    }

    [Fact]
    public void RetransmitTimeoutAfter_CapBelowTheInitialTimeout_KeepsTheInitialTimeout()
    {
        var options = Parse("--backoff") with { RetransmitTimeout = TimeSpan.FromSeconds(5) };

        Assert.Equal(TimeSpan.FromSeconds(5), options.RetransmitTimeoutAfter(0));
        Assert.Equal(TimeSpan.FromSeconds(5), options.RetransmitTimeoutAfter(3));
    }

    [Theory]
    [InlineData("--retries", "31")]
    [InlineData("--retries", "-1")]
    [InlineData("--first-flow", "x")]
    public void TryParse_OutOfRange_Refused(string name, string value)
    {
        Assert.False(TrafficCommand.TryParse([.. Wires, name, value], out var options, out _, out var problem));
        Assert.Null(options);
        Assert.Contains(name, problem, StringComparison.Ordinal);
    }

    [Fact]
    public void TryParse_FirstFlow_Kept()
    {
        Assert.Equal(100_000, Parse("--first-flow", "100000").FirstFlow);
    }

    private static TrafficOptions Parse(params string[] extra)
    {
        Assert.True(TrafficCommand.TryParse([.. Wires, .. extra], out var options, out _, out var problem), problem);
        return options!;
    }
}
