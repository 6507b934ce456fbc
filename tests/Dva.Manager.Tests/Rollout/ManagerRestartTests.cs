using System.Globalization;
using System.Text.Json.Nodes;
using Dva.Manager.Infrastructure;
using Dva.Manager.Model;
using Dva.Manager.Tests.Hub;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Dva.Manager.Tests.Rollout;

/// <summary>
/// The manager restarts (a second instance on the same SQLite file and port) while its units keep running: what the
/// fleet reconciler measures from (a held change) carries over, and the units that register again keep their place.
/// </summary>
public sealed class ManagerRestartTests : IAsyncLifetime
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"dva-restart-test-{Guid.NewGuid():N}");
    private readonly List<SimNode> _nodes = [];
    private HubFactory? Manager { get; set; }

    public Task InitializeAsync()
    {
        Directory.CreateDirectory(_directory);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            await node.DisposeAsync();
        }

        if (Manager is not null)
        {
            await Manager.DisposeAsync();
        }

        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Restart_WhileAChangeIsHeld_TheHoldCarriesOverAndTheLimitCountsFromTheFirstHold()
    {
        Manager = new HubFactory(directory: _directory);
        var port = Manager.Address.Port;
        var (dva, units, _) = await HeldDrain.RunUntilHeldAsync(Manager, StartNodeAsync, 7950);
        var heldSince = await HeldSinceAsync(Manager, dva);
        Assert.NotNull(heldSince);
        var nodeIds = units.ToDictionary(u => u.Name, u => u.Client.Assignment.NodeId);
        var before = Manager.Rollout.Current(dva)!;

        await Manager.DisposeAsync();
        Manager = null;
        var restarting = DateTimeOffset.UtcNow;
        // A limit shorter than the hold so far: measured from the first hold, the change is overdue at once; measured
        // from the restart, it would be held (and audited as held) again.
        Manager = new HubFactory(new Dictionary<string, string> { ["Dva:Hub:PacingLimit"] = "00:00:02" }, _directory, port);

        var (table, _) = await Manager.WaitForCommitAsync(dva, (t, _) => HubFactory.ServingDataPlanes(t) == 1);
        var audit = await Manager.AuditAsync(dva);
        var atLimit = JsonNode.Parse((string)audit.First(e => (string)e!["operation"]! == "rollout-pacing-limit")!["after"]!)!;

        Assert.Single(audit, e => (string)e!["operation"]! == "rollout-held");
        Assert.True((double)atLimit["heldSeconds"]! >= (restarting - heldSince.Value).TotalSeconds,
            $"held {atLimit["heldSeconds"]} s, but the first hold was at {heldSince:O} and the restart at {restarting:O}");
        Assert.Null(await HeldSinceAsync(Manager, dva));
        Assert.True(table.Version > before.Version);

        // The units registered again and kept their place: none was declared failed or re-placed, node ids unchanged.
        var replaced = audit.Where(e => (string)e!["operation"]! is "fail" or "allocate"
            && DateTimeOffset.Parse((string)e["time"]!, CultureInfo.InvariantCulture) > restarting).ToList();
        Assert.True(replaced.Count == 0, string.Join(" | ", replaced.Select(e => e!.ToJsonString())));
        Assert.All(units, u => Assert.Equal(nodeIds[u.Name], u.Client.Assignment.NodeId));
    }

    private async Task<SimNode> StartNodeAsync(string name, int port, bool hold)
    {
        var node = await SimNode.StartAsync(Manager!, name, port, hold);
        _nodes.Add(node);
        return node;
    }

    private static async Task<DateTimeOffset?> HeldSinceAsync(HubFactory manager, long dva)
    {
        await using var scope = manager.Services.CreateAsyncScope();
        return (await scope.ServiceProvider.GetRequiredService<ManagerDbContext>().FleetMarks.AsNoTracking()
            .Where(m => m.DvaId == dva && m.Kind == FleetMarkKind.ChangeHeld).ToListAsync()).SingleOrDefault()?.Since;
    }
}
