using Bunit;
using Dva.Manager.Model;
using Dva.Web.Backend;
using Dva.Web.Components;
using Dva.Web.Tests.Services;

namespace Dva.Web.Tests.Components;

public sealed class UnitsLiveTests(ManagerHost host) : BackendComponentTest(host, DashboardRoles.Viewer)
{
    [Fact]
    public async Task UnitsLive_UnitJoinsAfterThePageOpened_ItsRowAppearsWithTheNextTableVersion()
    {
        var name = $"units-{Guid.NewGuid():N}"[..20];
        var dva = await Host.Factory.CreateDvaAsync(name);
        var first = await Host.Factory.AddNodeAsync(dva.Id, $"{name}-dp-1", NodeRole.DataPlane, "127.0.0.1:6301");
        var guid = Guid.NewGuid();
        var table = DashboardFactory.FirstTable(guid, 4096, [first], "first");
        Host.Factory.Live.SetTable(dva.Id, table, TimeSpan.Zero, 4096);
        var component = Render<UnitsLive>(p => p.Add(u => u.DvaId, dva.Id));
        Assert.Single(component.FindAll("tr[data-node]"));

        var second = await Host.Factory.AddNodeAsync(dva.Id, $"{name}-dp-2", NodeRole.DataPlane, "127.0.0.1:6302");
        var next = table.Next([DashboardFactory.Peer(first), DashboardFactory.Peer(second)], DateTimeOffset.UtcNow, "dp-2 joined", out int moved);
        Host.Factory.Live.SetTable(dva.Id, next, TimeSpan.Zero, moved);

        component.WaitForAssertion(() => Assert.Equal(2, component.FindAll("tr[data-node]").Count), TimeSpan.FromSeconds(30));
        Assert.Contains($"{name}-dp-2", component.Find($"tr[data-node='{second.NodeId}']").TextContent, StringComparison.Ordinal);
        Assert.Contains("%", component.Find($"tr[data-node='{second.NodeId}'] td.buckets").TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnitsLive_DispatcherWithShortcutTraffic_ShowsTheKernelShortcutsRateAndNothingForOtherUnits()
    {
        var name = $"shortcut-{Guid.NewGuid():N}"[..20];
        var dva = await Host.Factory.CreateDvaAsync(name);
        var dispatcher = await Host.Factory.AddNodeAsync(dva.Id, $"{name}-dsp", NodeRole.Dispatcher, "127.0.0.1:6311");
        var plane = await Host.Factory.AddNodeAsync(dva.Id, $"{name}-dp", NodeRole.DataPlane, "127.0.0.1:6312");
        var guid = Guid.NewGuid();
        Host.Factory.Live.SetTable(dva.Id, DashboardFactory.FirstTable(guid, 4096, [dispatcher, plane], "first"), TimeSpan.Zero, 4096);
        var now = DateTimeOffset.UtcNow;
        foreach (var (seconds, frames, bytes) in new[] { (-2, 1_000_000L, 1_500_000_000L), (0, 1_424_000L, 9_025_000_000L) })
        {
            // The dispatcher's own counters stay low: the kernel carries the flows.
            Host.Factory.Live.Record(LiveStateTests.Heartbeat(dispatcher.Id, framesIn: 40, framesOut: 40,
                tunnel: LiveStateTests.ShortcutTotals(frames, bytes, entries: 4, installed: 6)) with { DvaId = guid }, now.AddSeconds(seconds));
            Host.Factory.Live.Record(LiveStateTests.Heartbeat(plane.Id, framesIn: 40, framesOut: 40,
                tunnel: LiveStateTests.ShortcutTotals(0, 0)) with { DvaId = guid }, now.AddSeconds(seconds));
        }

        var component = Render<UnitsLive>(p => p.Add(u => u.DvaId, dva.Id));

        var figure = component.Find($"tr[data-node='{dispatcher.NodeId}'] [data-testid='shortcut-rate']");
        Assert.Equal("Kernel shortcut: 212.0 k frames/s, 30.1 Gbit/s, 4 flow directions", figure.TextContent.Trim());
        Assert.Single(component.FindAll($"tr[data-node='{dispatcher.NodeId}'] polyline.shortcut"));
        Assert.Empty(component.FindAll($"tr[data-node='{plane.NodeId}'] [data-testid='shortcut-rate']"));
        Assert.Empty(component.FindAll($"tr[data-node='{plane.NodeId}'] polyline.shortcut"));
    }
}
