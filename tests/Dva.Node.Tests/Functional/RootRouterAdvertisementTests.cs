using System.Text.RegularExpressions;
using Dva.Node.Agent;

namespace Dva.Node.Tests.Functional;

/// <summary>
/// IPv6 hosts configured with nothing but IPv6 turned on, beside a dispatcher that sends router advertisements
/// (<see cref="RootDispatcherLab"/>, <c>routerAdvertisements</c> on both interfaces): each host takes the DVA's link-local
/// address as its default router and makes an address in the interface's /64 by itself, and the two then ping each other
/// through the DVA, and ping the router's link-local address; when the dispatcher stops, its last advertisement (router lifetime 0) takes the default route away
/// at once. Root only.
/// </summary>
[Trait("Requires", "root")]
public sealed partial class RootRouterAdvertisementTests() : RootDispatcherLab(engines: 1, prefix: "dr6", routerAdvertisements: true,
    clientInterfaceOptions: """ "dhcpv6": "other", "dnsServers": ["2001:db8:1::53", "2001:db8::35"], "dnsSearch": ["corp.example"], """)
{
    /// <summary>
    /// The client side also announces DNS: rdisc6 (ndisc6), soliciting as any host would, reads the O flag (other
    /// configuration by DHCPv6), both DNS servers and the search domain from the advertisement, beside the prefix and MTU.
    /// </summary>
    [Fact]
    public void Solicited_AdvertisementCarriesTheDhcpv6FlagsDnsServersAndSearchList_AsRdisc6ReadsThem()
    {
        Client.Exec("sysctl -qw net.ipv6.conf.dr6c-h.disable_ipv6=0");
        _ = Until(() => Client.Exec("ip -6 -o addr show dev dr6c-h scope link"), a => a.Contains("fe80::", StringComparison.Ordinal)
            && !a.Contains("tentative", StringComparison.Ordinal));

        var output = Client.Exec("rdisc6 -1 -w 3000 dr6c-h", allowFailure: true);

        Assert.Matches(@"Stateful address conf\.\s*:\s*No", output);
        Assert.Matches(@"Stateful other conf\.\s*:\s*Yes", output);
        Assert.Matches(@"Recursive DNS server\s*:\s*2001:db8:1::53", output);
        Assert.Matches(@"Recursive DNS server\s*:\s*2001:db8::35", output);
        Assert.Matches(@"DNS search list\s*:\s*corp\.example", output);
        Assert.Matches(@"Prefix\s*:\s*2001:db8:1::/64", output);
        Assert.Matches(@"from fe80::ff:fe00:1", output);
    }

    [Fact]
    public async Task HostsWithNothingConfigured_TakeTheDvaAsRouterAndMakeAddresses_PingThroughIt_ThenForgetItWhenItStops()
    {
        Client.Exec("sysctl -qw net.ipv6.conf.dr6c-h.disable_ipv6=0");
        Server.Exec("sysctl -qw net.ipv6.conf.dr6s-h.disable_ipv6=0");

        // Each host solicits once its link-local address is up; the DVA answers at once (and advertises by itself anyway).
        var clientRoute = Until(() => Client.Exec("ip -6 route show default"), r => r.Contains("via fe80::ff:fe00:1 dev dr6c-h proto ra", StringComparison.Ordinal));
        var serverRoute = Until(() => Server.Exec("ip -6 route show default"), r => r.Contains("via fe80::ff:fe00:2 dev dr6s-h proto ra", StringComparison.Ordinal));
        var serverAddresses = Until(() => Server.Exec("ip -6 -o addr show dev dr6s-h scope global"),
            a => GlobalAddress().IsMatch(a) && !a.Contains("tentative", StringComparison.Ordinal));
        _ = Until(() => Client.Exec("ip -6 -o addr show dev dr6c-h scope global"),
            a => a.Contains("inet6 2001:db8:1:0:", StringComparison.Ordinal) && !a.Contains("tentative", StringComparison.Ordinal));
        var server = GlobalAddress().Match(serverAddresses).Groups[1].Value;

        var output = Client.Exec($"ping -6 -c 3 -i 0.2 -W 3 {server}", allowFailure: true);

        Assert.Contains("3 received", output, StringComparison.Ordinal);
        Assert.Contains("proto ra", clientRoute, StringComparison.Ordinal);
        Assert.Contains("proto ra", serverRoute, StringComparison.Ordinal);

        // Its default router answers ping at its link-local address, as any router's does, from that address.
        var gateway = Client.Exec("ping -6 -c 2 -i 0.2 -W 3 fe80::ff:fe00:1%dr6c-h", allowFailure: true);
        Assert.Contains("2 received", gateway, StringComparison.Ordinal);
        Assert.Contains("from fe80::ff:fe00:1%dr6c-h", gateway, StringComparison.Ordinal);

        // The hosts found the router's link-local address at the shared MAC, and know it for a router.
        var neighbour = Client.Exec("ip -6 neigh show fe80::ff:fe00:1 dev dr6c-h");
        Assert.Contains("lladdr 02:00:00:00:00:01 router", neighbour, StringComparison.Ordinal);
        Assert.True(Hosts[1].Counters.Snapshot().Tunnel(TunnelCounter.RouterAdvertisementSent) >= 2, "fewer advertisements than interfaces");

        // The dispatcher stops: without its final advertisement the hosts would keep the route for the 1 800-s lifetime.
        await Hosts[1].DisposeAsync();
        _ = Until(() => Client.Exec("ip -6 route show default"), r => !r.Contains("fe80::ff:fe00:1", StringComparison.Ordinal));
        _ = Until(() => Server.Exec("ip -6 route show default"), r => !r.Contains("fe80::ff:fe00:2", StringComparison.Ordinal));
    }

    [GeneratedRegex(@"inet6 (2001:db8:2:0:[0-9a-f:]+)/64")]
    private static partial Regex GlobalAddress();
}
