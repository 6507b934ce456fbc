using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Dva.Node.Services;

/// <summary>
/// What the services need to know about a flow's first packet, cheap to fill from a parsed packet.
/// Addresses are big-endian numbers: an IPv4 address sits in the low 32 bits and <see cref="Family"/>
/// says which kind it is, so one comparison serves both families. Ports are 0 for protocols without
/// ports; <see cref="IcmpType"/> is meaningful only for ICMP and ICMPv6.
/// </summary>
[StructLayout(LayoutKind.Auto)]
internal readonly struct FlowTuple
{
    public FlowTuple(
        AddressFamily family, UInt128 source, UInt128 destination, byte protocol,
        ushort sourcePort, ushort destinationPort, byte ingressIfid, byte icmpType, ushort ingressVlan = 0)
    {
        Family = family;
        Source = source;
        Destination = destination;
        Protocol = protocol;
        SourcePort = sourcePort;
        DestinationPort = destinationPort;
        IngressIfid = ingressIfid;
        IcmpType = icmpType;
        IngressVlan = ingressVlan;
    }

    public AddressFamily Family { get; }
    public UInt128 Source { get; }
    public UInt128 Destination { get; }
    public byte Protocol { get; }
    public ushort SourcePort { get; }
    public ushort DestinationPort { get; }
    public byte IngressIfid { get; }
    public byte IcmpType { get; }

    /// <summary>The VLAN id the flow's first packet came in tagged with, 0 untagged.</summary>
    public ushort IngressVlan { get; }

    public bool IsIPv6 => Family == AddressFamily.InterNetworkV6;

    /// <summary>TCP, UDP and SCTP carry ports; for anything else the port fields mean nothing.</summary>
    public bool HasPorts => IpProtocols.HasPorts(Protocol);

    /// <summary>ICMP for the tuple's own family (ICMP over IPv4, ICMPv6 over IPv6).</summary>
    public bool IsIcmp => Protocol == (IsIPv6 ? IpProtocols.IcmpV6 : IpProtocols.Icmp);

    public static FlowTuple IPv4(
        uint source, uint destination, byte protocol, ushort sourcePort, ushort destinationPort,
        byte ingressIfid = 0, byte icmpType = 0, ushort ingressVlan = 0) =>
        new(AddressFamily.InterNetwork, source, destination, protocol, sourcePort, destinationPort, ingressIfid, icmpType, ingressVlan);

    public static FlowTuple IPv6(
        UInt128 source, UInt128 destination, byte protocol, ushort sourcePort, ushort destinationPort,
        byte ingressIfid = 0, byte icmpType = 0, ushort ingressVlan = 0) =>
        new(AddressFamily.InterNetworkV6, source, destination, protocol, sourcePort, destinationPort, ingressIfid, icmpType, ingressVlan);

    /// <summary>Builds a tuple from <see cref="IPAddress"/> values; for configuration and tests, not per packet.</summary>
    public static FlowTuple From(
        IPAddress source, IPAddress destination, byte protocol, ushort sourcePort = 0, ushort destinationPort = 0,
        byte ingressIfid = 0, byte icmpType = 0, ushort ingressVlan = 0)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        if (source.AddressFamily != destination.AddressFamily)
        {
            throw new ArgumentException("Source and destination must be of the same address family.", nameof(destination));
        }

        return new FlowTuple(
            source.AddressFamily, AddressBits.ToUInt128(source), AddressBits.ToUInt128(destination),
            protocol, sourcePort, destinationPort, ingressIfid, icmpType, ingressVlan);
    }
}

/// <summary>IANA protocol numbers the services care about.</summary>
internal static class IpProtocols
{
    public const byte Icmp = 1;
    public const byte Tcp = 6;
    public const byte Udp = 17;
    public const byte IcmpV6 = 58;
    public const byte Sctp = 132;

    public static bool HasPorts(byte protocol) => protocol is Tcp or Udp or Sctp;
}

/// <summary>Conversions between <see cref="IPAddress"/> and the big-endian numbers the services compare.</summary>
internal static class AddressBits
{
    public static UInt128 ToUInt128(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        Span<byte> bytes = stackalloc byte[16];
        if (!address.TryWriteBytes(bytes, out int written))
        {
            throw new ArgumentException($"Cannot read address {address}.", nameof(address));
        }

        return written == 4
            ? BinaryPrimitives.ReadUInt32BigEndian(bytes)
            : BinaryPrimitives.ReadUInt128BigEndian(bytes);
    }

    public static IPAddress ToIPAddress(AddressFamily family, UInt128 value)
    {
        if (family == AddressFamily.InterNetwork)
        {
            Span<byte> v4 = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(v4, (uint)value);
            return new IPAddress(v4);
        }

        Span<byte> v6 = stackalloc byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(v6, value);
        return new IPAddress(v6);
    }

    /// <summary>Address width in bits for the family (32 or 128).</summary>
    public static int Width(AddressFamily family) => family == AddressFamily.InterNetworkV6 ? 128 : 32;
}
