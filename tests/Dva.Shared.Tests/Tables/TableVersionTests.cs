using Dva.Shared.Tables;
using static Dva.Shared.Tests.Tables.TableFixtures;

namespace Dva.Shared.Tests.Tables;

public class TableVersionTests
{
    private static readonly Guid DvaId = Guid.Parse("6f0e3c1a-8d2b-4c5e-9a7f-1b2c3d4e5f60");

    [Fact]
    public void CreateFirst_DataPlanesAndDispatcher_OwnersOnlyWeightedDataPlanesChainByNodeId()
    {
        TableVersion table = TableVersion.CreateFirst(DvaId, 42, 4096, [DataPlane(9), Dispatcher(1), DataPlane(3), DataPlane(5, 0)], "first");

        Assert.Equal(1UL, table.Version);
        Assert.Equal(1, table.Era);
        Assert.Equal(4096, table.BucketCount);
        Assert.Equal(42UL, table.Seed);
        Assert.Equal([3, 5, 9], table.Chain.ToArray());
        Assert.Equal(2048, table.Owners.ToArray().Count(o => o == 3));
        Assert.Equal(2048, table.Owners.ToArray().Count(o => o == 9));
        Assert.Equal(0, table.History.EntryCount);
        Assert.Equal(PeerRole.Dispatcher, table.Peers[1].Role);
        Assert.Equal([1, 3, 5, 9], table.PeersById.ToArray().Select(p => p.NodeId));
    }

    [Fact]
    public void Next_DataPlaneJoins_VersionAndEraStepMinimalMovesRecordedInHistory()
    {
        TableVersion v1 = TableVersion.CreateFirst(DvaId, 42, 4096, [Dispatcher(1), DataPlane(10), DataPlane(20), DataPlane(30)], "first");

        TableVersion v2 = v1.Next([Dispatcher(1), DataPlane(10), DataPlane(20), DataPlane(30), DataPlane(5)], T0, "node 5 joined", out int moved);

        Assert.Equal(2UL, v2.Version);
        Assert.Equal(0, v2.Era);
        Assert.Equal(1024, moved);
        Assert.Equal("node 5 joined", v2.Cause);
        Assert.Equal([10, 20, 30, 5], v2.Chain.ToArray());
        for (int b = 0; b < 4096; b++)
        {
            if (v2.OwnerOf(b) == 5)
            {
                Assert.Equal([v1.OwnerOf(b)], v2.PredecessorsOf(b).ToArray());
            }
            else
            {
                Assert.Equal(v1.OwnerOf(b), v2.OwnerOf(b));
                Assert.True(v2.PredecessorsOf(b).IsEmpty);
            }
        }
    }

    [Fact]
    public void Next_DataPlaneDrainedWithWeightZero_StaysPeerAndPredecessorButOwnsNothing()
    {
        TableVersion v1 = TableVersion.CreateFirst(DvaId, 42, 256, [DataPlane(1), DataPlane(2)], "first");

        TableVersion v2 = v1.Next([DataPlane(1), DataPlane(2, 0)], T0, "drain 2", out int moved);

        Assert.Equal(128, moved);
        Assert.DoesNotContain((ushort)2, v2.Owners.ToArray());
        Assert.Contains((ushort)2, v2.Chain);
        Assert.Equal(128, v2.History.Entries.Count(e => e.Node == 2));
    }

    [Fact]
    public void Next_DataPlaneLeavesThePeers_ItsHistoryEntriesAndChainPlaceGo()
    {
        TableVersion v1 = TableVersion.CreateFirst(DvaId, 42, 256, [DataPlane(1), DataPlane(2), DataPlane(3)], "first");
        TableVersion v2 = v1.Next([DataPlane(1), DataPlane(2), DataPlane(3, 0)], T0, "drain 3", out int _);

        TableVersion v3 = v2.Next([DataPlane(1), DataPlane(2)], T0.AddSeconds(1), "3 failed", out int moved);

        Assert.Equal(0, moved);
        Assert.Equal([1, 2], v3.Chain.ToArray());
        Assert.Equal(0, v3.History.EntryCount);
        Assert.False(v3.Peers.ContainsKey(3));
    }

    [Fact]
    public void LivePredecessorsDroppedBy_FifthDrainInARow_CountsTheOldestPredecessorsPushedOut()
    {
        PeerInfo[] peers = [.. Enumerable.Range(1, 6).Select(i => DataPlane((ushort)i))];
        TableVersion table = TableVersion.CreateFirst(DvaId, 42, 4096, peers, "first");
        for (int drained = 1; drained <= 4; drained++)
        {
            peers[drained - 1] = DataPlane((ushort)drained, 0);
            TableVersion next = table.Next(peers, T0, $"drain {drained}", out int _);
            Assert.Equal(0, table.LivePredecessorsDroppedBy(next));
            table = next;
        }

        // Buckets that went 1 → 2 → 3 → 4 → 5 have history [4, 3, 2, 1]; draining 5 pushes 1 out.
        int fourDeep = Enumerable.Range(0, 4096).Count(b => table.OwnerOf(b) == 5 && table.PredecessorsOf(b).Length == 4);
        peers[4] = DataPlane(5, 0);
        TableVersion last = table.Next(peers, T0, "drain 5", out int _);

        Assert.True(fourDeep > 0);
        Assert.Equal(fourDeep, table.LivePredecessorsDroppedBy(last));
        Assert.Equal(0, table.LivePredecessorsDroppedBy(table.Next(peers[1..], T0, "drain 5, node 1 left", out int _)));
    }

    [Fact]
    public void WithHistory_EntriesRemoved_IsNextVersionWithSameOwners()
    {
        TableVersion v1 = TableVersion.CreateFirst(DvaId, 42, 256, [DataPlane(1), DataPlane(2)], "first");
        TableVersion v2 = v1.Next([DataPlane(1), DataPlane(2), DataPlane(3)], T0, "3 joined", out int _);
        HistoryEntry entry = v2.History.Entries.First();

        TableVersion v3 = v2.WithHistory(v2.History.RemoveEntry(entry.Bucket, entry.Node), "history trimmed");

        Assert.Equal(3UL, v3.Version);
        Assert.Equal(v2.Owners.ToArray(), v3.Owners.ToArray());
        Assert.Equal(v2.History.EntryCount - 1, v3.History.EntryCount);
        Assert.True(v3.PredecessorsOf(entry.Bucket).IsEmpty);
    }

    [Fact]
    public void OwnerOf_BucketOutOfRange_IsNone()
    {
        TableVersion table = TableVersion.CreateFirst(DvaId, 42, 256, [DataPlane(1)], "first");

        Assert.Equal(0, table.OwnerOf(-1));
        Assert.Equal(0, table.OwnerOf(256));
        Assert.Equal(1, table.OwnerOf(255));
    }

    [Fact]
    public void CreateFirst_InvalidPeers_Throw()
    {
        Assert.Throws<ArgumentException>(() => TableVersion.CreateFirst(DvaId, 1, 256, [Dispatcher(1)], "no data plane"));
        Assert.Throws<ArgumentException>(() => TableVersion.CreateFirst(DvaId, 1, 256, [DataPlane(1), DataPlane(1)], "twice"));
        Assert.Throws<ArgumentException>(() => TableVersion.CreateFirst(DvaId, 1, 256, [DataPlane(1) with { NodeId = 4095 }], "bad id"));
        Assert.Throws<ArgumentException>(() => TableVersion.CreateFirst(DvaId, 1, 256, [DataPlane(1) with { Endpoint = new(System.Net.IPAddress.Loopback, 0) }], "port 0"));
        Assert.Throws<ArgumentException>(() => TableVersion.CreateFirst(DvaId, 1, 256, [DataPlane(1)], new string('x', 1025)));
        Assert.Throws<ArgumentException>(() => TableVersion.CreateFirst(DvaId, 1, 256, [DataPlane(1)], "\ud800"));
    }

    [Fact]
    public void WithHistory_OwnerInItsOwnHistory_Throws()
    {
        TableVersion v1 = TableVersion.CreateFirst(DvaId, 42, 256, [DataPlane(1), DataPlane(2)], "first");
        int bucket = v1.Owners.IndexOf((ushort)1);
        HistoryTable bad = v1.History.ApplyMoves([new BucketMove(bucket, 1, 2)], T0);

        ArgumentException error = Assert.Throws<ArgumentException>(() => v1.WithHistory(bad, "bad"));
        Assert.Contains(nameof(TableCodecError.OwnerInOwnHistory), error.Message, StringComparison.Ordinal);
    }
}
