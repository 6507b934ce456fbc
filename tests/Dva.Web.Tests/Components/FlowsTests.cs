using System.Net;
using Bunit;
using Dva.Shared.Contracts;
using Dva.Shared.Flows;
using Dva.Shared.Packets;
using Dva.Shared.Tables;
using Dva.Web.Backend;
using Dva.Web.Components;
using Dva.Web.Tests.Services;

namespace Dva.Web.Tests.Components;

public sealed class FlowsTests(ManagerHost host) : BackendComponentTest(host, DashboardRoles.Viewer)
{
    [Theory]
    [InlineData("198.51.100.7", "", "", "", true)]
    [InlineData("198.51.100.", "", "", "", true)]
    [InlineData("192.0.2.", "", "", "", false)]
    [InlineData("", "443", "", "", true)]
    [InlineData("", "40007", "", "", true)]
    [InlineData("", "80", "", "", false)]
    [InlineData("", "", "3", "", true)]
    [InlineData("", "", "#3", "", true)]
    [InlineData("", "", "4", "", false)]
    [InlineData("", "", "", "ACCEPT", true)]
    [InlineData("", "", "", "drop", false)]
    [InlineData("203.0.113.10", "443", "3", "accept", true)]
    public void Matches_EachFilterField_SelectsOnlyMatchingFlows(string address, string port, string unit, string verdict, bool expected)
    {
        var flow = new FlowRow(DateTimeOffset.UnixEpoch, "tcp", "198.51.100.7:40007", "203.0.113.10:443", 12, 3, "established", "accept", "rule 10", null, 5, 500);
        var filter = new FlowFilter { Address = address, Port = port, Unit = unit, Verdict = verdict };

        Assert.Equal(expected, filter.Matches(flow));
    }

    [Theory]
    [InlineData("192.0.2.1:80", "192.0.2.1", "80")]
    [InlineData("[2001:db8::1]:443", "2001:db8::1", "443")]
    [InlineData("2001:db8::1", "2001:db8::1", "")]
    [InlineData("192.0.2.1", "192.0.2.1", "")]
    public void Split_Endpoints_GivesHostAndPort(string endpoint, string host, string port) =>
        Assert.Equal((host, port), FlowFilter.Split(endpoint));

    [Fact]
    public async Task FlowsLive_TypingAPortFilter_ShowsOnlyThatPortsFlows()
    {
        var dva = await Host.Factory.CreateDvaAsync($"flows-{Guid.NewGuid():N}"[..20]);
        var guid = Guid.NewGuid();
        Host.Factory.Live.SetTable(dva.Id, TableVersion.CreateFirst(guid, 1, 256, [Peer(1)], "first"), TimeSpan.Zero, 256);
        FlowSample[] flows =
        [
            new("tcp", "198.51.100.1:40000", "203.0.113.10:443", 1, 1, "established", "accept", "rule 10", null, 10, 1000),
            new("udp", "198.51.100.2:5353", "203.0.113.10:53", 2, 1, "new", "drop", "default", null, 1, 80),
            new("tcp", "198.51.100.3:40001", "203.0.113.10:443", 3, 1, "established", "accept", "rule 10", null, 20, 2000),
        ];
        Host.Factory.Live.Record(LiveStateTests.Heartbeat(1, flows: flows) with { DvaId = guid }, DateTimeOffset.UtcNow);

        var component = Render<FlowsLive>(p => p.Add(f => f.DvaId, dva.Id));
        Assert.Equal(3, component.FindAll("tr.flow-row").Count);

        component.Find("#filter-port").Input("53");

        var row = Assert.Single(component.FindAll("tr.flow-row"));
        Assert.Contains("198.51.100.2:5353", row.TextContent, StringComparison.Ordinal);
        component.Find("#filter-port").Input("");
        component.Find("#filter-verdict").Change("accept");
        Assert.Equal(2, component.FindAll("tr.flow-row").Count);
    }

    [Fact]
    public void FlowLookup_ATuple_AnswersTheBucketOwnerAndPredecessorsAsTheTableHasThem()
    {
        var first = TableVersion.CreateFirst(Guid.NewGuid(), 0xfeed, 256, [Peer(1), Peer(2)], "first");
        var table = first.Next([Peer(1), Peer(2), Peer(3)], DateTimeOffset.UnixEpoch, "node 3 joined", out int _);
        var query = new FlowLookup.LookupQuery { Protocol = 6, Source = "198.51.100.7", SourcePort = "40000", Destination = "203.0.113.10", DestinationPort = "443" };

        var answer = FlowLookup.Answer(table, query);

        var key = FlowKey.FromTuple(IpAddr.From(IPAddress.Parse("203.0.113.10")), IpAddr.From(IPAddress.Parse("198.51.100.7")), 443, 40000, 6);
        var bucket = FlowHasher.Bucket(key, 0xfeed, 256);
        Assert.Null(answer.Error);
        Assert.Equal(bucket, answer.Bucket);
        Assert.Equal(table.OwnerOf(bucket), answer.Owner);
        Assert.Equal(table.PredecessorsOf(bucket).ToArray(), answer.Predecessors);
        Assert.Equal(2UL, answer.Version);
    }

    [Theory]
    [InlineData("not-an-address", "203.0.113.10", "80", "Both addresses")]
    [InlineData("198.51.100.7", "2001:db8::1", "80", "same family")]
    [InlineData("198.51.100.7", "203.0.113.10", "70000", "Ports")]
    public void FlowLookup_BadInput_SaysWhatIsWrong(string source, string destination, string port, string expected)
    {
        var table = TableVersion.CreateFirst(Guid.NewGuid(), 1, 256, [Peer(1)], "first");

        var answer = FlowLookup.Answer(table, new FlowLookup.LookupQuery { Source = source, Destination = destination, DestinationPort = port });

        Assert.Contains(expected, answer.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void FlowLookup_NoTableYet_SaysSo() =>
        Assert.Contains("No table", FlowLookup.Answer(null, new FlowLookup.LookupQuery()).Error, StringComparison.Ordinal);

    private static PeerInfo Peer(ushort node) => new(node, PeerRole.DataPlane, new IPEndPoint(IPAddress.Loopback, 6000 + node), 1);
}
