using Dva.Tests.Common;
using System.Net;
using Dva.Node.Services;
using Dva.Node.Services.Firewall;

namespace Dva.Node.Tests.Services.Firewall;

public class RuleSetTests
{
    private static readonly IPAddress Client = IPAddress.Parse("192.0.2.10");
    private static readonly IPAddress Server = IPAddress.Parse("198.51.100.20");

    private static FlowTuple Tcp(string src, string dst, ushort srcPort = 40000, ushort dstPort = 443, byte ifid = 0) =>
        FlowTuple.From(IPAddress.Parse(src), IPAddress.Parse(dst), IpProtocols.Tcp, srcPort, dstPort, ifid);

    private static RuleSet Compile(FirewallAction defaultAction, params FirewallRule[] rules) =>
        RuleSet.Compile(new FirewallPolicy { Rules = rules, DefaultAction = defaultAction });

    [Fact]
    public void Classify_NoRules_ReturnsDefaultAction()
    {
        RuleSet set = Compile(FirewallAction.Reject);

        FirewallMatch match = set.Classify(Tcp("192.0.2.10", "198.51.100.20"));

        Assert.True(match.IsDefault);
        Assert.Equal(FirewallAction.Reject, match.Action);
    }

    [Fact]
    public void Classify_TwoMatchingRules_LowerPriorityValueWins()
    {
        RuleSet set = Compile(
            FirewallAction.Accept,
            new FirewallRule { Id = 1, Priority = 20, Action = FirewallAction.Accept },
            new FirewallRule { Id = 2, Priority = 10, Action = FirewallAction.Drop });

        FirewallMatch match = set.Classify(Tcp("192.0.2.10", "198.51.100.20"));

        Assert.Equal(2, match.RuleId);
        Assert.Equal(FirewallAction.Drop, match.Action);
    }

    [Fact]
    public void Classify_EqualPriority_LowerIdWins()
    {
        RuleSet set = Compile(
            FirewallAction.Accept,
            new FirewallRule { Id = 9, Priority = 5, Action = FirewallAction.Accept },
            new FirewallRule { Id = 3, Priority = 5, Action = FirewallAction.Reject });

        Assert.Equal(3, set.Classify(Tcp("192.0.2.10", "198.51.100.20")).RuleId);
        Assert.Equal([3, 9], set.Rules.Select(r => r.Id));
    }

    [Fact]
    public void Classify_FirstRuleDoesNotMatch_FallsThroughToNext()
    {
        RuleSet set = Compile(
            FirewallAction.Drop,
            new FirewallRule { Id = 1, Priority = 1, Protocol = IpProtocols.Udp, Action = FirewallAction.Drop },
            new FirewallRule { Id = 2, Priority = 2, DestinationPorts = PortRange.Single(443) });

        FirewallMatch match = set.Classify(Tcp("192.0.2.10", "198.51.100.20"));

        Assert.Equal(2, match.RuleId);
        Assert.Equal(FirewallAction.Accept, match.Action);
        Assert.Equal(0, set.Classify(FlowTuple.From(Client, Server, IpProtocols.Udp, 1, 443)).RuleIndex);
    }

    [Fact]
    public void Classify_DisabledRule_IsSkipped()
    {
        RuleSet set = Compile(
            FirewallAction.Drop,
            new FirewallRule { Id = 1, Priority = 1, Action = FirewallAction.Reject, Enabled = false },
            new FirewallRule { Id = 2, Priority = 2 });

        Assert.Equal(2, set.Classify(Tcp("192.0.2.10", "198.51.100.20")).RuleId);
        Assert.Single(set.Rules);
    }

    [Theory]
    [InlineData("10.0.255.255", false)]
    [InlineData("10.1.0.0", true)]
    [InlineData("10.1.64.1", true)]
    [InlineData("10.1.127.255", true)]
    [InlineData("10.1.128.0", false)]
    public void Classify_SourceV4CidrBoundaries_MatchOnlyInside(string source, bool expected)
    {
        RuleSet set = Compile(FirewallAction.Drop, new FirewallRule { Id = 1, Source = IPNetwork.Parse("10.1.0.0/17") });

        Assert.Equal(expected, !set.Classify(Tcp(source, "198.51.100.20")).IsDefault);
    }

    [Theory]
    [InlineData("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", false)]
    [InlineData("2001:db9::", true)]
    [InlineData("2001:db9:ffff:ffff:ffff:ffff:ffff:ffff", true)]
    [InlineData("2001:dba::", false)]
    public void Classify_DestinationV6CidrBoundaries_MatchOnlyInside(string destination, bool expected)
    {
        RuleSet set = Compile(FirewallAction.Drop, new FirewallRule { Id = 1, Destination = IPNetwork.Parse("2001:db9::/32") });

        Assert.Equal(expected, !set.Classify(Tcp("2001:db8::1", destination)).IsDefault);
    }

    [Fact]
    public void Classify_V4RuleAndV6Packet_NeverMatches()
    {
        RuleSet set = Compile(
            FirewallAction.Drop,
            new FirewallRule { Id = 1, Source = IPNetwork.Parse("0.0.0.0/0") },
            new FirewallRule { Id = 2, Destination = IPNetwork.Parse("::/0"), Priority = 1 });

        // ::ffff:0:1 is numerically small, so it would fall inside 0.0.0.0/0 if the family were ignored.
        Assert.Equal(2, set.Classify(Tcp("::1", "::2")).RuleId);
        Assert.Equal(1, set.Classify(Tcp("192.0.2.1", "192.0.2.2")).RuleId);
    }

    [Fact]
    public void Classify_V6RuleAndV4Packet_NeverMatches()
    {
        RuleSet set = Compile(FirewallAction.Drop, new FirewallRule { Id = 1, Source = IPNetwork.Parse("::/0") });

        Assert.True(set.Classify(Tcp("192.0.2.1", "192.0.2.2")).IsDefault);
    }

    [Theory]
    [InlineData(999, false)]
    [InlineData(1000, true)]
    [InlineData(1500, true)]
    [InlineData(2000, true)]
    [InlineData(2001, false)]
    public void Classify_DestinationPortRangeEdges_Inclusive(int port, bool expected)
    {
        RuleSet set = Compile(FirewallAction.Drop, new FirewallRule { Id = 1, DestinationPorts = new PortRange(1000, 2000) });

        Assert.Equal(expected, !set.Classify(Tcp("192.0.2.1", "192.0.2.2", dstPort: (ushort)port)).IsDefault);
    }

    [Theory]
    [InlineData(0, true)]
    [InlineData(1023, true)]
    [InlineData(1024, false)]
    [InlineData(65535, false)]
    public void Classify_SourcePortRangeEdges_Inclusive(int port, bool expected)
    {
        RuleSet set = Compile(FirewallAction.Drop, new FirewallRule { Id = 1, SourcePorts = new PortRange(0, 1023) });

        Assert.Equal(expected, !set.Classify(Tcp("192.0.2.1", "192.0.2.2", srcPort: (ushort)port)).IsDefault);
    }

    [Fact]
    public void Classify_PortRuleAndPortlessProtocol_DoesNotMatch()
    {
        RuleSet set = Compile(FirewallAction.Drop, new FirewallRule { Id = 1, SourcePorts = new PortRange(0, 65535) });

        Assert.True(set.Classify(FlowTuple.From(Client, Server, IpProtocols.Icmp)).IsDefault);
        Assert.False(set.Classify(FlowTuple.From(Client, Server, IpProtocols.Udp, 0, 0)).IsDefault);
    }

    [Fact]
    public void Classify_ProtocolRule_MatchesOnlyThatProtocol()
    {
        RuleSet set = Compile(FirewallAction.Drop, new FirewallRule { Id = 1, Protocol = IpProtocols.Udp });

        Assert.False(set.Classify(FlowTuple.From(Client, Server, IpProtocols.Udp, 5, 53)).IsDefault);
        Assert.True(set.Classify(FlowTuple.From(Client, Server, IpProtocols.Tcp, 5, 53)).IsDefault);
        Assert.True(set.Classify(FlowTuple.From(Client, Server, 47)).IsDefault);
    }

    [Fact]
    public void Classify_IngressInterfaceRule_MatchesOnlyThatInterface()
    {
        RuleSet set = Compile(FirewallAction.Drop, new FirewallRule { Id = 1, IngressIfid = 2 });

        Assert.False(set.Classify(Tcp("192.0.2.1", "192.0.2.2", ifid: 2)).IsDefault);
        Assert.True(set.Classify(Tcp("192.0.2.1", "192.0.2.2", ifid: 1)).IsDefault);
        Assert.True(set.Classify(Tcp("192.0.2.1", "192.0.2.2", ifid: 3)).IsDefault);
    }

    [Fact]
    public void Classify_IngressVlanRule_MatchesOnlyThatVlan_ZeroForUntagged()
    {
        RuleSet set = Compile(FirewallAction.Accept,
            new FirewallRule { Id = 1, IngressVlan = 20, Action = FirewallAction.Drop },
            new FirewallRule { Id = 2, IngressVlan = 0, IngressIfid = 2, Action = FirewallAction.Reject });

        Assert.Equal(1, set.Classify(FlowTuple.From(Client, Server, IpProtocols.Tcp, 40000, 443, ingressIfid: 2, ingressVlan: 20)).RuleId);
        Assert.Equal(2, set.Classify(FlowTuple.From(Client, Server, IpProtocols.Tcp, 40000, 443, ingressIfid: 2)).RuleId);
        Assert.True(set.Classify(FlowTuple.From(Client, Server, IpProtocols.Tcp, 40000, 443, ingressIfid: 2, ingressVlan: 30)).IsDefault);
        Assert.True(set.Classify(FlowTuple.From(Client, Server, IpProtocols.Tcp, 40000, 443, ingressIfid: 1)).IsDefault);
        Assert.Equal(["rule 3: VLAN 4095 is not a VLAN id (0 untagged, 1..4094)"],
            new FirewallPolicy { Rules = [new FirewallRule { Id = 3, IngressVlan = 4095 }] }.Validate());
    }

    [Fact]
    public void Classify_IcmpTypeRule_MatchesOnlyIcmpOfThatType()
    {
        RuleSet set = Compile(FirewallAction.Drop, new FirewallRule { Id = 1, IcmpType = 8 });

        Assert.False(set.Classify(FlowTuple.From(Client, Server, IpProtocols.Icmp, icmpType: 8)).IsDefault);
        Assert.True(set.Classify(FlowTuple.From(Client, Server, IpProtocols.Icmp, icmpType: 0)).IsDefault);
        // A non-ICMP packet never matches an ICMP type rule, whatever its IcmpType field holds.
        Assert.True(set.Classify(FlowTuple.From(Client, Server, IpProtocols.Udp, 1, 2, icmpType: 8)).IsDefault);
        // ICMP type numbers belong to a family: protocol 1 over IPv6 is not ICMPv6.
        Assert.False(set.Classify(FlowTuple.From(IPAddress.Parse("2001:db8::1"), IPAddress.Parse("2001:db8::2"), IpProtocols.IcmpV6, icmpType: 8)).IsDefault);
        Assert.True(set.Classify(FlowTuple.From(IPAddress.Parse("2001:db8::1"), IPAddress.Parse("2001:db8::2"), IpProtocols.Icmp, icmpType: 8)).IsDefault);
    }

    [Fact]
    public void Classify_AllFieldsSet_RequiresEveryField()
    {
        var rule = new FirewallRule
        {
            Id = 7,
            Protocol = IpProtocols.Tcp,
            Source = IPNetwork.Parse("192.0.2.0/24"),
            Destination = IPNetwork.Parse("198.51.100.0/24"),
            SourcePorts = new PortRange(1024, 65535),
            DestinationPorts = PortRange.Single(22),
            IngressIfid = 1,
            Action = FirewallAction.Reject,
        };
        RuleSet set = Compile(FirewallAction.Accept, rule);

        Assert.Equal(FirewallAction.Reject, set.Classify(Tcp("192.0.2.9", "198.51.100.9", 2000, 22, 1)).Action);
        Assert.True(set.Classify(Tcp("192.0.3.9", "198.51.100.9", 2000, 22, 1)).IsDefault);
        Assert.True(set.Classify(Tcp("192.0.2.9", "198.51.101.9", 2000, 22, 1)).IsDefault);
        Assert.True(set.Classify(Tcp("192.0.2.9", "198.51.100.9", 1000, 22, 1)).IsDefault);
        Assert.True(set.Classify(Tcp("192.0.2.9", "198.51.100.9", 2000, 23, 1)).IsDefault);
        Assert.True(set.Classify(Tcp("192.0.2.9", "198.51.100.9", 2000, 22, 0)).IsDefault);
        Assert.True(set.Classify(FlowTuple.From(IPAddress.Parse("192.0.2.9"), IPAddress.Parse("198.51.100.9"), IpProtocols.Udp, 2000, 22, 1)).IsDefault);
    }

    [Fact]
    public void Compile_InvalidRules_ReportsEveryProblem()
    {
        var policy = new FirewallPolicy
        {
            Rules =
            [
                new FirewallRule { Id = 1, DestinationPorts = new PortRange(10, 5) },
                new FirewallRule { Id = 1, Protocol = IpProtocols.Icmp, SourcePorts = PortRange.Single(1) },
                new FirewallRule { Id = 2, Source = IPNetwork.Parse("10.0.0.0/8"), Destination = IPNetwork.Parse("2001:db8::/32") },
                new FirewallRule { Id = 3, Protocol = IpProtocols.Tcp, IcmpType = 8 },
            ],
        };

        ArgumentException error = Assert.Throws<ArgumentException>(() => RuleSet.Compile(policy));

        Assert.Contains("port range 10-5 is empty", error.Message, StringComparison.Ordinal);
        Assert.Contains("duplicate id", error.Message, StringComparison.Ordinal);
        Assert.Contains("has no ports", error.Message, StringComparison.Ordinal);
        Assert.Contains("different address families", error.Message, StringComparison.Ordinal);
        Assert.Contains("ICMP type given for protocol 6", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Classify_ManyRulesAcrossWordBoundary_FindsRuleInLaterWord()
    {
        // 4 200 rules that never match push the match past the first summary word (64 x 64 rules).
        var rules = Enumerable.Range(0, 4_200)
            .Select(i => new FirewallRule { Id = i, Priority = i, DestinationPorts = PortRange.Single((ushort)(10_000 + i)) })
            .Append(new FirewallRule { Id = 5_000, Priority = 5_000, DestinationPorts = PortRange.Single(443), Action = FirewallAction.Drop })
            .ToArray();
        RuleSet set = Compile(FirewallAction.Accept, rules);

        FirewallMatch match = set.Classify(Tcp("192.0.2.1", "192.0.2.2", dstPort: 443));

        Assert.Equal(5_000, match.RuleId);
        Assert.Equal(4_200, match.RuleIndex);
        Assert.Equal(129, set.Classify(Tcp("192.0.2.1", "192.0.2.2", dstPort: 10_129)).RuleId);
        Assert.Equal(4_100, set.Classify(Tcp("192.0.2.1", "192.0.2.2", dstPort: 14_100)).RuleId);
        Assert.True(set.Classify(Tcp("192.0.2.1", "192.0.2.2", dstPort: 444)).IsDefault);
    }

    [Fact]
    public void Classify_RandomRulesAndTuples_AgreesWithLinearScan()
    {
        var random = new Random(20261126);
        FirewallRule[] rules = RandomRules.Create(random, 1_000);
        RuleSet set = Compile(FirewallAction.Drop, rules);
        FirewallRule[] ordered = [.. rules.Where(r => r.Enabled).OrderBy(r => r.Priority).ThenBy(r => r.Id)];
        int matched = 0;
        var distinct = new HashSet<int>();

        for (int i = 0; i < 10_000; i++)
        {
            FlowTuple tuple = RandomRules.Tuple(random, rules);
            int expected = Array.FindIndex(ordered, r => r.Matches(tuple));

            FirewallMatch match = set.Classify(tuple);

            Assert.Equal(expected, match.RuleIndex);
            if (expected >= 0)
            {
                Assert.Equal(ordered[expected].Id, match.RuleId);
                matched++;
                distinct.Add(expected);
            }
        }

        // The generator must exercise both outcomes, or the comparison proves little.
        Assert.InRange(matched, 1_000, 9_000);
        Assert.True(distinct.Count > 300, $"only {distinct.Count} distinct rules matched");
    }

    [Fact]
    public void Classify_WarmedUp_DoesNotAllocate()
    {
        RuleSet set = RuleSet.Compile(new FirewallPolicy { Rules = RandomRules.Create(new Random(3), 300) });
        FlowTuple v4 = Tcp("192.0.2.1", "192.0.2.2");
        FlowTuple v6 = Tcp("2001:db8::1", "2001:db8::2");
        int sum = 0;
        long allocated = AllocationProbe.FewestBytes(() => sum += ClassifyMany(set, v4, v6));

        Assert.Equal(0, allocated);
        Assert.NotEqual(int.MinValue, sum);
    }

    private static int ClassifyMany(RuleSet set, FlowTuple v4, FlowTuple v6)
    {
        int sum = 0;
        for (int i = 0; i < 1000; i++)
        {
            sum += set.Classify(v4).RuleIndex + set.Classify(v6).RuleIndex;
        }

        return sum;
    }

    [Fact]
    public void Reject_Tcp_AnswersWithReset_OtherwiseIcmpAdminProhibited()
    {
        Assert.Equal(RejectResponse.TcpReset, Reject.For(FlowTuple.From(Client, Server, IpProtocols.Tcp, 1, 2)));
        Assert.Equal(RejectResponse.IcmpAdminProhibited, Reject.For(FlowTuple.From(Client, Server, IpProtocols.Udp, 1, 2)));
        Assert.Equal(
            RejectResponse.IcmpV6AdminProhibited,
            Reject.For(FlowTuple.From(IPAddress.Parse("2001:db8::1"), IPAddress.Parse("2001:db8::2"), IpProtocols.Udp, 1, 2)));
    }

    [Fact]
    public void Counters_RecordedEvaluationsFlowsAndPackets_AppearInSnapshot()
    {
        RuleSet set = Compile(
            FirewallAction.Drop,
            new FirewallRule { Id = 41, Protocol = IpProtocols.Tcp },
            new FirewallRule { Id = 42, Protocol = IpProtocols.Udp });
        FirewallMatch tcp = set.Classify(Tcp("192.0.2.1", "192.0.2.2"));
        FirewallMatch other = set.Classify(FlowTuple.From(Client, Server, 47));

        set.Counters.RecordEvaluation(tcp, 60);
        set.Counters.RecordFlow(tcp.RuleIndex);
        set.Counters.RecordPacket(tcp.RuleIndex, 1500);
        set.Counters.RecordEvaluation(other, 100);

        RuleCounterSnapshot[] snapshot = set.Counters.Snapshot();
        Assert.Equal(new RuleCounterSnapshot(0, 41, false, 1, 1, 2, 1560), snapshot[0]);
        Assert.Equal(new RuleCounterSnapshot(1, 42, false, 0, 0, 0, 0), snapshot[1]);
        Assert.Equal(new RuleCounterSnapshot(FirewallMatch.DefaultIndex, -1, true, 1, 0, 1, 100), snapshot[2]);
    }

    [Fact]
    public void Compile_WithPrevious_KeepsCountersOfRulesThatStay()
    {
        var kept = new FirewallRule { Id = 1, Protocol = IpProtocols.Tcp, Priority = 5 };
        RuleSet first = Compile(FirewallAction.Drop, kept, new FirewallRule { Id = 2, Protocol = IpProtocols.Udp });
        first.Counters.RecordEvaluation(first.Classify(Tcp("192.0.2.1", "192.0.2.2")), 100);
        first.Counters.RecordEvaluation(first.Classify(FlowTuple.From(Client, Server, IpProtocols.Udp, 1, 2)), 50);
        first.Counters.RecordEvaluation(first.Classify(FlowTuple.From(Client, Server, 47)), 70);

        RuleSet second = RuleSet.Compile(
            new FirewallPolicy { Rules = [new FirewallRule { Id = 3, Priority = 1, Protocol = IpProtocols.Sctp }, kept] },
            first);

        RuleCounterSnapshot[] snapshot = second.Counters.Snapshot();
        Assert.Equal(new RuleCounterSnapshot(0, 3, false, 0, 0, 0, 0), snapshot[0]);
        Assert.Equal(new RuleCounterSnapshot(1, 1, false, 1, 0, 1, 100), snapshot[1]);
        Assert.Equal(new RuleCounterSnapshot(FirewallMatch.DefaultIndex, -1, true, 1, 0, 1, 70), snapshot[2]);
    }
}
