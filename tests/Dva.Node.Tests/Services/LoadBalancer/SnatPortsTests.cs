using System.Net.Sockets;
using Dva.Node.Services;
using Dva.Node.Services.LoadBalancer;

namespace Dva.Node.Tests.Services.LoadBalancer;

public class SnatPortsTests
{
    private struct OnlyPort(ushort wanted) : IReplyBucketPredicate
    {
        public int Calls { get; private set; }

        public bool OwnsReplyBucket(ushort sourcePort)
        {
            Calls++;
            return sourcePort == wanted;
        }
    }

    [Fact]
    public void Select_OneOwnedPortInSmallRange_FindsItFromAnyStart()
    {
        for (uint start = 0; start < 40; start++)
        {
            var pool = new SnatPortPool(5000, 5015);
            var predicate = new OnlyPort(5011);

            SnatPortChoice choice = pool.Select(ref predicate, start);

            Assert.Equal(new SnatPortChoice(SnatStatus.Owned, 5011), choice);
            Assert.True(pool.IsInUse(5011));
            Assert.Equal(1, pool.InUse);
        }
    }

    [Fact]
    public void Select_QuarterOfPortsOwned_AlwaysFindsAnOwnedPort()
    {
        var pool = new SnatPortPool(1024, 65535);

        for (uint start = 0; start < 500; start++)
        {
            SnatPortChoice choice = pool.Select(static port => port % 4 == 1, start * 2_654_435_761u);

            Assert.Equal(SnatStatus.Owned, choice.Status);
            Assert.Equal(1, choice.Port % 4);
        }

        Assert.Equal(500, pool.InUse);
    }

    [Fact]
    public void Select_NoOwnedPort_ReservesFirstFreeAndAsksForSteer()
    {
        var pool = new SnatPortPool(3000, 3099);
        Assert.True(pool.TryReserve(3010));
        var predicate = new OnlyPort(1);

        SnatPortChoice choice = pool.Select(ref predicate, start: 10, tries: 16);

        Assert.Equal(new SnatPortChoice(SnatStatus.MustSteer, 3011), choice);
        Assert.Equal(16, predicate.Calls);
        Assert.True(pool.IsInUse(3011));
    }

    [Fact]
    public void Select_PortsInUse_AreNeverHandedOutTwice()
    {
        var pool = new SnatPortPool(4000, 4199);
        var seen = new HashSet<ushort>();

        for (uint i = 0; i < 200; i++)
        {
            SnatPortChoice choice = pool.Select(static port => port % 3 == 0, i * 37);
            Assert.True(choice.HasPort);
            Assert.True(seen.Add(choice.Port), $"port {choice.Port} handed out twice");
        }

        Assert.Equal(SnatStatus.Exhausted, pool.Select(static _ => true, 0).Status);
        pool.Release(4123);
        Assert.Equal(new SnatPortChoice(SnatStatus.Owned, 4123), pool.Select(static _ => true, 99));
    }

    [Fact]
    public void Select_RangeNotMultipleOf64_NeverReturnsPortPastTheEnd()
    {
        var pool = new SnatPortPool(100, 169);

        ushort[] ports = [.. Enumerable.Range(0, 70).Select(i => pool.Select(static _ => false, (uint)i * 13).Port)];

        Assert.Equal(Enumerable.Range(100, 70).Select(p => (ushort)p), ports.Order());
        Assert.Equal(SnatStatus.Exhausted, pool.Select(static _ => false, 5).Status);
    }

    [Fact]
    public void TryReserve_SamePortTwice_SecondFails()
    {
        var pool = new SnatPortPool(1024, 2047);

        Assert.True(pool.TryReserve(1500));
        Assert.False(pool.TryReserve(1500));
        Assert.False(pool.TryReserve(80));
        pool.Release(1500);
        pool.Release(1500);
        Assert.Equal(0, pool.InUse);
    }

    [Fact]
    public void For_SameKey_SamePoolAndOtherMember_OtherPool()
    {
        var allocator = new SnatPortAllocator(20000, 20999);
        var a = new SnatKey(AddressFamily.InterNetwork, 0xC633_6401u, 0xC633_6402u, 8080, IpProtocols.Tcp);

        SnatPortPool pool = allocator.For(a);

        Assert.Same(pool, allocator.For(a));
        Assert.NotSame(pool, allocator.For(a with { MemberPort = 8081 }));
        Assert.NotSame(pool, allocator.For(a with { Protocol = IpProtocols.Udp }));
        Assert.Equal((20000, 20999), (pool.First, pool.Last));
        Assert.True(pool.TryReserve(20500));
        Assert.False(allocator.TryRemoveIdle(a));
        pool.Release(20500);
        Assert.True(allocator.TryRemoveIdle(a));
        Assert.Equal(2, allocator.PoolCount);
    }

    [Fact]
    public void Select_ThroughAllocator_ReservesInThatMembersPoolAndBindsIt()
    {
        VipEntry vip = PoolMethodTests.Compile(PoolMethodTests.Service(LbMethod.RoundRobin, PoolMethodTests.Backend(1), PoolMethodTests.Backend(2)));
        var allocator = new SnatPortAllocator(30000, 30063);
        var predicate = new OnlyPort(30042);
        Assert.True(vip.TryAssign(PoolMethodTests.From(1), out MemberEntry member));

        SnatPortChoice choice = allocator.Select(
            AddressFamily.InterNetwork, 0xC633_6401u, member, IpProtocols.Tcp, ref predicate, start: 30, out SnatPortPool pool);
        var binding = NatBinding.DnatAndSnat(member, 0xC633_6401u, pool, choice);

        Assert.Equal(new SnatPortChoice(SnatStatus.Owned, 30042), choice);
        Assert.Same(pool, allocator.For(AddressFamily.InterNetwork, 0xC633_6401u, member, IpProtocols.Tcp));
        Assert.False(allocator.For(AddressFamily.InterNetwork, 0xC633_6401u, vip.Members[1], IpProtocols.Tcp).IsInUse(30042));
        binding.Release();
        Assert.Equal(0, pool.InUse);
        Assert.Equal(0, member.ActiveFlows.Count);
    }
}
