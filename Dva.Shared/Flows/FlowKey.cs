using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Dva.Shared.Packets;
using static Dva.Shared.Packets.PacketConstants;

namespace Dva.Shared.Flows;

/// <summary>How a <see cref="FlowKey"/> identifies its flow (DESIGN.md §3).</summary>
public enum FlowKeyKind : byte
{
    None = 0,

    /// <summary>TCP/UDP/SCTP: (protocol, lower endpoint, higher endpoint), endpoint = (address, port).</summary>
    Ports = 1,

    /// <summary>ICMP/ICMPv6 echo: (protocol, sorted addresses, identifier).</summary>
    IcmpEcho = 2,

    /// <summary>Fragments and other protocols: (protocol, sorted addresses).</summary>
    Addresses = 3,
}

/// <summary>
/// Canonical symmetric flow key: both directions of a flow give the same key, so they hash to the same
/// bucket. The struct is its canonical byte form, which is what <see cref="FlowHasher"/> hashes:
/// <code>
///  offset  size  field
///   0       1    IP version (4 or 6)
///   1       1    protocol (IPv4 protocol / IPv6 upper-layer next header)
///   2       1    kind (<see cref="FlowKeyKind"/>)
///   3       1    zero
///   4      16    lower address, big-endian; IPv4 in bytes 16..19 after 12 zero bytes
///  20      16    higher address, same encoding
///  36       2    lower endpoint's port (Ports), echo identifier (IcmpEcho), else zero; big-endian
///  38       2    higher endpoint's port (Ports), else zero; big-endian
/// </code>
/// Endpoints compare address first, then port; "lower" is the smaller. Changing this layout changes
/// every bucket assignment (a golden-value test guards it).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public readonly struct FlowKey : IEquatable<FlowKey>
{
    public const int Size = 40;

    private const int VersionOffset = 0;
    private const int ProtocolOffset = 1;
    private const int KindOffset = 2;
    private const int LowerAddressOffset = 4;
    private const int HigherAddressOffset = 20;
    private const int LowerPortOffset = 36;
    private const int HigherPortOffset = 38;

    private readonly KeyBytes _bytes;

    private FlowKey(in KeyBytes bytes) => _bytes = bytes;

    [InlineArray(Size)]
    private struct KeyBytes
    {
        private byte _element;
    }

    public byte Version => _bytes[VersionOffset];

    public byte Protocol => _bytes[ProtocolOffset];

    public FlowKeyKind Kind => (FlowKeyKind)_bytes[KindOffset];

    public IpAddr LowerAddress => ReadAddress(LowerAddressOffset);

    public IpAddr HigherAddress => ReadAddress(HigherAddressOffset);

    /// <summary>The lower endpoint's port, or the echo identifier for <see cref="FlowKeyKind.IcmpEcho"/>.</summary>
    public ushort LowerPort => BinaryPrimitives.ReadUInt16BigEndian(Bytes[LowerPortOffset..]);

    public ushort HigherPort => BinaryPrimitives.ReadUInt16BigEndian(Bytes[HigherPortOffset..]);

    internal ReadOnlySpan<byte> Bytes => MemoryMarshal.CreateReadOnlySpan(ref Unsafe.As<KeyBytes, byte>(ref Unsafe.AsRef(in _bytes)), Size);

    /// <summary>Copies the canonical bytes (<see cref="Size"/> of them); false when the destination is too small.</summary>
    public bool TryCopyTo(Span<byte> destination) => Bytes.TryCopyTo(destination);

    /// <summary>
    /// The key of a successfully parsed IP packet. <paramref name="isForward"/> is true when the packet
    /// travels from the lower endpoint to the higher one (for an ICMP error: when the error does, i.e.
    /// the opposite of the packet it quotes). Returns false for non-IP frames (ARP and other L2 traffic
    /// take the broadcast chain).
    /// </summary>
    public static bool TryFrom(in PacketInfo info, out FlowKey key, out bool isForward)
    {
        if (!info.IsIp)
        {
            key = default;
            isForward = false;
            return false;
        }

        if (info.IsFragment)
        {
            key = ForAddresses(info.IpVersion, info.Protocol, info.Source, info.Destination, out isForward);
            return true;
        }

        if (info.IsIcmpError)
        {
            key = ForQuote(info.Inner, out bool quotedForward);
            isForward = !quotedForward;
            return true;
        }

        if (info.HasPorts)
        {
            key = ForPorts(info.IpVersion, info.Protocol, info.Source, info.SrcPort, info.Destination, info.DstPort, out isForward);
        }
        else if (info.IsIcmpEcho)
        {
            key = ForEcho(info.IpVersion, info.Protocol, info.Source, info.Destination, info.IcmpId, out isForward);
        }
        else
        {
            key = ForAddresses(info.IpVersion, info.Protocol, info.Source, info.Destination, out isForward);
        }

        return true;
    }

    /// <summary>
    /// The key of an IPv4 TCP/UDP frame read straight from its bytes (<see cref="PacketParser.TryReadIpv4Ports"/>),
    /// the same key and direction <see cref="TryFrom"/> gives after a full parse, at a fraction of the cost. False for
    /// any other frame (VLAN stacks, IPv6, fragments, ICMP, malformed headers): parse it and use <see cref="TryFrom"/>.
    /// <paramref name="tcpFlags"/> are the packet's TCP flags (0 for UDP).
    /// </summary>
    public static bool TryFromFrame(ReadOnlySpan<byte> frame, out FlowKey key, out bool isForward, out TcpFlags tcpFlags)
    {
        if (!PacketParser.TryReadIpv4Ports(frame, out var ports))
        {
            key = default;
            isForward = false;
            tcpFlags = 0;
            return false;
        }

        tcpFlags = ports.TcpFlags;
        isForward = ports.Source < ports.Destination || (ports.Source == ports.Destination && ports.SourcePort <= ports.DestinationPort);
        var bytes = default(KeyBytes);
        Span<byte> span = bytes;
        span[VersionOffset] = 4;
        span[ProtocolOffset] = ports.Protocol;
        span[KindOffset] = (byte)FlowKeyKind.Ports;
        BinaryPrimitives.WriteUInt32BigEndian(span[(LowerAddressOffset + 12)..], isForward ? ports.Source : ports.Destination);
        BinaryPrimitives.WriteUInt32BigEndian(span[(HigherAddressOffset + 12)..], isForward ? ports.Destination : ports.Source);
        BinaryPrimitives.WriteUInt16BigEndian(span[LowerPortOffset..], isForward ? ports.SourcePort : ports.DestinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(span[HigherPortOffset..], isForward ? ports.DestinationPort : ports.SourcePort);
        key = new FlowKey(bytes);
        return true;
    }

    private static FlowKey ForQuote(in QuotedPacket quote, out bool isForward)
    {
        if (quote.IsFragment)
        {
            return ForAddresses(quote.IpVersion, quote.Protocol, quote.Source, quote.Destination, out isForward);
        }

        if (quote.HasPorts)
        {
            return ForPorts(quote.IpVersion, quote.Protocol, quote.Source, quote.SrcPort, quote.Destination, quote.DstPort, out isForward);
        }

        if (quote.HasIcmpHeader && PacketParser.IsEcho(quote.IpVersion, quote.IcmpType))
        {
            return ForEcho(quote.IpVersion, quote.Protocol, quote.Source, quote.Destination, quote.IcmpId, out isForward);
        }

        return ForAddresses(quote.IpVersion, quote.Protocol, quote.Source, quote.Destination, out isForward);
    }

    /// <summary>
    /// The key of a packet described by its 5-tuple (NAT reply-key prediction, manager look-ups).
    /// TCP/UDP/SCTP use the ports; ICMP (1) and ICMPv6 (58) take the echo identifier in
    /// <paramref name="sourcePort"/>; any other protocol keys on addresses only. Both addresses must be
    /// of the same family.
    /// </summary>
    public static FlowKey FromTuple(IpAddr source, IpAddr destination, ushort sourcePort, ushort destinationPort, byte protocol, out bool isForward) =>
        protocol switch
        {
            ProtocolTcp or ProtocolUdp or ProtocolSctp => ForPorts(source.Version, protocol, source, sourcePort, destination, destinationPort, out isForward),
            ProtocolIcmp or ProtocolIcmpv6 => ForEcho(source.Version, protocol, source, destination, sourcePort, out isForward),
            _ => ForAddresses(source.Version, protocol, source, destination, out isForward),
        };

    /// <inheritdoc cref="FromTuple(IpAddr, IpAddr, ushort, ushort, byte, out bool)"/>
    public static FlowKey FromTuple(IpAddr source, IpAddr destination, ushort sourcePort, ushort destinationPort, byte protocol) =>
        FromTuple(source, destination, sourcePort, destinationPort, protocol, out _);

    /// <summary>The (protocol, sorted addresses) key every fragment of a datagram maps to.</summary>
    public static FlowKey FromAddresses(IpAddr source, IpAddr destination, byte protocol) =>
        ForAddresses(source.Version, protocol, source, destination, out _);

    private static FlowKey ForPorts(byte version, byte protocol, IpAddr source, ushort sourcePort, IpAddr destination, ushort destinationPort, out bool isForward)
    {
        int byAddress = source.CompareTo(destination);
        isForward = byAddress < 0 || (byAddress == 0 && sourcePort <= destinationPort);
        return isForward
            ? Create(version, protocol, FlowKeyKind.Ports, source, destination, sourcePort, destinationPort)
            : Create(version, protocol, FlowKeyKind.Ports, destination, source, destinationPort, sourcePort);
    }

    private static FlowKey ForEcho(byte version, byte protocol, IpAddr source, IpAddr destination, ushort identifier, out bool isForward)
    {
        isForward = source <= destination;
        return isForward
            ? Create(version, protocol, FlowKeyKind.IcmpEcho, source, destination, identifier, 0)
            : Create(version, protocol, FlowKeyKind.IcmpEcho, destination, source, identifier, 0);
    }

    private static FlowKey ForAddresses(byte version, byte protocol, IpAddr source, IpAddr destination, out bool isForward)
    {
        isForward = source <= destination;
        return isForward
            ? Create(version, protocol, FlowKeyKind.Addresses, source, destination, 0, 0)
            : Create(version, protocol, FlowKeyKind.Addresses, destination, source, 0, 0);
    }

    private static FlowKey Create(byte version, byte protocol, FlowKeyKind kind, IpAddr lower, IpAddr higher, ushort lowerPort, ushort higherPort)
    {
        var bytes = default(KeyBytes);
        Span<byte> span = bytes;
        span[VersionOffset] = version;
        span[ProtocolOffset] = protocol;
        span[KindOffset] = (byte)kind;
        BinaryPrimitives.WriteUInt128BigEndian(span[LowerAddressOffset..], lower.Value);
        BinaryPrimitives.WriteUInt128BigEndian(span[HigherAddressOffset..], higher.Value);
        BinaryPrimitives.WriteUInt16BigEndian(span[LowerPortOffset..], lowerPort);
        BinaryPrimitives.WriteUInt16BigEndian(span[HigherPortOffset..], higherPort);
        return new FlowKey(bytes);
    }

    private IpAddr ReadAddress(int offset)
    {
        UInt128 value = BinaryPrimitives.ReadUInt128BigEndian(Bytes[offset..]);
        return Version switch
        {
            4 => IpAddr.FromV4((uint)value),
            6 => IpAddr.FromV6(value),
            _ => default,
        };
    }

    public bool Equals(FlowKey other) => Bytes.SequenceEqual(other.Bytes);

    public override bool Equals(object? obj) => obj is FlowKey other && Equals(other);

    // For dictionaries inside one process: HashCode is randomly seeded per process, which is what a
    // table keyed by outside traffic wants. Bucket choice uses FlowHasher with the DVA seed instead.
    public override int GetHashCode()
    {
        ReadOnlySpan<byte> bytes = Bytes;
        return HashCode.Combine(
            MemoryMarshal.Read<ulong>(bytes),
            MemoryMarshal.Read<ulong>(bytes[8..]),
            MemoryMarshal.Read<ulong>(bytes[16..]),
            MemoryMarshal.Read<ulong>(bytes[24..]),
            MemoryMarshal.Read<ulong>(bytes[32..]));
    }

    public static bool operator ==(FlowKey left, FlowKey right) => left.Equals(right);

    public static bool operator !=(FlowKey left, FlowKey right) => !left.Equals(right);

    /// <summary>For logs (allocates).</summary>
    public override string ToString()
    {
        string protocol = Protocol switch
        {
            ProtocolTcp => "tcp",
            ProtocolUdp => "udp",
            ProtocolSctp => "sctp",
            ProtocolIcmp => "icmp",
            ProtocolIcmpv6 => "icmpv6",
            _ => "proto " + Protocol.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        return Kind switch
        {
            FlowKeyKind.Ports => $"{protocol} {Endpoint(LowerAddress, LowerPort)} <-> {Endpoint(HigherAddress, HigherPort)}",
            FlowKeyKind.IcmpEcho => $"{protocol} {LowerAddress} <-> {HigherAddress} id {LowerPort}",
            FlowKeyKind.Addresses => $"{protocol} {LowerAddress} <-> {HigherAddress}",
            _ => "none",
        };
    }

    private static string Endpoint(IpAddr address, ushort port) =>
        address.IsV6 ? $"[{address}]:{port}" : $"{address}:{port}";
}
