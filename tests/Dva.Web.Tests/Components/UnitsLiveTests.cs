using Bunit;
using Dva.Manager.Model;
using Dva.Web.Backend;
using Dva.Web.Components;

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
}
