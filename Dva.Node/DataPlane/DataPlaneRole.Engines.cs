using Dva.Node.Agent;
using Dva.Node.Config;
using Dva.Node.Io;
using Dva.Shared.Wire;

namespace Dva.Node.DataPlane;

/// <summary>
/// Which of a node's engines a data plane role runs on. The tunnel endpoint is a <see cref="TunnelSocketGroup"/> that
/// hands a datagram to engine <c>outer source port mod Count</c>, and every sender sends a flow from
/// <c>TunnelLayout.UdpSourcePort(flowHash)</c> (DESIGN.md §2), so the engine of a flow follows from its hash alone.
/// </summary>
internal readonly record struct EngineSlot(int Index, int Count)
{
    public static EngineSlot Single { get; } = new(0, 1);

    /// <summary>The engine that receives the tunnel datagrams of a flow key with this hash.</summary>
    public int EngineOf(ulong flowHash) => Count == 1 ? 0 : TunnelSocketGroup.IndexFor(TunnelLayout.UdpSourcePort(flowHash), Count);

    /// <summary>Whether two keys' datagrams reach the same engine (a translated flow's original and reply key must).</summary>
    public bool SameEngine(ulong hash, ulong otherHash) => Count == 1 || EngineOf(hash) == EngineOf(otherHash);
}

/*
 Several engines per node (config "engines", docs/node-config.md).

 A data plane of N engines is N roles, one per engine thread and tunnel socket of the group, each with its own flow
 table, NAT table, hold queue, neighbour table and counter block. Nothing per packet crosses engines: a flow's
 datagrams all carry the port of its hash, whoever sends them. What the roles share is read-mostly or counted with
 Interlocked: the compiled firewall (one volatile reference per role, all written by PublishFirewall), the load
 balancer state (members' flow counts, round-robin cursors) and the SNAT port pools (compare-and-swap bitmaps).

 A translated flow is found under two keys: SNAT picks its port so that the reply key's hash lands on the engine of
 the original key (hard: else the reply would miss the flow) and, where it can, in a bucket this node owns (soft: else
 the replies are STEERed here, DataPlaneRole.Services.cs).

 The first role of the group answers for all: snapshots (flows, bucket counts) gather every engine's on its own
 thread; the agent's heartbeat and the control API use it as the node's data plane.
*/
internal sealed partial class DataPlaneRole
{
    private readonly EngineSlot _engineSlot;
    private DataPlaneRole[] _group;

    /// <summary>The engine this role runs on.</summary>
    internal EngineSlot EngineSlot => _engineSlot;

    /// <summary>The roles of every engine of this node, in engine order (this one alone on a one-engine node).</summary>
    internal IReadOnlyList<DataPlaneRole> Group => _group;

    /// <summary>
    /// One role per engine of a node's data plane, sharing the services; attach role i to engine i and socket i of the
    /// tunnel group. The first answers the node's snapshots.
    /// </summary>
    internal static DataPlaneRole[] CreateGroup(NodeSettings settings, TableStore tables, NodeCounters counters, TimeProvider time, DataPlaneOptions options, int engines)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(engines, 1);
        var roles = new DataPlaneRole[engines];
        for (var i = 0; i < engines; i++)
        {
            roles[i] = new DataPlaneRole(settings, tables, counters, time, options, new EngineSlot(i, engines), i == 0 ? null : roles[0]);
        }

        foreach (var role in roles)
        {
            role._group = roles;
        }

        return roles;
    }

    /// <summary>Every flow of this node (up to <paramref name="limit"/>), each engine's read on its own thread.</summary>
    public async Task<IReadOnlyList<FlowInfo>> SnapshotFlowsAsync(int limit = 100_000)
    {
        if (_group.Length == 1)
        {
            return await OnEngineAsync(() => CollectFlows(limit));
        }

        var parts = await Task.WhenAll(_group.Select(r => r.OnEngineAsync(() => r.CollectFlows(limit))));
        return parts.SelectMany(p => p).Take(limit).ToList();
    }

    /// <summary>Live flows per bucket of the current table, summed over the engines.</summary>
    public async Task<BucketFlowCounts> SnapshotBucketCountsAsync()
    {
        if (_group.Length == 1)
        {
            return await OnEngineAsync(CollectBucketCounts);
        }

        // An engine may read a table installed just after another's reading. Counts of two bucket counts cannot be added,
        // and leaving one engine out would report its buckets empty (the manager would prune their history): read again.
        BucketFlowCounts[] parts;
        var attempts = 0;
        do
        {
            parts = await Task.WhenAll(_group.Select(r => r.OnEngineAsync(r.CollectBucketCounts)));
        }
        while (parts.Any(p => p.Counts.Length != parts[0].Counts.Length) && ++attempts < 3);

        if (parts.Any(p => p.Counts.Length != parts[0].Counts.Length))
        {
            throw new InvalidOperationException("the engines kept reading tables of different bucket counts; read again later");
        }

        var newest = parts.MaxBy(p => p.TableVersion)!;
        var counts = new int[newest.Counts.Length];
        foreach (var part in parts)
        {
            for (var b = 0; b < counts.Length; b++)
            {
                counts[b] += part.Counts[b];
            }
        }

        return new BucketFlowCounts(_self, newest.TableVersion, counts);
    }
}
