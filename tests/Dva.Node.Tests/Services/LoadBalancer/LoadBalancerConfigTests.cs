using Dva.Tests.Common;
using System.Net;
using Dva.Node.Services;
using Dva.Node.Services.LoadBalancer;

namespace Dva.Node.Tests.Services.LoadBalancer;

public class LoadBalancerConfigTests
{
    [Fact]
    public void TryFind_AddressPortAndProtocol_AllTakePart()
    {
        Vip web = PoolMethodTests.Service(LbMethod.RoundRobin, PoolMethodTests.Backend(1));
        Vip dns = web with { Address = IPAddress.Parse("2001:db8::53"), Port = 53, Protocol = IpProtocols.Udp, Pool = web.Pool with { Members = [new Member { Address = IPAddress.Parse("2001:db8:1::53"), Port = 53 }] } };
        VipTable table = LoadBalancerConfig.Compile([web, dns]).Table;

        Assert.True(table.TryFind(PoolMethodTests.From(1), out VipEntry found));
        Assert.Same(web, found.Vip);
        Assert.True(table.TryFind(FlowTuple.From(IPAddress.Parse("2001:db8::9"), IPAddress.Parse("2001:db8::53"), IpProtocols.Udp, 5353, 53), out found));
        Assert.Same(dns, found.Vip);
        Assert.False(table.TryFind(FlowTuple.From(IPAddress.Parse("2001:db8::9"), IPAddress.Parse("2001:db8::53"), IpProtocols.Tcp, 5353, 53), out _));
        Assert.False(table.TryFind(FlowTuple.IPv4(1, 0xCB00_710Au, IpProtocols.Tcp, 1, 81), out _));
        Assert.False(table.TryFind(FlowTuple.IPv4(1, 0xCB00_710Bu, IpProtocols.Tcp, 1, 80), out _));
        // The same number as an IPv6 address is a different VIP.
        Assert.False(table.TryFind(FlowTuple.IPv6(1, 0xCB00_710Au, IpProtocols.Tcp, 1, 80), out _));
    }

    [Fact]
    public void TryFind_WarmedUp_DoesNotAllocate()
    {
        VipTable table = LoadBalancerConfig.Compile([PoolMethodTests.Service(LbMethod.RoundRobin, PoolMethodTests.Backend(1))]).Table;
        FlowTuple tuple = PoolMethodTests.From(1);
        table.TryFind(tuple, out _);

        bool found = true;
        long allocated = AllocationProbe.FewestBytes(() =>
        {
            for (int i = 0; i < 1000; i++)
            {
                found &= table.TryFind(tuple, out _);
            }
        });

        Assert.True(found);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Compile_InvalidVips_ReportsEveryProblem()
    {
        Vip vip = PoolMethodTests.Service(
            LbMethod.RoundRobin,
            PoolMethodTests.Backend(1, weight: 0),
            PoolMethodTests.Backend(1),
            new Member { Address = IPAddress.Parse("2001:db8::1"), Port = 0 });

        ArgumentException error = Assert.Throws<ArgumentException>(
            () => LoadBalancerConfig.Compile([vip, vip, vip with { Port = 81, Protocol = IpProtocols.Icmp }]));

        Assert.Contains("defined twice", error.Message, StringComparison.Ordinal);
        Assert.Contains("weight 0 outside", error.Message, StringComparison.Ordinal);
        Assert.Contains("listed twice", error.Message, StringComparison.Ordinal);
        Assert.Contains("address family differs", error.Message, StringComparison.Ordinal);
        Assert.Contains("port 0", error.Message, StringComparison.Ordinal);
        Assert.Contains("protocol 1 has no ports", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Publish_NewConfiguration_CarriesActiveFlowsOfRemainingMembers()
    {
        var state = new LoadBalancerState();
        Vip vip = PoolMethodTests.Service(LbMethod.RoundRobin, PoolMethodTests.Backend(1), PoolMethodTests.Backend(2));
        VipEntry first = PoolMethodTests.Entry(state.Publish([vip], sourceHashSeed: 7));
        first.TryAssign(PoolMethodTests.From(1), out _);
        first.TryAssign(PoolMethodTests.From(2), out _);

        VipEntry second = PoolMethodTests.Entry(state.Publish([vip with { Pool = vip.Pool with { Members = [PoolMethodTests.Backend(2), PoolMethodTests.Backend(3)] } }], 7));

        Assert.Same(second, PoolMethodTests.Entry(state.Current));
        Assert.Equal(2, second.ActiveFlows.Count);
        Assert.Equal([1L, 0L], second.Members.Select(m => m.ActiveFlows.Count));
    }

    [Fact]
    public void Release_NatBinding_EndsFlowCountAndFreesSnatPort()
    {
        VipEntry vip = PoolMethodTests.Compile(PoolMethodTests.Service(LbMethod.RoundRobin, PoolMethodTests.Backend(1)));
        Assert.True(vip.TryAssign(PoolMethodTests.From(1), out MemberEntry member));
        var pool = new SnatPortPool(2000, 2009);
        SnatPortChoice choice = pool.Select(static _ => true, start: 3);
        NatBinding binding = NatBinding.DnatAndSnat(member, 0xC633_6401u, pool, choice);

        binding.Release();

        Assert.Equal(0, member.ActiveFlows.Count);
        Assert.Equal(0, vip.ActiveFlows.Count);
        Assert.False(pool.IsInUse(choice.Port));
        Assert.False(binding.ReplySteered);
    }
}
