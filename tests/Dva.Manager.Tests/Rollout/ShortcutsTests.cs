using System.Text.Json.Nodes;
using Dva.Manager.Tests.Hub;

namespace Dva.Manager.Tests.Rollout;

/// <summary>
/// A DVA's <c>shortcuts</c> reaches every data plane and each dispatcher with an <c>afpacket:</c> interface as the node
/// configuration's <c>shortcuts</c>; a dispatcher whose interfaces are all <c>udp:</c> wires does without it (its node
/// would refuse the configuration). Turned off, it leaves every document.
/// </summary>
public sealed class ShortcutsTests : HubTestBase
{
    [Fact]
    public async Task Assign_DvaWithShortcuts_DataPlanesAndTheAfPacketDispatcherGetThem_ThenNoneAfterAChange()
    {
        var dva = await Factory.CreateDvaAsync("shortcuts", "disp-1", dataPlanes: 1, shortcuts: true, frameSource: "afpacket:eth1");
        await Factory.AddInsideInterfaceAsync(dva, "disp-2", "udp:LOCAL=127.0.0.1:7003,PEER=127.0.0.1:7004");

        var afPacketDispatcher = await StartNodeAsync("disp-1", 7170);
        var udpDispatcher = await StartNodeAsync("disp-2", 7171);
        var dataPlane = await StartNodeAsync("dp-a", 7172);
        await Factory.WaitForCommitAsync(dva, (t, _) => HubFactory.ServingDataPlanes(t) == 1 && HubFactory.Dispatchers(t) == 2);

        Assert.True((bool)LastConfig(afPacketDispatcher, "dispatcher")["shortcuts"]!);
        Assert.Null(LastConfig(udpDispatcher, "dispatcher")["shortcuts"]);
        Assert.True((bool)LastConfig(dataPlane, "dataplane")["shortcuts"]!);

        await Factory.ChangeDvaSpecAsync(dva, "shortcuts", false);

        await UntilAsync(() => LastConfig(afPacketDispatcher, "dispatcher")["shortcuts"] is null);
        await UntilAsync(() => LastConfig(dataPlane, "dataplane")["shortcuts"] is null);
    }

    private static JsonNode LastConfig(SimNode node, string role) => JsonNode.Parse(node.Assignments.Last(x => x.Role == role).ConfigJson)!;
}
