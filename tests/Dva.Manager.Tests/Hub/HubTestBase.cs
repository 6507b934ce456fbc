namespace Dva.Manager.Tests.Hub;

/// <summary>A fresh manager (own database, own pool of units) per test, and the simulated units it started.</summary>
public abstract class HubTestBase : IAsyncLifetime
{
    private readonly List<SimNode> _nodes = [];

    protected HubFactory Factory { get; private set; } = null!;

    /// <summary>Settings on top of <see cref="HubFactory"/>'s short test timings.</summary>
    protected virtual IReadOnlyDictionary<string, string>? Settings => null;

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

    /// <summary>Stops a unit before the test ends (it stops sending heartbeats and disconnects).</summary>
    internal async Task StopNodeAsync(SimNode node)
    {
        _nodes.Remove(node);
        await node.DisposeAsync();
    }
}
