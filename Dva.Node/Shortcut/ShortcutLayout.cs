using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;

namespace Dva.Node.Shortcut;

/// <summary>
/// The byte layout of the shortcut map the programs and the dispatcher share (host byte order unless said).
/// <para>Key, 44 bytes: ingress ifindex (u32) | ingress VLAN id (u16, 0 untagged) | IP protocol (u8) | family (u8, 4 or 6) |
/// source and destination port (network order, as in the frame) | source address (16, IPv4 in the first 4) |
/// destination address (16).</para>
/// <para>Value, 64 bytes: egress ifindex (u32) | egress VLAN TCI (u16, 0 untagged) | flags (u16: 1 withdrawn, 2 lease
/// pending, 4 rewrite) | destination MAC (6) | source MAC (6) | reserved (u32) | packets (u64) | bytes (u64) | last used (u64,
/// CLOCK_MONOTONIC ns) | lease start (u64, ns) | egress IP MTU (u32) | reserved (u32) | the ingress interface's shared
/// MAC (6: a frame to another destination MAC is not the DVA's) | reserved (2) | with flag 4 (rewrite), the addresses and
/// ports the frame leaves with: source (16), destination (16), source and destination port (network order) | reserved (4).</para>
/// </summary>
internal static class ShortcutLayout
{
    public const int KeySize = 44;
    public const int ValueSize = 112;
    public const int StateSize = 16;

    public const short KeyIfIndex = 0;
    public const short KeyVlan = 4;
    public const short KeyProtocol = 6;
    public const short KeyFamily = 7;
    public const short KeyPorts = 8;
    public const short KeySource = 12;
    public const short KeyDestination = 28;

    public const short ValueEgressIfIndex = 0;
    public const short ValueEgressTci = 4;
    public const short ValueFlags = 6;
    public const short ValueDestinationMac = 8;
    public const short ValueSourceMac = 14;
    public const short ValuePackets = 24;
    public const short ValueBytes = 32;
    public const short ValueLastUsedNs = 40;
    public const short ValueLeaseNs = 48;
    public const short ValueMtu = 56;
    public const short ValueIngressMac = 64;
    public const short ValueRewriteSource = 72;
    public const short ValueRewriteDestination = 88;
    public const short ValueRewritePorts = 104;

    public const int FlagWithdrawn = 1;
    public const int FlagPending = 2;
    public const int FlagRewrite = 4;

    public const short StateLost = 0;
    public const short StateUnverdicted = 8;
}

/// <summary>One direction of a flow as the shortcut map keys it: where it comes in, and its addresses and ports.</summary>
internal readonly record struct ShortcutKey(int IfIndex, ushort Vlan, byte Protocol, IPAddress Source, IPAddress Destination, ushort SourcePort, ushort DestinationPort)
{
    public void Write(Span<byte> key)
    {
        key[..ShortcutLayout.KeySize].Clear();
        BinaryPrimitives.WriteInt32LittleEndian(key[ShortcutLayout.KeyIfIndex..], IfIndex);
        BinaryPrimitives.WriteUInt16LittleEndian(key[ShortcutLayout.KeyVlan..], Vlan);
        key[ShortcutLayout.KeyProtocol] = Protocol;
        key[ShortcutLayout.KeyFamily] = Source.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? (byte)4 : (byte)6;
        BinaryPrimitives.WriteUInt16BigEndian(key[ShortcutLayout.KeyPorts..], SourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(key[(ShortcutLayout.KeyPorts + 2)..], DestinationPort);
        if (!Source.TryWriteBytes(key[ShortcutLayout.KeySource..], out _) || !Destination.TryWriteBytes(key[ShortcutLayout.KeyDestination..], out _))
        {
            throw new ArgumentException("A shortcut key's addresses do not fit.");
        }
    }

    public static ShortcutKey Read(ReadOnlySpan<byte> key)
    {
        var v4 = key[ShortcutLayout.KeyFamily] == 4;
        var length = v4 ? 4 : 16;
        return new ShortcutKey(
            BinaryPrimitives.ReadInt32LittleEndian(key[ShortcutLayout.KeyIfIndex..]),
            BinaryPrimitives.ReadUInt16LittleEndian(key[ShortcutLayout.KeyVlan..]),
            key[ShortcutLayout.KeyProtocol],
            new IPAddress(key.Slice(ShortcutLayout.KeySource, length)),
            new IPAddress(key.Slice(ShortcutLayout.KeyDestination, length)),
            BinaryPrimitives.ReadUInt16BigEndian(key[ShortcutLayout.KeyPorts..]),
            BinaryPrimitives.ReadUInt16BigEndian(key[(ShortcutLayout.KeyPorts + 2)..]));
    }

    public override string ToString() =>
        $"{(Protocol == 6 ? "tcp" : Protocol == 17 ? "udp" : Protocol.ToString(System.Globalization.CultureInfo.InvariantCulture))} " +
        $"{Source}:{SourcePort} > {Destination}:{DestinationPort} in ifindex {IfIndex}{(Vlan == 0 ? string.Empty : $" vlan {Vlan}")}";
}

/// <summary>
/// How the kernel sends a shortcut flow's frames: out of which interface, tagged how, with which MACs, up to which MTU;
/// and the destination MAC a frame must have come in with (the ingress interface's shared MAC).
/// </summary>
internal readonly record struct ShortcutRoute(int EgressIfIndex, ushort EgressTci, PhysicalAddress Destination, PhysicalAddress Source, int Mtu, PhysicalAddress IngressMac,
    ShortcutRewrite? Rewrite = null);

/// <summary>
/// The addresses and ports a translated flow's frames leave with (the load balancer's or SNAT's mapping): the 16-byte
/// fields read big-endian, an IPv4 address in the first 4 bytes; ports in host order.
/// </summary>
internal readonly record struct ShortcutRewrite(UInt128 Source, UInt128 Destination, ushort SourcePort, ushort DestinationPort);

/// <summary>An entry of the shortcut map as read back: its route, flags and counters.</summary>
internal readonly record struct ShortcutEntry(ShortcutRoute Route, int Flags, ulong Packets, ulong Bytes, ulong LastUsedNs, ulong LeaseNs)
{
    public bool Withdrawn => (Flags & ShortcutLayout.FlagWithdrawn) != 0;

    public bool Pending => (Flags & ShortcutLayout.FlagPending) != 0;

    public void Write(Span<byte> value)
    {
        value[..ShortcutLayout.ValueSize].Clear();
        BinaryPrimitives.WriteInt32LittleEndian(value[ShortcutLayout.ValueEgressIfIndex..], Route.EgressIfIndex);
        BinaryPrimitives.WriteUInt16LittleEndian(value[ShortcutLayout.ValueEgressTci..], Route.EgressTci);
        BinaryPrimitives.WriteUInt16LittleEndian(value[ShortcutLayout.ValueFlags..], (ushort)Flags);
        Route.Destination.GetAddressBytes().CopyTo(value[ShortcutLayout.ValueDestinationMac..]);
        Route.Source.GetAddressBytes().CopyTo(value[ShortcutLayout.ValueSourceMac..]);
        BinaryPrimitives.WriteUInt64LittleEndian(value[ShortcutLayout.ValuePackets..], Packets);
        BinaryPrimitives.WriteUInt64LittleEndian(value[ShortcutLayout.ValueBytes..], Bytes);
        BinaryPrimitives.WriteUInt64LittleEndian(value[ShortcutLayout.ValueLastUsedNs..], LastUsedNs);
        BinaryPrimitives.WriteUInt64LittleEndian(value[ShortcutLayout.ValueLeaseNs..], LeaseNs);
        BinaryPrimitives.WriteInt32LittleEndian(value[ShortcutLayout.ValueMtu..], Route.Mtu);
        Route.IngressMac.GetAddressBytes().CopyTo(value[ShortcutLayout.ValueIngressMac..]);
        if (Route.Rewrite is { } rewrite)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(value[ShortcutLayout.ValueFlags..], (ushort)(Flags | ShortcutLayout.FlagRewrite));
            BinaryPrimitives.WriteUInt128BigEndian(value[ShortcutLayout.ValueRewriteSource..], rewrite.Source);
            BinaryPrimitives.WriteUInt128BigEndian(value[ShortcutLayout.ValueRewriteDestination..], rewrite.Destination);
            BinaryPrimitives.WriteUInt16BigEndian(value[ShortcutLayout.ValueRewritePorts..], rewrite.SourcePort);
            BinaryPrimitives.WriteUInt16BigEndian(value[(ShortcutLayout.ValueRewritePorts + 2)..], rewrite.DestinationPort);
        }
    }

    public static ShortcutEntry Read(ReadOnlySpan<byte> value) => new(
        new ShortcutRoute(
            BinaryPrimitives.ReadInt32LittleEndian(value[ShortcutLayout.ValueEgressIfIndex..]),
            BinaryPrimitives.ReadUInt16LittleEndian(value[ShortcutLayout.ValueEgressTci..]),
            new PhysicalAddress(value.Slice(ShortcutLayout.ValueDestinationMac, 6).ToArray()),
            new PhysicalAddress(value.Slice(ShortcutLayout.ValueSourceMac, 6).ToArray()),
            BinaryPrimitives.ReadInt32LittleEndian(value[ShortcutLayout.ValueMtu..]),
            new PhysicalAddress(value.Slice(ShortcutLayout.ValueIngressMac, 6).ToArray()),
            (BinaryPrimitives.ReadUInt16LittleEndian(value[ShortcutLayout.ValueFlags..]) & ShortcutLayout.FlagRewrite) == 0
                ? null
                : new ShortcutRewrite(
                    BinaryPrimitives.ReadUInt128BigEndian(value[ShortcutLayout.ValueRewriteSource..]),
                    BinaryPrimitives.ReadUInt128BigEndian(value[ShortcutLayout.ValueRewriteDestination..]),
                    BinaryPrimitives.ReadUInt16BigEndian(value[ShortcutLayout.ValueRewritePorts..]),
                    BinaryPrimitives.ReadUInt16BigEndian(value[(ShortcutLayout.ValueRewritePorts + 2)..]))),
        BinaryPrimitives.ReadUInt16LittleEndian(value[ShortcutLayout.ValueFlags..]) & ~ShortcutLayout.FlagRewrite,
        BinaryPrimitives.ReadUInt64LittleEndian(value[ShortcutLayout.ValuePackets..]),
        BinaryPrimitives.ReadUInt64LittleEndian(value[ShortcutLayout.ValueBytes..]),
        BinaryPrimitives.ReadUInt64LittleEndian(value[ShortcutLayout.ValueLastUsedNs..]),
        BinaryPrimitives.ReadUInt64LittleEndian(value[ShortcutLayout.ValueLeaseNs..]));
}

/// <summary>One shortcut entry as the control API shows it (<c>GET /shortcuts</c>).</summary>
/// <param name="Flow">The direction as it arrives, e.g. <c>tcp 192.0.2.10:40000 &gt; 192.0.2.100:80 in ifindex 4</c>.</param>
/// <param name="RewrittenTo">A translated flow: what the kernel rewrites it to (<c>198.51.100.1:61000 &gt; 198.51.100.11:8080</c>); null otherwise.</param>
/// <param name="State">live, pending (a keep-alive went to the data plane, the renewal is awaited) or withdrawn.</param>
internal sealed record ShortcutView(string Flow, int EgressIfIndex, int EgressVlan, string DestinationMac, string? RewrittenTo, ulong Packets, ulong Bytes, string State)
{
    public static ShortcutView From(in ShortcutKey key, in ShortcutEntry entry) => new(
        key.ToString(),
        entry.Route.EgressIfIndex,
        entry.Route.EgressTci & 0x0fff,
        string.Join(':', entry.Route.Destination.GetAddressBytes().Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture))),
        entry.Route.Rewrite is { } r ? $"{Address(r.Source, key)}:{r.SourcePort} > {Address(r.Destination, key)}:{r.DestinationPort}" : null,
        entry.Packets,
        entry.Bytes,
        entry.Withdrawn ? "withdrawn" : entry.Pending ? "pending" : "live");

    private static string Address(UInt128 field, in ShortcutKey key)
    {
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(bytes, field);
        return new IPAddress(key.Source.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? bytes[..4] : bytes).ToString();
    }
}
