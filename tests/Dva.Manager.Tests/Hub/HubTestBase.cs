namespace Dva.Manager.Tests.Hub;

/// <summary>A fresh manager (own database, own pool of units) per test, and the simulated units it started.</summary>
public abstract class HubTestBase : IAsyncLifetime
{
    private readonly List<SimNode> _nodes = [];

    protected HubFactory Factory { get; private set; } = null!;

    /// <summary>Settings on top of <see cref="HubFactory"/>'s short test timings.</summary>
    protected virtual IReadOnlyDictionary<string, string>? Settings => null;

    /// <summary>Polls in-process state the hub fills asynchronously, up to the hub tests' patience.</summary>
    protected static async Task UntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + HubFactory.Patience;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not hold in time");
            await Task.Delay(50);
        }
    }

    public Task InitializeAsync()
    {
        Factory = new HubFactory(Settings);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            await node.DisposeAsync();
        }

        await Factory.DisposeAsync();
    }

    internal async Task<SimNode> StartNodeAsync(string name, int port, bool holdAssignments = false)
    {
        var node = await SimNode.StartAsync(Factory, name, port, holdAssignments);
        _nodes.Add(node);
        return node;
    }

    /// <summary>
    /// A DVA whose interface is attached to dispatcher <c>disp-1</c> (tunnel port <paramref name="port"/>), with data planes
    /// <c>dp-1</c>… on the next ports, once a committed version has all of them serving.
    /// </summary>
    internal async Task<(long Dva, SimNode[] DataPlanes)> StartDvaAsync(string name, int dataPlanes, int port, string serviceKind = "firewall")
    {
        var dva = await Factory.CreateDvaAsync(name, "disp-1", dataPlanes, serviceKind: serviceKind);
        await StartNodeAsync("disp-1", port);
        var units = new SimNode[dataPlanes];
        for (var i = 0; i < dataPlanes; i++)
        {
            units[i] = await StartNodeAsync($"dp-{i + 1}", port + i + 1);
        }

        await Factory.WaitForCommitAsync(dva, (t, _) => HubFactory.ServingDataPlanes(t) == dataPlanes);
        return (dva, units);
    }

    /// <summary>Stops a unit before the test ends (it stops sending heartbeats and disconnects).</summary>
    internal async Task StopNodeAsync(SimNode node)
    {
        _nodes.Remove(node);
        await node.DisposeAsync();
    }
}
