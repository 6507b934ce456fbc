using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Dva.Manager.Services;

/// <summary>Strict parsers for the network notations accepted in specs.</summary>
internal static class NetworkSyntax
{
    /// <summary>
    /// An IPv4 address in four dotted parts or any IPv6 address. <see cref="IPAddress.TryParse(string?, out IPAddress?)"/>
    /// alone also accepts "10" or "10.1", which nobody writing a firewall rule means.
    /// </summary>
    public static bool TryParseAddress(string text, out IPAddress address)
    {
        address = IPAddress.None;
        if (string.IsNullOrEmpty(text) || !IPAddress.TryParse(text, out var parsed))
        {
            return false;
        }

        if (parsed.AddressFamily == AddressFamily.InterNetwork && text.Count(c => c == '.') != 3)
        {
            return false;
        }

        if (parsed.AddressFamily == AddressFamily.InterNetworkV6 && (text.Contains('%', StringComparison.Ordinal) || parsed.ScopeId != 0))
        {
            return false;
        }

        address = parsed;
        return true;
    }

    /// <summary>An address with prefix length whose host bits may be set ("192.0.2.1/24": an interface address).</summary>
    public static bool TryParseInterfaceAddress(string text, out IPAddress address, out int prefixLength)
    {
        prefixLength = 0;
        address = IPAddress.None;
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0 || !TryParseAddress(text[..slash], out address))
        {
            return false;
        }

        var max = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        return int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out prefixLength)
            && prefixLength <= max;
    }

    /// <summary>The network an interface address lies in: <paramref name="address"/> with its host bits cleared.</summary>
    public static IPNetwork NetworkOf(IPAddress address, int prefixLength)
    {
        var bytes = address.GetAddressBytes();
        for (var i = 0; i < bytes.Length; i++)
        {
            var keep = Math.Clamp(prefixLength - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }

        return new IPNetwork(new IPAddress(bytes), prefixLength);
    }

    /// <summary>A network prefix with no host bits set; a bare address means a host prefix (/32 or /128).</summary>
    public static bool TryParsePrefix(string text, out IPNetwork network)
    {
        network = default;
        if (!text.Contains('/', StringComparison.Ordinal))
        {
            if (!TryParseAddress(text, out var host))
            {
                return false;
            }

            network = new IPNetwork(host, host.AddressFamily == AddressFamily.InterNetwork ? 32 : 128);
            return true;
        }

        if (!TryParseInterfaceAddress(text, out var address, out var prefixLength))
        {
            return false;
        }

        // IPNetwork.TryParse quietly accepts host bits; a rule author who wrote them most likely mistyped.
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out var length);
        for (var bit = prefixLength; bit < length * 8; bit++)
        {
            if ((bytes[bit / 8] & (0x80 >> (bit % 8))) != 0)
            {
                return false;
            }
        }

        network = new IPNetwork(address, prefixLength);
        return true;
    }

    /// <summary>A unicast, non-zero MAC address written as six colon-separated hex pairs.</summary>
    public static bool IsValidMac(string text)
    {
        if (text.Length != 17)
        {
            return false;
        }

        Span<byte> bytes = stackalloc byte[6];
        for (var i = 0; i < 6; i++)
        {
            if (i > 0 && text[(i * 3) - 1] != ':')
            {
                return false;
            }

            if (!byte.TryParse(text.AsSpan(i * 3, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out bytes[i]))
            {
                return false;
            }
        }

        var multicast = (bytes[0] & 1) != 0;
        return !multicast && bytes.ContainsAnyExcept((byte)0);
    }

    /// <summary>"" (any), "443" or "1024-65535".</summary>
    public static bool IsValidPortRange(string text)
    {
        if (text.Length == 0)
        {
            return true;
        }

        var dash = text.IndexOf('-', StringComparison.Ordinal);
        if (dash < 0)
        {
            return TryParsePort(text, out _);
        }

        return TryParsePort(text[..dash], out var low) && TryParsePort(text[(dash + 1)..], out var high) && low <= high;
    }

    public static bool IsValidPort(int port) => port is >= 1 and <= 65535;

    private static bool TryParsePort(string text, out int port) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port) && IsValidPort(port);
}
