using Dva.Tests.Common;
using System.Net;
using Dva.Node.Services;
using Dva.Node.Services.LoadBalancer;

namespace Dva.Node.Tests.Services.LoadBalancer;

public class PoolMethodTests
{
    private static readonly IPAddress VipAddress = IPAddress.Parse("203.0.113.10");

    internal static Member Backend(int index, int weight = 1, MemberAdminState admin = MemberAdminState.Enabled, MemberHealth health = MemberHealth.Up) =>
        new() { Address = IPAddress.Parse($"198.51.100.{index}"), Port = 8080, Weight = weight, AdminState = admin, Health = health };

    internal static Vip Service(LbMethod method, params Member[] members) =>
        new() { Address = VipAddress, Port = 80, Protocol = IpProtocols.Tcp, Pool = new Pool { Name = "web", Method = method, Members = members } };

    internal static VipEntry Compile(Vip vip, LoadBalancerConfig? previous = null) =>
        Entry(LoadBalancerConfig.Compile([vip], previous));

    internal static VipEntry Entry(LoadBalancerConfig config)
    {
        Assert.True(config.Table.TryFind(VipKey.Of(VipAddress, 80, IpProtocols.Tcp), out VipEntry entry));
        return entry;
    }

    internal static FlowTuple From(uint client, ushort port = 40000) =>
        FlowTuple.IPv4(0xC000_0200u + client, 0xCB00_710Au, IpProtocols.Tcp, port, 80);

    private static IPAddress Pick(VipEntry vip, FlowTuple tuple)
    {
        Assert.True(vip.TryAssign(tuple, out MemberEntry member));
        return member.Member.Address;
    }

    [Fact]
    public void RoundRobin_ThreeMembers_AlternatesExactly()
    {
        VipEntry vip = Compile(Service(LbMethod.RoundRobin, Backend(1), Backend(2), Backend(3)));

        string[] picks = [.. Enumerable.Range(0, 9).Select(i => Pick(vip, From((uint)i)).ToString())];

        Assert.Equal(
            ["198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.1", "198.51.100.2", "198.51.100.3"],
            picks);
    }

    [Fact]
    public void RoundRobin_DisabledAndDownMembers_AreSkippedWithoutSkew()
    {
        VipEntry vip = Compile(Service(
            LbMethod.RoundRobin,
            Backend(1), Backend(2, admin: MemberAdminState.Disabled), Backend(3), Backend(4, health: MemberHealth.Down)));

        var counts = Enumerable.Range(0, 100).GroupBy(i => Pick(vip, From((uint)i)).ToString()).ToDictionary(g => g.Key, g => g.Count());

        Assert.Equal(new Dictionary<string, int> { ["198.51.100.1"] = 50, ["198.51.100.3"] = 50 }, counts);
    }

    [Fact]
    public void WeightedRoundRobin_Weights3To1_Gives300To100Smoothly()
    {
        VipEntry vip = Compile(Service(LbMethod.WeightedRoundRobin, Backend(1, weight: 3), Backend(2, weight: 1)));

        string[] picks = [.. Enumerable.Range(0, 400).Select(i => Pick(vip, From((uint)i)).ToString())];

        Assert.Equal(300, picks.Count(p => p == "198.51.100.1"));
        Assert.Equal(100, picks.Count(p => p == "198.51.100.2"));
        // Smooth: the light member is interleaved, never left waiting for a run of three heavy picks and more.
        Assert.Equal(["198.51.100.1", "198.51.100.1", "198.51.100.2", "198.51.100.1"], picks[..4]);
        for (int i = 0; i + 4 <= picks.Length; i += 4)
        {
            Assert.Equal(1, picks[i..(i + 4)].Count(p => p == "198.51.100.2"));
        }
    }

    [Fact]
    public void LeastConnections_PicksLeastLoadedMember()
    {
        VipEntry vip = Compile(Service(LbMethod.LeastConnections, Backend(1), Backend(2), Backend(3)));
        var held = new List<MemberEntry>();
        for (int i = 0; i < 6; i++)
        {
            Assert.True(vip.TryAssign(From((uint)i), out MemberEntry m));
            held.Add(m);
        }

        // Each member holds two flows; ending both of member 2's makes it the least loaded.
        foreach (MemberEntry m in held.Where(m => m.Member.Address.Equals(IPAddress.Parse("198.51.100.2"))))
        {
            m.Release();
        }

        Assert.Equal(IPAddress.Parse("198.51.100.2"), Pick(vip, From(100)));
        Assert.Equal(IPAddress.Parse("198.51.100.2"), Pick(vip, From(101)));
        Assert.Equal([2, 2, 2], vip.Members.Select(m => m.ActiveFlows.Count));
        Assert.Equal(6, vip.ActiveFlows.Count);
    }

    [Fact]
    public void LeastConnections_Weights_CompareFlowsPerWeight()
    {
        VipEntry vip = Compile(Service(LbMethod.LeastConnections, Backend(1, weight: 3), Backend(2, weight: 1)));

        string[] picks = [.. Enumerable.Range(0, 40).Select(i => Pick(vip, From((uint)i)).ToString())];

        Assert.Equal(30, picks.Count(p => p == "198.51.100.1"));
        Assert.Equal(10, picks.Count(p => p == "198.51.100.2"));
    }

    [Fact]
    public void SourceHash_SameSource_SameMember()
    {
        VipEntry vip = Compile(Service(LbMethod.SourceHash, [.. Enumerable.Range(1, 10).Select(i => Backend(i))]));

        for (uint client = 0; client < 50; client++)
        {
            IPAddress first = Pick(vip, From(client, 1000));
            for (ushort port = 1001; port < 1010; port++)
            {
                Assert.Equal(first, Pick(vip, From(client, port)));
            }
        }
    }

    [Fact]
    public void SourceHash_OneOfTenRemoved_OnlyItsSourcesMove()
    {
        Member[] members = [.. Enumerable.Range(1, 10).Select(i => Backend(i))];
        VipEntry before = Compile(Service(LbMethod.SourceHash, members));
        VipEntry after = Compile(Service(LbMethod.SourceHash, [.. members.Where(m => !m.Address.Equals(IPAddress.Parse("198.51.100.4")))]));
        const int Sources = 5000;
        int moved = 0;
        int onRemoved = 0;

        for (uint client = 0; client < Sources; client++)
        {
            IPAddress was = Pick(before, From(client * 7919));
            IPAddress now = Pick(after, From(client * 7919));
            onRemoved += was.Equals(IPAddress.Parse("198.51.100.4")) ? 1 : 0;
            if (!was.Equals(now))
            {
                moved++;
                Assert.Equal(IPAddress.Parse("198.51.100.4"), was);
            }
        }

        Assert.Equal(onRemoved, moved);
        Assert.True(moved < Sources * 15 / 100, $"{moved} of {Sources} sources moved");
        Assert.True(moved > Sources * 5 / 100, $"only {moved} of {Sources} sources were on the removed member");
    }

    [Fact]
    public void SourceHash_MemberReorderedAndOthersAdded_KeepsExistingChoicesExceptTakenOver()
    {
        Member[] members = [.. Enumerable.Range(1, 5).Select(i => Backend(i))];
        VipEntry before = Compile(Service(LbMethod.SourceHash, members));
        VipEntry after = Compile(Service(LbMethod.SourceHash, [Backend(6), .. members.Reverse()]));

        for (uint client = 0; client < 2000; client++)
        {
            IPAddress now = Pick(after, From(client));
            // A source either stays or moves to the new member, never between the old ones.
            Assert.True(now.Equals(Pick(before, From(client))) || now.Equals(IPAddress.Parse("198.51.100.6")));
        }
    }

    [Fact]
    public void SourceHash_Weights3To1_SplitsSourcesRoughly75To25()
    {
        VipEntry vip = Compile(Service(LbMethod.SourceHash, Backend(1, weight: 3), Backend(2, weight: 1)));

        int heavy = Enumerable.Range(0, 4000).Count(i => Pick(vip, From((uint)i * 104_729)).Equals(IPAddress.Parse("198.51.100.1")));

        Assert.InRange(heavy, 2800, 3200);
    }

    [Fact]
    public void TryAssign_DrainingMember_GetsNoNewFlowsButKeepsExistingOnes()
    {
        Vip vip = Service(LbMethod.RoundRobin, Backend(1), Backend(2));
        LoadBalancerConfig first = LoadBalancerConfig.Compile([vip]);
        VipEntry entry = Entry(first);
        Assert.True(entry.TryAssign(From(1), out MemberEntry existing));
        Assert.Equal(IPAddress.Parse("198.51.100.1"), existing.Member.Address);

        LoadBalancerConfig second = LoadBalancerConfig.Compile(
            [vip with { Pool = vip.Pool with { Members = [Backend(1, admin: MemberAdminState.Draining), Backend(2)] } }], first);
        VipEntry drained = Entry(second);

        for (uint i = 0; i < 20; i++)
        {
            Assert.Equal(IPAddress.Parse("198.51.100.2"), Pick(drained, From(i)));
        }

        // The flow made under the first configuration still counts on member 1, and ends there.
        MemberEntry member1 = drained.Members[0];
        Assert.Equal(1, member1.ActiveFlows.Count);
        existing.Release();
        Assert.Equal(0, member1.ActiveFlows.Count);
        Assert.Equal(20, drained.ActiveFlows.Count);
    }

    [Fact]
    public void TryAssign_NoMemberAcceptsFlows_ReturnsFalse()
    {
        VipEntry vip = Compile(Service(
            LbMethod.LeastConnections, Backend(1, admin: MemberAdminState.Draining), Backend(2, health: MemberHealth.Down), Backend(3, admin: MemberAdminState.Disabled)));

        Assert.False(vip.TryAssign(From(1), out _));
        Assert.Equal(0, vip.ActiveFlows.Count);
    }

    [Fact]
    public void TryAssign_WarmedUp_DoesNotAllocate()
    {
        LbMethod[] methods = [LbMethod.RoundRobin, LbMethod.WeightedRoundRobin, LbMethod.LeastConnections, LbMethod.SourceHash];
        foreach (LbMethod method in methods)
        {
            VipEntry vip = Compile(Service(method, Backend(1, weight: 2), Backend(2), Backend(3)));
            FlowTuple tuple = From(5);
            vip.TryAssign(tuple, out MemberEntry warm);
            warm.Release();

            long allocated = AllocationProbe.FewestBytes(() =>
            {
                for (int i = 0; i < 1000; i++)
                {
                    vip.TryAssign(tuple, out MemberEntry m);
                    m.Release();
                }
            });

            Assert.Equal(0, allocated);
        }
    }
}
