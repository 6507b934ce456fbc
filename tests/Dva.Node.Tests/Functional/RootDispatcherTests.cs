namespace Dva.Node.Tests.Functional;

/// <summary>A dispatcher on one engine facing real Linux hosts (<see cref="RootDispatcherLab"/>). Root only.</summary>
[Trait("Requires", "root")]
public sealed class RootDispatcherTests() : RootDispatcherLab(engines: 1, prefix: "dv1")
{
    [Fact]
    public void Arping_SharedIp_RepliesWithTheSharedMac()
    {
        var output = Client.Exec("arping -c 2 -w 5 -I dv1c-h 192.0.2.1");

        Assert.Contains("02:00:00:00:00:01", output, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Ping_ClientToServerThroughTheDva_Answered()
    {
        var output = Client.Exec("ping -c 3 -i 0.2 -W 3 198.51.100.10");

        Assert.Contains("3 received", output, StringComparison.Ordinal);
        // Through the DVA (one routed hop) the reply's TTL is the server's 64 minus one.
        Assert.Contains("ttl=63", output, StringComparison.Ordinal);
    }
}
