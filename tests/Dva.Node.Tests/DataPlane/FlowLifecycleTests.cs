using Dva.Node.Config;
using Dva.Node.DataPlane;
using Dva.Shared.Packets;
using Dva.Shared.Tables;
using static Dva.Node.Tests.DataPlane.DataPlaneRig;

namespace Dva.Node.Tests.DataPlane;

public class FlowLifecycleTests
{
    private static readonly TableVersion Table = First(10);

    [Fact]
    public async Task SweepFlows_UdpIdlePastTimeout_FlowExpiredAndBucketCountBackToZero()
    {
        using var rig = new DataPlaneRig(10);
        rig.Install(Table);
        var frame = TestFrames.Udp("192.0.2.50", 4000, "198.51.100.7", 53);
        var bucket = BucketOf(frame, Table);
        Assert.Equal(Verdict.Send, rig.Process(Datagram(frame, Dispatch(10, Table))));
        Assert.Equal(1, (await rig.Role.SnapshotBucketCountsAsync()).Counts[bucket]);

        rig.Time.Advance(FlowTimeouts.Default.Udp - TimeSpan.FromSeconds(1));
        rig.Role.SweepFlows();
        Assert.Equal(1, rig.Role.Flows.Count);

        rig.Time.Advance(TimeSpan.FromSeconds(1));
        rig.Role.SweepFlows();

        var counts = await rig.Role.SnapshotBucketCountsAsync();
        Assert.Equal(Table.BucketCount, counts.BucketCount);
        Assert.Equal(0, counts.Counts[bucket]);
        Assert.Contains(bucket, counts.EmptyBuckets);
        Assert.Equal(Table.Version, counts.TableVersion);
        Assert.Empty(await rig.Role.SnapshotFlowsAsync());
        Assert.Equal(1, rig.Snapshot.FlowsExpired);
        Assert.Equal(0, rig.Snapshot.FlowsActive);
    }

    [Fact]
    public async Task SnapshotFlows_RequestAndReply_DirectionsTimesAndStateReported()
    {
        using var rig = new DataPlaneRig(10);
        rig.Install(Table);
        var created = rig.Time.GetUtcNow();
        var request = TestFrames.Tcp("192.0.2.50", 4000, "198.51.100.7", 80, TcpFlags.Syn);
        var reply = TestFrames.Tcp("198.51.100.7", 80, "192.0.2.50", 4000, TcpFlags.Syn | TcpFlags.Ack);
        Assert.Equal(Verdict.Send, rig.Process(Datagram(request, Dispatch(10, Table))));
        rig.Time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(Verdict.Send, rig.Process(Datagram(reply, Dispatch(10, Table) with { HNode = InsideDispatcher, SNode = InsideDispatcher, IfId = Inside })));

        var flow = Assert.Single(await rig.Role.SnapshotFlowsAsync());

        Assert.Equal("tcp", flow.Protocol);
        Assert.Equal("192.0.2.50:4000", flow.Source);
        Assert.Equal("198.51.100.7:80", flow.Destination);
        Assert.Equal(BucketOf(request, Table), flow.Bucket);
        Assert.Equal("synreceived", flow.State);
        Assert.Equal((1L, 40L), (flow.PacketsOriginal, flow.BytesOriginal));
        Assert.Equal((1L, 40L), (flow.PacketsReply, flow.BytesReply));
        Assert.Equal(created, flow.Created);
        Assert.Equal(created.AddSeconds(2), flow.LastSeen);
        Assert.False(flow.Closed);
        Assert.Equal(10, flow.NodeId);
    }

    [Fact]
    public void Process_FlowTableFull_NewFlowDroppedAndCounted()
    {
        using var rig = new DataPlaneRig(10, new DataPlaneOptions { FlowCapacity = 16 });
        rig.Install(Table);
        for (ushort port = 1; port <= 14; port++)
        {
            Assert.Equal(Verdict.Send, rig.Process(Datagram(TestFrames.Udp("192.0.2.50", port, "198.51.100.7", 53), Dispatch(10, Table))));
        }

        Assert.Equal(Verdict.Drop, rig.Process(Datagram(TestFrames.Udp("192.0.2.50", 15, "198.51.100.7", 53), Dispatch(10, Table))));

        Assert.Equal(Agent.DropReason.FlowTableFull, rig.Role.LastDrop);
    }
}
