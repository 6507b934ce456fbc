using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;
using System.Net;
using Bunit;
using Dva.Shared.Tables;
using Dva.Web.Components;

namespace Dva.Web.Tests.Components;

public sealed class BucketMapTests : BunitContext
{
    private static readonly DateTimeOffset At = new(2026, 11, 26, 10, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Render_ThreeDataPlanes_LegendGivesEveryOwnerItsColourAndBucketCount()
    {
        var table = TableVersion.CreateFirst(Guid.NewGuid(), 7, 1024, [Peer(4), Peer(9), Peer(2)], "first");

        var map = Render<BucketMap>(p => p
            .Add(m => m.Table, table)
            .Add(m => m.Names, new Dictionary<int, string> { [4] = "dp-a", [9] = "dp-b", [2] = "dp-c" }));

        var items = map.FindAll("[data-testid=bucket-legend] [data-node]");
        Assert.Equal(3, items.Count);
        var palette = BucketPalette.For(table);
        foreach (var item in items)
        {
            var node = ushort.Parse(item.GetAttribute("data-node")!, System.Globalization.CultureInfo.InvariantCulture);
            var owned = table.Owners.ToArray().Count(o => o == node);
            Assert.Equal(palette.CssOf(node), item.GetAttribute("data-colour"));
            Assert.Contains($"{owned:N0} buckets", item.TextContent, StringComparison.Ordinal);
        }

        Assert.Contains("#9 dp-b", map.Find("[data-node='9']").TextContent, StringComparison.Ordinal);
        Assert.Equal(3, items.Select(i => i.GetAttribute("data-colour")).Distinct().Count());
        Assert.Equal("1", map.Find("[data-testid=bucket-map]").GetAttribute("data-version"));
    }

    [Fact]
    public void Render_AfterANodeJoined_CountsTheBucketsWithPredecessors()
    {
        var first = TableVersion.CreateFirst(Guid.NewGuid(), 7, 1024, [Peer(1), Peer(2)], "first");
        var second = first.Next([Peer(1), Peer(2), Peer(3)], At, "node 3 joined", out int moved);

        var map = Render<BucketMap>(p => p.Add(m => m.Table, second));

        Assert.Equal(moved, second.History.BucketsWithHistory);
        Assert.Contains($"{moved:N0} buckets", map.Find("[data-testid=history-legend]").TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public void Pixels_EachBucketCell_HasItsOwnersColourAndAWhiteDotWhenItHasPredecessors()
    {
        var first = TableVersion.CreateFirst(Guid.NewGuid(), 7, 4096, [Peer(1), Peer(2)], "first");
        var table = first.Next([Peer(1), Peer(2), Peer(3)], At, "node 3 joined", out int _);
        var palette = BucketPalette.For(table);

        var pixels = BucketImage.Pixels(table, palette, out var width, out var height);

        var columns = BucketImage.Columns(table.BucketCount);
        Assert.Equal(columns * BucketImage.CellPixels, width);
        Assert.Equal(table.BucketCount / columns * BucketImage.CellPixels, height);
        for (var bucket = 0; bucket < table.BucketCount; bucket++)
        {
            var x = bucket % columns * BucketImage.CellPixels;
            var y = bucket / columns * BucketImage.CellPixels;
            Assert.Equal(palette.ColourOf(table.OwnerOf(bucket)), PixelAt(pixels, width, x, y));
            var centre = PixelAt(pixels, width, x + 1, y + 1);
            var expected = table.PredecessorsOf(bucket).IsEmpty ? palette.ColourOf(table.OwnerOf(bucket)) : ((byte)255, (byte)255, (byte)255);
            Assert.Equal(expected, centre);
        }
    }

    [Fact]
    public void EncodePng_Pixels_GivesAValidPngWhoseImageDataInflatesToTheRows()
    {
        byte[] rgb = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 40, 50, 60, 70, 80, 90];

        var png = BucketImage.EncodePng(rgb, 3, 2);

        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, png[..8]);
        var chunks = Chunks(png[8..]).ToList();
        Assert.Equal(["IHDR", "IDAT", "IEND"], chunks.Select(c => c.Type));
        Assert.Equal(new byte[] { 0, 0, 0, 3, 0, 0, 0, 2, 8, 2, 0, 0, 0 }, chunks[0].Data);
        using var inflated = new MemoryStream();
        using (var zlib = new ZLibStream(new MemoryStream(chunks[1].Data), CompressionMode.Decompress))
        {
            zlib.CopyTo(inflated);
        }

        Assert.Equal([0, .. rgb[..9], 0, .. rgb[9..]], inflated.ToArray());
    }

    [Fact]
    public void Palette_MoreNodesThanHandPickedColours_StillGivesEachNodeItsOwnColour()
    {
        var palette = new BucketPalette(Enumerable.Range(1, 40).Select(n => (ushort)n));

        Assert.Equal(40, Enumerable.Range(1, 40).Select(n => palette.CssOf((ushort)n)).Distinct().Count());
        Assert.Equal(BucketPalette.Unowned, palette.ColourOf(0));
    }

    private static (byte, byte, byte) PixelAt(byte[] pixels, int width, int x, int y)
    {
        var at = ((y * width) + x) * 3;
        return (pixels[at], pixels[at + 1], pixels[at + 2]);
    }

    private static IEnumerable<(string Type, byte[] Data)> Chunks(byte[] bytes)
    {
        var offset = 0;
        while (offset < bytes.Length)
        {
            var length = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(offset));
            var type = System.Text.Encoding.ASCII.GetString(bytes, offset + 4, 4);
            var data = bytes.AsSpan(offset + 8, length).ToArray();
            var crc = BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(offset + 8 + length));
            Assert.Equal(Crc32.HashToUInt32(bytes.AsSpan(offset + 4, 4 + length)), crc);
            yield return (type, data);
            offset += 12 + length;
        }
    }

    private static PeerInfo Peer(ushort node) => new(node, PeerRole.DataPlane, new IPEndPoint(IPAddress.Loopback, 6000 + node), 1);
}
