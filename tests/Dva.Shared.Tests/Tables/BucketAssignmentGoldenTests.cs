using System.IO.Hashing;
using System.Net;
using System.Runtime.InteropServices;
using Dva.Shared.Tables;

namespace Dva.Shared.Tests.Tables;

/// <summary>
/// Pins the exact tables of a history-aware sequence (M = 65 536, 256 data planes, joins and a leave), recorded before
/// the build was made faster: a speed change must not move a single bucket.
/// </summary>
public class BucketAssignmentGoldenTests
{
    [Fact]
    public void Next_HistoryAwareSequenceAt65536With256Units_OwnersAndHistoryAsRecorded()
    {
        var peers = Enumerable.Range(1, 256)
            .Select(i => new PeerInfo((ushort)i, PeerRole.DataPlane, new IPEndPoint(IPAddress.Parse($"10.0.{i / 256}.{i % 256}"), 6090), 50 + (i * 37 % 100)))
            .Append(new PeerInfo(4000, PeerRole.Dispatcher, new IPEndPoint(IPAddress.Parse("10.1.0.1"), 6090)))
            .ToList();
        var table = TableVersion.CreateFirst(Guid.Empty, 1, 65536, peers, "first");
        var fingerprints = new List<string> { Fingerprint(table) };
        foreach (var (add, remove) in new[] { (300, 0), (0, 17), (301, 0), (0, 300), (302, 5) })
        {
            if (add != 0)
            {
                peers.Add(new PeerInfo((ushort)add, PeerRole.DataPlane, new IPEndPoint(IPAddress.Parse($"10.2.1.{add % 256}"), 6090), 120));
            }

            peers.RemoveAll(p => p.NodeId == remove);
            table = table.Next(peers, DateTimeOffset.UnixEpoch.AddSeconds(fingerprints.Count), $"step {fingerprints.Count}", out int _);
            fingerprints.Add(Fingerprint(table));
        }

        Assert.Equal(string.Join(" ", Recorded), string.Join(" ", fingerprints));
    }

    // Owners + history fingerprint and history entry count of each version, from the build before FreeCut classified
    // only the buckets with history (commit 2f7d31f).
    private static readonly string[] Recorded =
    [
        "488b7ec2f68fd09c/0", "c8ef170d46744d69/306", "378bbc046f892af9/305", "12722ca31fbb32a9/611", "f852e21c6ead9714/371", "e00cf17c656e0d52/369",
    ];

    private static string Fingerprint(TableVersion table)
    {
        var hash = new XxHash64();
        hash.Append(MemoryMarshal.AsBytes(table.Owners));
        foreach (var entry in table.History.Entries)
        {
            hash.Append(BitConverter.GetBytes(entry.Bucket));
            hash.Append(BitConverter.GetBytes(entry.Node));
            hash.Append(BitConverter.GetBytes(entry.Depth));
        }

        return $"{hash.GetCurrentHashAsUInt64():x16}/{table.History.EntryCount}";
    }
}
