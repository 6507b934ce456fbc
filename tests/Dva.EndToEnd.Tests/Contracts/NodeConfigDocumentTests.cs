using Dva.Manager.Model;
using Dva.Manager.Rollout;
using ManagerNode = Dva.Manager.Model.Node;
using NodeRole = Dva.Manager.Model.NodeRole;
using NodeSettings = Dva.Node.Config.NodeSettings;
using SharedInterface = Dva.Manager.Model.SharedInterface;

namespace Dva.EndToEnd.Tests.Contracts;

/// <summary>
/// What the manager sends with an assignment is what <c>dva-node</c> reads: documents built by the manager's own code,
/// parsed by the node's own settings validator (no processes; the two sides' field names must stay in step).
/// </summary>
public class NodeConfigDocumentTests
{
    [Fact]
    public void SuperFramesDva_DispatcherAndDataPlaneDocuments_ParseWithSuperFramesAndAGsoSource()
    {
        var dva = new Appliance { Name = "sf" };
        dva.Apply(dva.ToSpec() with { SuperFrames = true, DispatcherEngines = 1 });
        var outside = new SharedInterface { Ifid = 1, Name = "outside", Mac = "02:00:5e:00:00:01", Addresses = ["192.0.2.1/24"], AttachmentNodeName = "disp-1", AttachmentFrameSource = "afpacket:eth1" };
        var dispatchers = new Dictionary<string, int> { ["disp-1"] = 100 };
        var dispatcher = new ManagerNode { Name = "disp-1", Role = NodeRole.Dispatcher, NodeId = 100, TunnelEndpoint = "10.0.0.10:6090" };
        var dataPlane = new ManagerNode { Name = "dp-a", Role = NodeRole.DataPlane, NodeId = 1, TunnelEndpoint = "10.0.0.21:6090" };

        var forDispatcher = NodeConfigDocument.For(dispatcher, [outside], [], dispatchers, dva).ToJson();
        var forDataPlane = NodeConfigDocument.For(dataPlane, [outside], [], dispatchers, dva).ToJson();

        Assert.True(NodeSettings.TryParse(forDispatcher, out var dispatcherSettings, out var errors), string.Join("; ", errors) + "\n" + forDispatcher);
        Assert.True(NodeSettings.TryParse(forDataPlane, out var dataPlaneSettings, out errors), string.Join("; ", errors) + "\n" + forDataPlane);
        Assert.True(dispatcherSettings!.SuperFrames);
        Assert.True(dataPlaneSettings!.SuperFrames);
        Assert.Equal("afpacket:eth1?gso=1", dispatcherSettings.Interfaces.Single().Source);
        Assert.Equal(65535, dispatcherSettings.TunnelMtu);
    }

    [Fact]
    public void PlainDva_DispatcherDocument_ParsesWithoutSuperFramesAndTheAttachmentAsRegistered()
    {
        var dva = new Appliance { Name = "plain" };
        var outside = new SharedInterface { Ifid = 1, Name = "outside", Mac = "02:00:5e:00:00:01", Addresses = ["192.0.2.1/24"], AttachmentNodeName = "disp-1", AttachmentFrameSource = "afpacket:eth1" };
        var dispatcher = new ManagerNode { Name = "disp-1", Role = NodeRole.Dispatcher, NodeId = 100, TunnelEndpoint = "10.0.0.10:6090" };

        var json = NodeConfigDocument.For(dispatcher, [outside], [], new Dictionary<string, int> { ["disp-1"] = 100 }, dva).ToJson();

        Assert.True(NodeSettings.TryParse(json, out var settings, out var errors), string.Join("; ", errors) + "\n" + json);
        Assert.False(settings!.SuperFrames);
        Assert.Equal("afpacket:eth1", settings.Interfaces.Single().Source);
        Assert.DoesNotContain("superFrames", json, StringComparison.Ordinal);
    }
}
