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

    /// <summary>
    /// The DVA's fabric (its namespace's loopback) given a 1 500-byte MTU, the tunnel's default: a full-size IPv4 ping
    /// without DF crosses it in fragmented tunnel datagrams both ways (the dispatcher's and the data plane's flow-port
    /// senders fragment, the receiving kernel reassembles) and is answered; with DF the client is told the largest
    /// packet that fits (1 500 − 20 − 8 − 14 − 14 = 1 444).
    /// </summary>
    [Fact]
    public void Ping_FullSizeAcrossA1500ByteFabric_WithoutDfCarriedFragmented_WithDfToldTheMtu()
    {
        Dva.Exec("ip link set lo mtu 1500");
        var before = Dva.IpCounters()["ReasmOKs"];

        var carried = Client.Exec("ping -M dont -s 1472 -c 3 -i 0.2 -W 3 198.51.100.10");
        var reassembled = Dva.IpCounters()["ReasmOKs"] - before;
        var refused = Client.Exec("ping -M do -s 1472 -c 1 -W 3 198.51.100.10", allowFailure: true);

        Assert.Contains("3 received", carried, StringComparison.Ordinal);
        Assert.Contains("1480 bytes from 198.51.100.10", carried, StringComparison.Ordinal);
        // Each echo and each reply: DISPATCH and EGRESS, four tunnel datagrams, each in two fragments.
        Assert.True(reassembled >= 12, $"{reassembled} datagrams reassembled in the DVA's namespace");
        Assert.Contains("mtu = 1444", refused, StringComparison.Ordinal);
    }
}
