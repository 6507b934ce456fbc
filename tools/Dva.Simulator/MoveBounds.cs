using Dva.Shared.Tables;

namespace Dva.Simulator;

/// <summary>
/// The fewest owner changes a table can make, computed here without <see cref="BucketAssignment"/>, so the
/// simulator checks the real assignment against an independent figure.
/// </summary>
internal static class MoveBounds
{
    /// <summary>
    /// Fewest changes to reach the largest-remainder targets of DESIGN.md §4 (ties by lower node id): a node
    /// can keep at most min(old count, target) of its entries; every other entry must change owner.
    /// </summary>
    public static int Minimum(ReadOnlySpan<ushort> previousOwners, IReadOnlyList<NodeWeight> nodes)
    {
        Dictionary<ushort, int> targets = Targets(nodes, previousOwners.Length);
        Dictionary<ushort, int> old = CountByOwner(previousOwners);
        int kept = 0;
        foreach ((ushort node, int target) in targets)
        {
            kept += Math.Min(target, old.GetValueOrDefault(node));
        }

        return previousOwners.Length - kept;
    }

    /// <summary>
    /// Fewest changes for ANY table that gives every node ⌊share⌋ or ⌈share⌉ entries: the spare ⌈⌉ slots go
    /// to nodes that already hold that many. A lower bound no balanced assignment can beat.
    /// </summary>
    public static int LowerBound(ReadOnlySpan<ushort> previousOwners, IReadOnlyList<NodeWeight> nodes)
    {
        int size = previousOwners.Length;
        Dictionary<ushort, int> old = CountByOwner(previousOwners);
        long total = nodes.Sum(n => (long)n.Weight);
        int kept = 0;
        int spare = size;
        int wouldUseSpare = 0;
        foreach (NodeWeight node in nodes.Where(n => n.Weight > 0))
        {
            long share = (long)size * node.Weight;
            int floor = (int)(share / total);
            spare -= floor;
            int held = old.GetValueOrDefault(node.NodeId);
            kept += Math.Min(held, floor);
            if (share % total != 0 && held > floor)
            {
                wouldUseSpare++;
            }
        }

        return size - kept - Math.Min(spare, wouldUseSpare);
    }

    /// <summary>Largest-remainder split of <paramref name="size"/> by weight; equal remainders go to the lower node id.</summary>
    public static Dictionary<ushort, int> Targets(IReadOnlyList<NodeWeight> nodes, int size)
    {
        NodeWeight[] active = [.. nodes.Where(n => n.Weight > 0).OrderBy(n => n.NodeId)];
        long total = active.Sum(n => (long)n.Weight);
        var targets = active.ToDictionary(n => n.NodeId, n => (int)((long)size * n.Weight / total));
        int left = size - targets.Values.Sum();
        foreach (NodeWeight node in active.OrderByDescending(n => (long)size * n.Weight % total).ThenBy(n => n.NodeId).Take(left))
        {
            targets[node.NodeId]++;
        }

        return targets;
    }

    private static Dictionary<ushort, int> CountByOwner(ReadOnlySpan<ushort> owners)
    {
        var counts = new Dictionary<ushort, int>();
        foreach (ushort owner in owners)
        {
            counts[owner] = counts.GetValueOrDefault(owner) + 1;
        }

        return counts;
    }
}
