using Dva.Node.Tests.Io;
using Dva.Shared.Flows;
using Dva.Shared.Packets;
using Dva.Shared.Wire;
using static Dva.Node.Tests.Dispatcher.DispatcherRig;

namespace Dva.Node.Tests.Dispatcher;

public class DispatcherFlowPortTests
{
    [Fact]
    public void Dispatch_WithFlowSourcePorts_EachFlowLeavesFromItsOwnPort()
    {
        using var rig = new DispatcherRig(flowSourcePorts: true);
        var frames = Enumerable.Range(1, 20).Select(id => ClientSegment(flowId: id)).ToArray();
        foreach (var frame in frames)
        {
            Send(rig.Outside, frame);
        }

        var expectedPorts = new HashSet<int>();
        foreach (var owner in frames.Select(rig.OwnerOf).Distinct())
        {
            var mine = frames.Where(f => rig.OwnerOf(f) == owner).ToArray();
            foreach (var (datagram, peer) in PortHelpers.ReceiveMatching(rig.DataPlanes[owner], mine.Length))
            {
                Assert.Equal(WireError.None, TunnelHeader.TryRead(datagram, out var header));
                var inner = datagram[header.InnerOffset..];
                Assert.Contains(mine, f => f.AsSpan().SequenceEqual(inner));
                var port = 49152 + (int)(HashOf(inner, rig.Table.Seed) >> 50);
                Assert.Equal(port, peer.Port);
                expectedPorts.Add(port);
            }
        }

        Assert.True(expectedPorts.Count > 15, $"20 flows should spread over many source ports, got {expectedPorts.Count}");
    }

    private static ulong HashOf(byte[] frame, ulong seed)
    {
        Assert.Equal(ParseError.None, PacketParser.TryParse(frame, out var info));
        Assert.True(FlowKey.TryFrom(info, out var key, out _));
        return FlowHasher.Hash(key, seed);
    }
}
