using Dva.Node.Agent;
using Dva.Node.Io;
using Dva.Node.Tests.Engine;
using Dva.Node.Tests.Io;
using Dva.Shared.Wire;
using static Dva.Node.Tests.Dispatcher.DispatcherRig;

namespace Dva.Node.Tests.Dispatcher;

public class DispatcherAllocationTests
{
    [Fact]
    public async Task DispatchAndEgress_20kFrames_AllocateNoMoreThan2k()
    {
        using var rig = new DispatcherRig();
        var inner = ClientSegment(flowId: 9);
        ServerMac.CopyTo(inner, 0);
        var toDispatch = Enumerable.Range(0, 32).Select(i => PortHelpers.Frame(ClientSegment(flowId: i))).ToArray();
        var toEgress = Enumerable.Range(0, 32).Select(_ => PortHelpers.Frame(Egress(inner, Handoff.None, 0, from: 1), rig.Tunnel.LocalEndPoint)).ToArray();
        var sink = new PacketBuffer[PacketPort.MaxBatch];
        for (var i = 0; i < sink.Length; i++)
        {
            sink[i] = PacketBuffer.CreateUnpooled();
        }

        void Rounds(int count)
        {
            for (var r = 0; r < count; r++)
            {
                Assert.Equal(32, rig.Outside.Send(toDispatch));
                Assert.Equal(32, rig.DataPlanes[1].Send(toEgress));
                var dispatched = 0;
                var egressed = 0;
                while (dispatched < 32 || egressed < 32)
                {
                    var any = false;
                    foreach (var dp in rig.DataPlanes.Values)
                    {
                        if (dp.WaitReadable(0))
                        {
                            dispatched += dp.Receive(sink);
                            any = true;
                        }
                    }

                    if (rig.Inside.WaitReadable(0))
                    {
                        egressed += rig.Inside.Receive(sink);
                        any = true;
                    }

                    if (!any)
                    {
                        Assert.True(rig.Inside.WaitReadable(5000) || rig.DataPlanes[1].WaitReadable(0) || rig.DataPlanes[2].WaitReadable(0), "the dispatcher stopped forwarding");
                    }
                }
            }
        }

        Rounds(50);
        var start = await AllocatedOnEngineAsync(rig);
        Rounds(32);
        var after2k = await AllocatedOnEngineAsync(rig);
        Rounds(320);
        var after20k = await AllocatedOnEngineAsync(rig);

        Assert.Equal(0, rig.Counters.Snapshot().TotalDrops);
        var for2k = after2k - start;
        var for20k = after20k - after2k;
        Assert.True(for20k <= for2k + (16 * 1024), $"the dispatcher's engine thread allocated {for2k} bytes for 2k frames but {for20k} for 20k: something allocates per frame");
    }

    private static async Task<long> AllocatedOnEngineAsync(DispatcherRig rig) =>
        await EpollEngineTests.OnEngineAsync(rig.Engine, GC.GetAllocatedBytesForCurrentThread);
}
