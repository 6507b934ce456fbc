using System.Diagnostics;
using System.Net;
using Dva.Node.DataPlane;
using Dva.Node.Io;
using Dva.Node.Tests.DataPlane;
using Dva.Node.Tests.Dispatcher;
using Dva.Shared.Tables;
using Dva.Shared.Wire;

namespace Dva.Node.Tests.Io;

/// <summary>
/// Real sockets: data plane 1 listens on a <see cref="TunnelSocketGroup"/> of two sockets. A flow's DISPATCH comes from
/// the real dispatcher; its PUNT comes from a real data plane (11, which took the bucket over from 10 and does not know the flow)
/// through its own flow-port socket. Both must reach the same socket, i.e. the same engine of data plane 1.
/// </summary>
public sealed class EngineSteeringTests
{
    private const int Flows = 24;

    [Fact]
    public void DispatchAndPunt_OfOneFlowFromTwoSenders_ReachTheSameEngine()
    {
        using var rig = new DispatcherRig(flowSourcePorts: true, dataPlaneOneEngines: 2);
        var group = rig.DataPlaneOneGroup!;

        // Data plane 11's view: bucket b moved from 10 to 11, so 10 is its predecessor (history[b] = [10]); same seed.
        // Which node the PUNT names does not matter here: the group steers by outer source port only.
        var seed = rig.Table.Seed;
        var before = TableVersion.CreateFirst(DataPlaneRig.DvaId, seed, rig.Table.BucketCount, DataPlaneRig.Peers([10]), "test");
        var after = DataPlaneRig.Next(before, 10, 11);
        using var dataPlane = new DataPlaneRig(11);
        dataPlane.Install(before, after);

        // Mid-stream segments (not SYN), so data plane 11 punts instead of creating the flow.
        var frames = Enumerable.Range(1, 400).Select(id => DispatcherRig.ClientSegment(flowId: id))
            .Where(f => rig.OwnerOf(f) == 1 && after.OwnerOf(DataPlaneRig.BucketOf(f, after)) == 11)
            .Take(Flows).ToArray();
        Assert.Equal(Flows, frames.Length);

        foreach (var frame in frames)
        {
            DispatcherRig.Send(rig.Outside, frame);
        }

        var dispatchedTo = ReceiveOnGroup(group, frames);

        using var puntSocket = UdpTunnelSocket.Open(new IPEndPoint(IPAddress.Loopback, 0));
        Assert.True(puntSocket.EnableFlowSourcePorts(0, out var why), why);
        foreach (var frame in frames)
        {
            var buffer = DataPlaneRig.Datagram(frame, DataPlaneRig.Dispatch(11, after));
            Assert.Equal(Verdict.Send, dataPlane.Process(buffer));
            var header = DataPlaneRig.AssertHandOff(buffer, Handoff.Punt, from: 11, to: 10);
            Assert.Equal(TunnelLayout.UdpSourcePort(DataPlaneRig.HashOf(frame, after)), buffer.SourcePort);
            buffer.Peer = PacketAddress.FromEndPoint(group.LocalEndPoint);
            Assert.Equal(1, puntSocket.Send([buffer]));
        }

        var puntedTo = ReceiveOnGroup(group, frames);

        foreach (var frame in frames)
        {
            var key = Convert.ToHexString(frame);
            Assert.Equal(dispatchedTo[key], puntedTo[key]);
        }

        Assert.Equal([0, 1], dispatchedTo.Values.Distinct().Order());
    }

    /// <summary>Which socket of the group each frame arrived on (as the inner frame of a tunnel datagram).</summary>
    private static Dictionary<string, int> ReceiveOnGroup(TunnelSocketGroup group, byte[][] frames)
    {
        var wanted = frames.Select(Convert.ToHexString).ToHashSet();
        var arrived = new Dictionary<string, int>();
        var pool = new BufferPool(PacketPort.MaxBatch);
        var slots = new PacketBuffer[PacketPort.MaxBatch];
        for (var i = 0; i < slots.Length; i++)
        {
            Assert.True(pool.TryRent(out var buffer));
            slots[i] = buffer;
        }

        var clock = Stopwatch.StartNew();
        while (arrived.Count < wanted.Count)
        {
            Assert.True(clock.Elapsed < PortHelpers.Timeout, $"{arrived.Count} of {wanted.Count} datagrams arrived before the timeout");
            for (var s = 0; s < group.Count; s++)
            {
                var socket = group.Sockets[s];
                if (!socket.WaitReadable(10))
                {
                    continue;
                }

                var n = socket.Receive(slots);
                for (var i = 0; i < n; i++)
                {
                    Assert.Equal(WireError.None, TunnelHeader.TryRead(slots[i].Frame, out var header));
                    var inner = Convert.ToHexString(slots[i].Frame.Slice(header.InnerOffset, header.InnerLength));
                    if (wanted.Contains(inner))
                    {
                        Assert.True(arrived.TryAdd(inner, s), "a datagram arrived twice");
                    }
                }
            }
        }

        return arrived;
    }
}
