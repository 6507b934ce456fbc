using System.Net;
using Dva.Shared.Tables;

namespace Dva.Shared.Tests.Tables;

/// <summary>Real tables built through the public builders, for the version and codec tests.</summary>
internal static class TableFixtures
{
    public static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static PeerInfo DataPlane(ushort nodeId, int weight = 10) =>
        new(nodeId, PeerRole.DataPlane, new IPEndPoint(IPAddress.Parse($"198.51.100.{nodeId % 250}"), 6090), weight);

    public static PeerInfo Dispatcher(ushort nodeId) =>
        new(nodeId, PeerRole.Dispatcher, new IPEndPoint(IPAddress.Parse($"2001:db8::{nodeId:x}"), 6090));

    /// <summary>A first table, then a few random joins, leaves, drains and history removals.</summary>
    public static TableVersion RandomTable(Random random, int bucketCount, int maxDataPlanes)
    {
        var peers = new Dictionary<ushort, PeerInfo>();
        for (int i = random.Next(1, 4); i > 0; i--)
        {
            var id = (ushort)random.Next(1, 4095);
            peers[id] = Dispatcher(id);
        }

        AddDataPlanes(random, peers, random.Next(1, maxDataPlanes + 1));
        var seed = (ulong)random.NextInt64();
        TableVersion table = TableVersion.CreateFirst(Guid.NewGuid(), seed, bucketCount, peers.Values, "first", (ulong)random.Next(1, 1000));
        for (int step = 0; step < random.Next(1, 5); step++)
        {
            // Only weighted data planes are removed or drained, and never the last one.
            ushort[] dataPlanes = [.. peers.Values.Where(p => p.Role == PeerRole.DataPlane && p.Weight > 0).Select(p => p.NodeId)];
            switch (random.Next(3))
            {
                case 0:
                    AddDataPlanes(random, peers, random.Next(1, 3));
                    break;
                case 1 when dataPlanes.Length > 1:
                    peers.Remove(dataPlanes[random.Next(dataPlanes.Length)]);
                    break;
                case 1:
                    AddDataPlanes(random, peers, 1);
                    break;
                default:
                    ushort drained = dataPlanes[random.Next(dataPlanes.Length)];
                    peers[drained] = peers[drained] with { Weight = dataPlanes.Length > 1 ? 0 : 5 };
                    break;
            }

            table = table.Next(peers.Values, T0.AddSeconds(step), $"step {step} — ünïcode", out int _);
        }

        HistoryEntry[] entries = [.. table.History.Entries];
        if (entries.Length > 0)
        {
            HistoryEntry gone = entries[random.Next(entries.Length)];
            table = table.WithHistory(table.History.RemoveEntry(gone.Bucket, gone.Node), "drained");
        }

        return table;
    }

    private static void AddDataPlanes(Random random, Dictionary<ushort, PeerInfo> peers, int count)
    {
        while (count > 0)
        {
            var id = (ushort)random.Next(1, 4095);
            if (peers.TryAdd(id, DataPlane(id, random.Next(1, 100))))
            {
                count--;
            }
        }
    }
}
