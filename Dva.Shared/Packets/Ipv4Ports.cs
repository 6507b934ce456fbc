namespace Dva.Shared.Packets;

/// <summary>
/// The 5-tuple of an IPv4 TCP or UDP packet as <see cref="PacketParser.TryReadIpv4Ports"/> reads it (addresses in
/// host order), and the TCP flags (0 for UDP).
/// </summary>
public readonly struct Ipv4Ports(byte protocol, uint source, uint destination, ushort sourcePort, ushort destinationPort, TcpFlags tcpFlags)
{
    public byte Protocol { get; } = protocol;

    public uint Source { get; } = source;

    public uint Destination { get; } = destination;

    public ushort SourcePort { get; } = sourcePort;

    public ushort DestinationPort { get; } = destinationPort;

    public TcpFlags TcpFlags { get; } = tcpFlags;
}
