using Dva.Manager.Tests.Hub;
using Dva.Shared.Contracts;

namespace Dva.Manager.Tests.Rollout;

/// <summary>
/// A scale-in the pacing rule holds: six data planes hold flows in every bucket (so no history entry can be pruned),
/// the operator drains four of them one after the other, then a fifth, whose change would push a predecessor with live
/// flows out of a bucket's history.
/// </summary>
internal static class HeldDrain
{
    /// <param name="start">Starts a unit (name, tunnel port) on <paramref name="factory"/>'s manager.</param>
    /// <param name="port">The dispatcher's port; the data planes take the next six.</param>
    /// <param name="created">Called with the DVA's id before any unit starts (to watch its rollouts from the first).</param>
    /// <returns>The DVA, its six data planes, and the "after" text of the <c>rollout-held</c> audit entry.</returns>
    public static async Task<(long Dva, List<SimNode> Units, string Held)> RunUntilHeldAsync(
        HubFactory factory, Func<string, int, bool, Task<SimNode>> start, int port, Action<long>? created = null)
    {
        var dva = await factory.CreateDvaAsync("paced", "disp-1", dataPlanes: 6);
        created?.Invoke(dva);
        await start("disp-1", port, false);
        var units = new List<SimNode>();
        for (var i = 1; i <= 6; i++)
        {
            units.Add(await start($"dp-{i}", port + i, false));
        }

        await factory.WaitForCommitAsync(dva, (t, _) => HubFactory.ServingDataPlanes(t) == 6);
        foreach (var unit in units)
        {
            unit.BucketFlows = [.. Enumerable.Range(0, 4096).Select(b => new BucketFlowCount(b, 1))];
        }

        using var client = factory.AdminClient();
        for (var i = 0; i < 4; i++)
        {
            (await client.PostAsync(new Uri($"/api/v1/nodes/{units[i].Client.NodeKey}:drain", UriKind.Relative), null)).EnsureSuccessStatusCode();
            var serving = 5 - i;
            await factory.WaitForCommitAsync(dva, (t, _) => HubFactory.ServingDataPlanes(t) == serving);
        }

        (await client.PostAsync(new Uri($"/api/v1/nodes/{units[4].Client.NodeKey}:drain", UriKind.Relative), null)).EnsureSuccessStatusCode();
        return (dva, units, await factory.WaitForAuditAsync(dva, "rollout-held"));
    }
}
