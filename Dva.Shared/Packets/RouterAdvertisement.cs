using System.Buffers.Binary;

namespace Dva.Shared.Packets;

/// <summary>
/// IPv6 router discovery (RFC 4861 §4.1, §4.2, §6): how hosts on a link learn their default router and, by stateless
/// address autoconfiguration (RFC 4862), their addresses, without being configured. A router sends advertisements from its
/// link-local address to all nodes, now and then and when a host solicits one.
/// <code>
///  ICMPv6 after the IPv6 header (hop limit 255):
///  RS: type 133 | code 0 | checksum | reserved (4) | options
///  RA: type 134 | code 0 | checksum | cur hop limit (1) | M O flags (1) | router lifetime s (2) | reachable time ms (4)
///      | retrans timer ms (4) | options
///  options: source link-layer address (type 1, 8 bytes), MTU (type 5, 8 bytes: reserved 2, MTU 4),
///           prefix information (type 3, 32 bytes: prefix length, L A flags, valid lifetime, preferred lifetime,
///           reserved 4, prefix 16), recursive DNS servers (type 25, RFC 8106: reserved 2, lifetime 4, 16 per server),
///           DNS search list (type 31: reserved 2, lifetime 4, the domains as DNS labels, zero-padded to 8 bytes)
/// </code>
/// </summary>
public static class RouterAdvertisement
{
    public const byte SolicitationType = 133;
    public const byte AdvertisementType = 134;

    /// <summary>Router lifetime, seconds: three times the longest interval between unsolicited advertisements (RFC 4861 §6.2.1).</summary>
    public const ushort DefaultRouterLifetime = 1800;

    /// <summary>Valid lifetime of an advertised prefix, seconds (30 days, RFC 4861 §6.2.1's default).</summary>
    public const uint ValidLifetime = 2_592_000;

    /// <summary>Preferred lifetime of an advertised prefix, seconds (7 days).</summary>
    public const uint PreferredLifetime = 604_800;

    /// <summary>The most prefixes one advertisement carries (an interface's IPv6 subnets).</summary>
    public const int MaxPrefixes = 16;

    /// <summary>The most DNS servers (RDNSS) and search domains (DNSSL) one advertisement carries.</summary>
    public const int MaxDnsServers = 8;

    public const int MaxSearchDomains = 8;

    /// <summary>Lifetime of the DNS options, seconds: 3 × the longest advertisement interval (RFC 8106 §5.1), the router lifetime.</summary>
    public const uint DnsLifetime = 1800;

    private const int Ipv6HeaderLength = 40;
    private const int HeaderLength = 16;
    private const int SourceLinkLayerOptionLength = 8;
    private const int MtuOptionLength = 8;
    private const int PrefixOptionLength = 32;
    private const byte CurHopLimit = 64;
    private const byte ManagedFlag = 0x80;
    private const byte OtherFlag = 0x40;
    private const int DnsOptionHeaderLength = 8;
    private const byte OnLinkFlag = 0x80;
    private const byte AutonomousFlag = 0x40;
    private const int SlaacPrefixLength = 64;

    /// <summary>ff02::1, all nodes on the link.</summary>
    private static readonly UInt128 AllNodes = new(0xff02_0000_0000_0000, 1);

    /// <summary>True for a parsed router solicitation with hop limit 255 (RFC 4861 §6.1.1).</summary>
    public static bool IsSolicitation(in PacketInfo info) =>
        info.IpVersion == 6 && info.Protocol == PacketConstants.ProtocolIcmpv6 && info.HasTransportHeader
        && info.IcmpType == SolicitationType && info.HopLimit == NeighbourDiscovery.HopLimit;

    /// <summary>The link-local address made from <paramref name="mac"/> (modified EUI-64, RFC 4291 §2.5.1): fe80::XXXX:XXff:feXX:XXXX.</summary>
    public static UInt128 LinkLocalFor(ReadOnlySpan<byte> mac)
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(mac.Length, 6);
        var interfaceId = ((ulong)(mac[0] ^ 0x02) << 56) | ((ulong)mac[1] << 48) | ((ulong)mac[2] << 40) | (0xFFFEUL << 24)
            | ((ulong)mac[3] << 16) | ((ulong)mac[4] << 8) | mac[5];
        return new UInt128(0xfe80_0000_0000_0000, interfaceId);
    }

    /// <summary>
    /// The search domains as a DNS search list option carries them (RFC 8106 §5.2): each name as DNS labels ending in
    /// the zero label, all zero-padded to a multiple of 8 bytes. False, with the reason, for a name that is not a host
    /// name (labels of 1..63 letters, digits and hyphens, not starting or ending with a hyphen; 253 characters at most)
    /// or more than <see cref="MaxSearchDomains"/>.
    /// </summary>
    public static bool TryEncodeSearchList(IReadOnlyList<string> domains, out byte[] encoded, out string? error)
    {
        ArgumentNullException.ThrowIfNull(domains);
        encoded = [];
        error = null;
        if (domains.Count > MaxSearchDomains)
        {
            error = $"at most {MaxSearchDomains} search domains";
            return false;
        }

        var bytes = new List<byte>();
        foreach (var domain in domains)
        {
            var name = domain.TrimEnd('.');
            if (name.Length is 0 or > 253)
            {
                error = $"'{domain}' is not a domain name";
                return false;
            }

            foreach (var label in name.Split('.'))
            {
                if (label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-' || !label.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'))
                {
                    error = $"'{domain}' is not a domain name (labels of letters, digits and hyphens)";
                    return false;
                }

                bytes.Add((byte)label.Length);
                bytes.AddRange(System.Text.Encoding.ASCII.GetBytes(label.ToLowerInvariant()));
            }

            bytes.Add(0);
        }

        while (bytes.Count % 8 != 0)
        {
            bytes.Add(0);
        }

        encoded = [.. bytes];
        return true;
    }

    /// <summary>
    /// An advertisement from <paramref name="routerMac"/> and its link-local address to all nodes (33:33:00:00:00:01,
    /// ff02::1): this router for <paramref name="routerLifetime"/> seconds, a source link-layer option, an MTU option when
    /// <paramref name="mtu"/> is not 0, and a prefix information option per <paramref name="prefixes"/> entry (on-link;
    /// autonomous, so hosts make their own addresses in it, when it is a /64). Tagged when <paramref name="vlanTci"/> is set.
    /// <paramref name="hostConfiguration"/> adds the M and O flags, DNS servers and the search list; their lifetime is
    /// <see cref="DnsLifetime"/>, or 0 when the router lifetime is 0 (the router is leaving: hosts drop them too).
    /// Returns its length, or 0 when it does not fit <paramref name="destination"/> or there are too many prefixes.
    /// </summary>
    public static int Write(Span<byte> destination, ReadOnlySpan<byte> routerMac, ReadOnlySpan<(UInt128 Prefix, int Length)> prefixes, ushort routerLifetime,
        uint mtu, ushort? vlanTci = null, HostConfiguration? hostConfiguration = null)
    {
        var host = hostConfiguration ?? HostConfiguration.None;
        if (prefixes.Length > MaxPrefixes || host.DnsServers.Count > MaxDnsServers)
        {
            return 0;
        }

        Span<byte> allNodesMac = [0x33, 0x33, 0, 0, 0, 1];
        var l3 = vlanTci is { } tci
            ? PacketBuilder.WriteEthernet(destination, allNodesMac, routerMac, PacketConstants.EtherTypeIpv6, tci)
            : PacketBuilder.WriteEthernet(destination, allNodesMac, routerMac, PacketConstants.EtherTypeIpv6);
        var rdnssLength = host.DnsServers.Count == 0 ? 0 : DnsOptionHeaderLength + (host.DnsServers.Count * 16);
        var dnsslLength = host.SearchList.Length == 0 ? 0 : DnsOptionHeaderLength + host.SearchList.Length;
        var messageLength = HeaderLength + SourceLinkLayerOptionLength + (mtu != 0 ? MtuOptionLength : 0) + (prefixes.Length * PrefixOptionLength)
            + rdnssLength + dnsslLength;
        if (l3 == 0 || destination.Length < l3 + Ipv6HeaderLength + messageLength)
        {
            return 0;
        }

        var ip = NeighbourDiscovery.WriteLinkHeader(destination.Slice(l3, Ipv6HeaderLength), messageLength, LinkLocalFor(routerMac), AllNodes);
        var message = destination.Slice(l3 + Ipv6HeaderLength, messageLength);
        message.Clear();
        message[0] = AdvertisementType;
        message[4] = CurHopLimit;
        message[5] = host.Dhcpv6 switch
        {
            Dhcpv6Mode.Managed => ManagedFlag | OtherFlag,
            Dhcpv6Mode.Other => OtherFlag,
            _ => 0,
        };
        BinaryPrimitives.WriteUInt16BigEndian(message[6..], routerLifetime);
        var o = HeaderLength;
        message[o] = 1;
        message[o + 1] = 1;
        routerMac.CopyTo(message[(o + 2)..]);
        o += SourceLinkLayerOptionLength;
        if (mtu != 0)
        {
            message[o] = 5;
            message[o + 1] = 1;
            BinaryPrimitives.WriteUInt32BigEndian(message[(o + 4)..], mtu);
            o += MtuOptionLength;
        }

        foreach (var (prefix, length) in prefixes)
        {
            message[o] = 3;
            message[o + 1] = 4;
            message[o + 2] = (byte)length;
            message[o + 3] = (byte)(OnLinkFlag | (length == SlaacPrefixLength ? AutonomousFlag : 0));
            BinaryPrimitives.WriteUInt32BigEndian(message[(o + 4)..], ValidLifetime);
            BinaryPrimitives.WriteUInt32BigEndian(message[(o + 8)..], PreferredLifetime);
            BinaryPrimitives.WriteUInt128BigEndian(message[(o + 16)..], prefix);
            o += PrefixOptionLength;
        }

        var dnsLifetime = routerLifetime == 0 ? 0 : DnsLifetime;
        if (rdnssLength != 0)
        {
            message[o] = 25;
            message[o + 1] = (byte)(rdnssLength / 8);
            BinaryPrimitives.WriteUInt32BigEndian(message[(o + 4)..], dnsLifetime);
            for (var i = 0; i < host.DnsServers.Count; i++)
            {
                BinaryPrimitives.WriteUInt128BigEndian(message[(o + DnsOptionHeaderLength + (i * 16))..], host.DnsServers[i]);
            }

            o += rdnssLength;
        }

        if (dnsslLength != 0)
        {
            message[o] = 31;
            message[o + 1] = (byte)(dnsslLength / 8);
            BinaryPrimitives.WriteUInt32BigEndian(message[(o + 4)..], dnsLifetime);
            host.SearchList.CopyTo(message[(o + DnsOptionHeaderLength)..]);
            o += dnsslLength;
        }

        NeighbourDiscovery.WriteChecksum(ip, message);
        return l3 + Ipv6HeaderLength + messageLength;
    }
}

/// <summary>Where hosts get what SLAAC does not give them: the M and O flags (RFC 4861 §4.2) point them at DHCPv6.</summary>
public enum Dhcpv6Mode
{
    /// <summary>Neither flag: addresses by SLAAC, DNS from the advertisement's own options.</summary>
    None,

    /// <summary>O: addresses by SLAAC, other configuration (DNS and more) from DHCPv6.</summary>
    Other,

    /// <summary>M and O: addresses and other configuration from DHCPv6.</summary>
    Managed,
}

/// <summary>
/// What an advertisement tells hosts besides the router and its prefixes: the DHCPv6 flags, recursive DNS servers and
/// the DNS search list (RFC 8106), <see cref="SearchList"/> already encoded (<see cref="RouterAdvertisement.TryEncodeSearchList"/>).
/// </summary>
public sealed record HostConfiguration(Dhcpv6Mode Dhcpv6, IReadOnlyList<UInt128> DnsServers, byte[] SearchList)
{
    public static HostConfiguration None { get; } = new(Dhcpv6Mode.None, [], []);
}
