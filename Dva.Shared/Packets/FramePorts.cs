namespace Dva.Shared.Packets;

/// <summary>
/// The 5-tuple of an IPv4 or IPv6 TCP/UDP packet as <see cref="PacketParser.TryReadPorts"/> reads it: addresses as
/// numbers (an IPv4 address in the low 32 bits, as <see cref="IpAddr"/> holds it), and the TCP flags (0 for UDP).
/// </summary>
public readonly struct FramePorts(byte version, byte protocol, UInt128 source, UInt128 destination, ushort sourcePort, ushort destinationPort, TcpFlags tcpFlags)
{
    public byte Version { get; } = version;

    public byte Protocol { get; } = protocol;

    public UInt128 Source { get; } = source;

    public UInt128 Destination { get; } = destination;

    public ushort SourcePort { get; } = sourcePort;

    public ushort DestinationPort { get; } = destinationPort;

    public TcpFlags TcpFlags { get; } = tcpFlags;
}
