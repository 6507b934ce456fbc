using System.Text.Json.Nodes;
using Dva.Manager.Rollout;
using Dva.Manager.Tests.Hub;

namespace Dva.Manager.Tests.Rollout;

/// <summary>
/// A DVA's <c>superFrames</c> reaches every unit as the node configuration's <c>superFrames</c>, and a dispatcher's
/// plain <c>afpacket:</c> attachment is opened with <c>?gso=1</c>; turned off, both go back. A dispatcher that holds every
/// interface of the DVA parks payloads; once an interface is another dispatcher's, it does not.
/// </summary>
public sealed class SuperFramesTests : HubTestBase
{
    [Fact]
    public async Task Assign_DvaWithSuperFrames_EveryUnitGetsThemAndTheDispatcherAGsoSource_ThenNeitherAfterAChange()
    {
        var dva = await Factory.CreateDvaAsync("super-frames", "disp-1", dataPlanes: 1, superFrames: true, frameSource: "afpacket:eth1");
        var dispatcher = await StartNodeAsync("disp-1", 7140);
        var dataPlane = await StartNodeAsync("dp-a", 7141);
        await Factory.WaitForCommitAsync(dva, (t, _) => HubFactory.ServingDataPlanes(t) == 1 && HubFactory.Dispatchers(t) == 1);

        var dispatcherConfig = JsonNode.Parse(dispatcher.Assignments.Last(x => x.Role == "dispatcher").ConfigJson)!;
        var dataPlaneConfig = JsonNode.Parse(dataPlane.Assignments.Last(x => x.Role == "dataplane").ConfigJson)!;
        Assert.True((bool)dispatcherConfig["superFrames"]!);
        Assert.True((bool)dataPlaneConfig["superFrames"]!);
        Assert.Equal("afpacket:eth1?gso=1", (string)dispatcherConfig["interfaces"]![0]!["source"]!);
        Assert.Null(dataPlaneConfig["interfaces"]![0]!["source"]);
        Assert.True((bool)dispatcherConfig["parkPayloads"]!);
        Assert.Null(dataPlaneConfig["parkPayloads"]);

        // A second interface on another dispatcher: EGRESS would reach it without the payload, so parking stops.
        await Factory.AddInsideInterfaceAsync(dva, "disp-2", "afpacket:eth2");

        await UntilAsync(() => JsonNode.Parse(dispatcher.Assignments.Last(x => x.Role == "dispatcher").ConfigJson) is { } config
            && config["parkPayloads"] is null && (bool)config["superFrames"]!);

        await Factory.ChangeDvaSpecAsync(dva, "superFrames", false);

        await UntilAsync(() => dispatcher.Assignments.Last(x => x.Role == "dispatcher") is var last
            && JsonNode.Parse(last.ConfigJson) is { } config
            && config["superFrames"] is null
            && (string?)config["interfaces"]![0]!["source"] == "afpacket:eth1");
        await UntilAsync(() => JsonNode.Parse(dataPlane.Assignments.Last(x => x.Role == "dataplane").ConfigJson)!["superFrames"] is null);
    }

    [Theory]
    [InlineData("afpacket:eth1", true, "afpacket:eth1?gso=1")]
    [InlineData("afpacket:eth1", false, "afpacket:eth1")]
    [InlineData("afpacket:eth1?ring=1", true, "afpacket:eth1?ring=1")]
    [InlineData("afpacket:eth1?gso=1", true, "afpacket:eth1?gso=1")]
    [InlineData("afxdp:eth1", true, "afxdp:eth1")]
    [InlineData("tap:dva0", true, "tap:dva0")]
    [InlineData("udp:LOCAL=127.0.0.1:7001,PEER=127.0.0.1:7002", true, "udp:LOCAL=127.0.0.1:7001,PEER=127.0.0.1:7002")]
    public void Source_OnlyAPlainAfPacketAttachmentGetsGso(string attachment, bool superFrames, string expected)
    {
        Assert.Equal(expected, NodeConfigDocument.Source(attachment, superFrames));
    }
}
