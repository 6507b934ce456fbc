using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;
using Dva.Shared.Tables;

namespace Dva.Web.Components;

/// <summary>
/// Draws a bucket table as one PNG: a square of <see cref="CellPixels"/>² pixels per bucket in its owner's
/// colour, with a white centre dot where the bucket has predecessors. One image element instead of 65 536 SVG
/// rectangles keeps a full-size map to a few kilobytes on the wire and one node in the browser.
/// </summary>
internal static class BucketImage
{
    public const int CellPixels = 3;

    private static readonly byte[] Signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Columns of the grid: wide enough that a big map stays roughly square.</summary>
    public static int Columns(int bucketCount) => bucketCount switch
    {
        <= 1024 => 32,
        <= 4096 => 64,
        <= 16384 => 128,
        _ => 256,
    };

    /// <summary>RGB pixels, row by row, of <paramref name="table"/> drawn with <paramref name="palette"/>.</summary>
    public static byte[] Pixels(TableVersion table, BucketPalette palette, out int width, out int height)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(palette);
        var columns = Columns(table.BucketCount);
        var rows = (table.BucketCount + columns - 1) / columns;
        width = columns * CellPixels;
        height = rows * CellPixels;
        var pixels = new byte[width * height * 3];
        var owners = table.Owners;
        for (var bucket = 0; bucket < owners.Length; bucket++)
        {
            var (r, g, b) = palette.ColourOf(owners[bucket]);
            var marked = !table.PredecessorsOf(bucket).IsEmpty;
            var x0 = bucket % columns * CellPixels;
            var y0 = bucket / columns * CellPixels;
            for (var dy = 0; dy < CellPixels; dy++)
            {
                for (var dx = 0; dx < CellPixels; dx++)
                {
                    var dot = marked && dx == CellPixels / 2 && dy == CellPixels / 2;
                    var at = (((y0 + dy) * width) + x0 + dx) * 3;
                    pixels[at] = dot ? (byte)255 : r;
                    pixels[at + 1] = dot ? (byte)255 : g;
                    pixels[at + 2] = dot ? (byte)255 : b;
                }
            }
        }

        return pixels;
    }

    /// <summary>The map as a data: URI for an &lt;image&gt; element.</summary>
    public static string DataUri(TableVersion table, BucketPalette palette)
    {
        var pixels = Pixels(table, palette, out var width, out var height);
        return "data:image/png;base64," + Convert.ToBase64String(EncodePng(pixels, width, height));
    }

    /// <summary>8-bit RGB PNG, no interlace, filter 0 on every row (the maps are flat colours; deflate does the rest).</summary>
    public static byte[] EncodePng(ReadOnlySpan<byte> rgb, int width, int height)
    {
        using var output = new MemoryStream();
        output.Write(Signature);
        Span<byte> header = stackalloc byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header[4..], height);
        header[8] = 8; // bit depth
        header[9] = 2; // colour type: RGB
        WriteChunk(output, "IHDR"u8, header);

        using var compressed = new MemoryStream();
        using (var zlib = new ZLibStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
        {
            var stride = width * 3;
            for (var y = 0; y < height; y++)
            {
                zlib.WriteByte(0);
                zlib.Write(rgb.Slice(y * stride, stride));
            }
        }

        WriteChunk(output, "IDAT"u8, compressed.ToArray());
        WriteChunk(output, "IEND"u8, []);
        return output.ToArray();
    }

    private static void WriteChunk(Stream output, ReadOnlySpan<byte> type, ReadOnlySpan<byte> data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        output.Write(word);
        output.Write(type);
        output.Write(data);
        var crc = new Crc32();
        crc.Append(type);
        crc.Append(data);
        BinaryPrimitives.WriteUInt32BigEndian(word, crc.GetCurrentHashAsUInt32());
        output.Write(word);
    }
}

/// <summary>A distinct colour per node id, in the order the nodes are listed (chain order for data planes).</summary>
internal sealed class BucketPalette
{
    /// <summary>Colour of a bucket with no owner (node id 0).</summary>
    public static readonly (byte R, byte G, byte B) Unowned = (0xd0, 0xd5, 0xdd);

    private static readonly (byte R, byte G, byte B)[] Base =
    [
        (0x3b, 0x82, 0xf6), (0xf5, 0x9e, 0x0b), (0x10, 0xb9, 0x81), (0xef, 0x44, 0x44), (0x8b, 0x5c, 0xf6), (0x06, 0xb6, 0xd4),
        (0xec, 0x48, 0x99), (0x84, 0xcc, 0x16), (0xf9, 0x73, 0x16), (0x64, 0x74, 0x8b), (0x14, 0xb8, 0xa6), (0xa8, 0x55, 0xf7),
    ];

    private readonly Dictionary<ushort, (byte R, byte G, byte B)> _colours = [];

    public BucketPalette(IEnumerable<ushort> nodes)
    {
        ArgumentNullException.ThrowIfNull(nodes);
        foreach (var node in nodes)
        {
            if (node != 0 && !_colours.ContainsKey(node))
            {
                _colours[node] = _colours.Count < Base.Length ? Base[_colours.Count] : Generated(_colours.Count);
            }
        }
    }

    /// <summary>The palette of a table: its chain first, then any other owner by node id.</summary>
    public static BucketPalette For(TableVersion table)
    {
        ArgumentNullException.ThrowIfNull(table);
        var others = new SortedSet<ushort>();
        foreach (var owner in table.Owners)
        {
            others.Add(owner);
        }

        return new BucketPalette([.. table.Chain, .. others]);
    }

    public IEnumerable<ushort> Nodes => _colours.Keys;

    public (byte R, byte G, byte B) ColourOf(ushort node) => _colours.TryGetValue(node, out var colour) ? colour : Unowned;

    public string CssOf(ushort node)
    {
        var (r, g, b) = ColourOf(node);
        return $"#{r:x2}{g:x2}{b:x2}";
    }

    // Past the hand-picked colours: hues a golden angle apart, so neighbours in the list stay distinguishable.
    private static (byte, byte, byte) Generated(int index)
    {
        var hue = index * 137.508 % 360;
        return FromHsl(hue, 0.65, 0.5);
    }

    private static (byte, byte, byte) FromHsl(double h, double s, double l)
    {
        var c = (1 - Math.Abs((2 * l) - 1)) * s;
        var x = c * (1 - Math.Abs((h / 60 % 2) - 1));
        var m = l - (c / 2);
        var (r, g, b) = h switch
        {
            < 60 => (c, x, 0.0),
            < 120 => (x, c, 0.0),
            < 180 => (0.0, c, x),
            < 240 => (0.0, x, c),
            < 300 => (x, 0.0, c),
            _ => (c, 0.0, x),
        };
        return ((byte)((r + m) * 255), (byte)((g + m) * 255), (byte)((b + m) * 255));
    }
}
