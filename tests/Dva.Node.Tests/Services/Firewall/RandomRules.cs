using System.Net;
using System.Net.Sockets;
using Dva.Node.Services;
using Dva.Node.Services.Firewall;

namespace Dva.Node.Tests.Services.Firewall;

/// <summary>Random rules and tuples drawn near them, so that every field's boundaries get exercised.</summary>
internal static class RandomRules
{
    private static readonly byte[] Protocols = [IpProtocols.Tcp, IpProtocols.Udp, IpProtocols.Icmp, IpProtocols.IcmpV6, IpProtocols.Sctp, 47];

    public static FirewallRule[] Create(Random random, int count)
    {
        var rules = new FirewallRule[count];
        for (int i = 0; i < count; i++)
        {
            bool v6 = random.Next(3) == 0;
            byte? protocol = random.Next(6) == 0 ? null : Protocols[random.Next(Protocols.Length)];
            bool ports = protocol is null || IpProtocols.HasPorts(protocol.Value);
            bool icmp = protocol is null or IpProtocols.Icmp or IpProtocols.IcmpV6;
            bool sourceAny = random.Next(6) == 0;
            rules[i] = new FirewallRule
            {
                Id = i,
                Priority = random.Next(count / 4),
                Action = (FirewallAction)random.Next(3),
                Protocol = protocol,
                Source = sourceAny ? null : Network(random, v6),
                // Every rule names at least one network, so traffic from elsewhere reaches the default.
                Destination = !sourceAny && random.Next(4) == 0 ? null : Network(random, v6),
                SourcePorts = ports && random.Next(4) == 0 ? Range(random) : null,
                DestinationPorts = ports && random.Next(2) == 0 ? Range(random) : null,
                IngressIfid = random.Next(5) == 0 ? (byte)random.Next(4) : null,
                IcmpType = icmp && random.Next(5) == 0 ? (byte)random.Next(4) : null,
                IngressVlan = random.Next(5) == 0 ? (ushort)(random.Next(3) * 10) : null,
                Enabled = random.Next(20) != 0,
            };
        }

        return rules;
    }

    /// <summary>Mostly a tuple inside a random rule, with one field often pushed just outside it; sometimes one from elsewhere.</summary>
    public static FlowTuple Tuple(Random random, FirewallRule[] rules)
    {
        if (random.Next(5) == 0)
        {
            // 203.0.113.0/24 and 2001:db8:ffff::/48 are outside every rule's networks.
            return random.Next(2) == 0
                ? FlowTuple.IPv4(0xCB00_7100u | (uint)random.Next(256), 0xCB00_7100u | (uint)random.Next(256), IpProtocols.Tcp, 1000, 80)
                : FlowTuple.IPv6(new UInt128(0x2001_0db8_ffff_0000UL, (ulong)random.NextInt64()), new UInt128(0x2001_0db8_ffff_0000UL, 1), IpProtocols.Udp, 1000, 53);
        }

        FirewallRule rule = rules[random.Next(rules.Length)];
        AddressFamily family = rule.Family ?? (random.Next(2) == 0 ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6);
        bool v6 = family == AddressFamily.InterNetworkV6;
        byte protocol = rule.Protocol ?? Protocols[random.Next(Protocols.Length)];
        int nudge = random.Next(9);
        return new FlowTuple(
            family,
            Address(random, rule.Source, v6, nudge == 0),
            Address(random, rule.Destination, v6, nudge == 1),
            nudge == 2 ? Protocols[random.Next(Protocols.Length)] : protocol,
            Port(random, rule.SourcePorts, nudge == 3),
            Port(random, rule.DestinationPorts, nudge == 4),
            nudge == 5 ? (byte)random.Next(4) : rule.IngressIfid ?? (byte)random.Next(4),
            nudge == 6 ? (byte)random.Next(4) : rule.IcmpType ?? (byte)random.Next(4),
            nudge == 7 ? (ushort)(random.Next(3) * 10) : rule.IngressVlan ?? (ushort)(random.Next(3) * 10));
    }

    private static IPNetwork Network(Random random, bool v6)
    {
        int width = v6 ? 128 : 32;
        // Short prefixes nest inside each other and long ones sit inside short ones; keep the
        // addresses in a small part of the space so that rules overlap.
        int length = random.Next(v6 ? 100 : 8, width + 1);
        UInt128 address = RandomAddress(random, v6);
        UInt128 mask = length == 0 ? UInt128.Zero : UInt128.MaxValue << (128 - length) >> (128 - width);
        return new IPNetwork(AddressBits.ToIPAddress(v6 ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork, address & mask), length);
    }

    private static UInt128 RandomAddress(Random random, bool v6)
    {
        ulong a = (ulong)random.Next(4);
        ulong b = (ulong)random.Next(64);
        ulong c = (ulong)random.Next(64);
        return v6
            ? new UInt128(0x2001_0db8_0000_0000UL | (a << 16) | c, b)
            : (UInt128)(0xC000_0000UL | (a << 16) | (b << 8) | c);
    }

    private static PortRange Range(Random random)
    {
        ushort from = (ushort)random.Next(0, 2048);
        return new PortRange(from, (ushort)Math.Min(65535, from + random.Next(0, 3) * random.Next(0, 600)));
    }

    private static UInt128 Address(Random random, IPNetwork? network, bool v6, bool outside)
    {
        UInt128 max = v6 ? UInt128.MaxValue : uint.MaxValue;
        if (network is not { } n)
        {
            return RandomAddress(random, v6);
        }

        (UInt128 low, UInt128 high) = PrefixRange.Of(n);
        return random.Next(4) switch
        {
            0 => outside && low > 0 ? low - 1 : low,
            1 => outside && high < max ? high + 1 : high,
            _ => low + (UInt128)(ulong)random.NextInt64() % (high - low + 1),
        };
    }

    private static ushort Port(Random random, PortRange? range, bool outside)
    {
        if (range is not { } r)
        {
            return (ushort)random.Next(0, 4096);
        }

        return random.Next(3) switch
        {
            0 => outside && r.From > 0 ? (ushort)(r.From - 1) : r.From,
            1 => outside && r.To < 65535 ? (ushort)(r.To + 1) : r.To,
            _ => (ushort)random.Next(r.From, r.To + 1),
        };
    }
}
