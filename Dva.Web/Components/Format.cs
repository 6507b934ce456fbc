using System.Globalization;

namespace Dva.Web.Components;

/// <summary>How numbers and names read on every page.</summary>
internal static class Format
{
    public static string ServiceKind(string kind) => kind switch
    {
        "firewall" => "Firewall",
        "loadBalancer" => "Load balancer",
        "firewallAndLoadBalancer" => "Firewall + load balancer",
        _ => kind,
    };

    public static string Role(string role) => role switch
    {
        "dataPlane" => "data plane",
        "dispatcher" => "dispatcher",
        _ => role,
    };

    /// <summary>1 234, 12.3 k, 4.56 M: short enough for a table cell.</summary>
    public static string Rate(double value) => value switch
    {
        >= 1e9 => (value / 1e9).ToString("0.00", CultureInfo.InvariantCulture) + " G",
        >= 1e6 => (value / 1e6).ToString("0.00", CultureInfo.InvariantCulture) + " M",
        >= 1e4 => (value / 1e3).ToString("0.0", CultureInfo.InvariantCulture) + " k",
        _ => value.ToString("0", CultureInfo.InvariantCulture),
    };

    /// <summary>850 bit/s, 12.3 Mbit/s, 30.1 Gbit/s: a link's rate as network people say it (powers of 1000).</summary>
    public static string Bits(double bitsPerSecond) => bitsPerSecond switch
    {
        >= 1e9 => (bitsPerSecond / 1e9).ToString("0.0", CultureInfo.InvariantCulture) + " Gbit/s",
        >= 1e6 => (bitsPerSecond / 1e6).ToString("0.0", CultureInfo.InvariantCulture) + " Mbit/s",
        >= 1e3 => (bitsPerSecond / 1e3).ToString("0.0", CultureInfo.InvariantCulture) + " kbit/s",
        _ => bitsPerSecond.ToString("0", CultureInfo.InvariantCulture) + " bit/s",
    };

    public static string Bytes(long value) => value switch
    {
        >= 1L << 30 => (value / (double)(1L << 30)).ToString("0.0", CultureInfo.InvariantCulture) + " GiB",
        >= 1L << 20 => (value / (double)(1L << 20)).ToString("0.0", CultureInfo.InvariantCulture) + " MiB",
        >= 1L << 10 => (value / (double)(1L << 10)).ToString("0.0", CultureInfo.InvariantCulture) + " KiB",
        _ => value.ToString(CultureInfo.InvariantCulture) + " B",
    };

    public static string Count(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    public static string Percent(double share) => (share * 100).ToString("0.0", CultureInfo.InvariantCulture) + " %";

    public static string Ago(DateTimeOffset? at, DateTimeOffset now)
    {
        if (at is not { } time)
        {
            return "never";
        }

        var age = now - time;
        return age.TotalSeconds < 1 ? "just now"
            : age.TotalSeconds < 90 ? $"{age.TotalSeconds:0} s ago"
            : age.TotalMinutes < 90 ? $"{age.TotalMinutes:0} min ago"
            : time.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
    }

    public static string Time(DateTimeOffset at) => at.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    public static string Duration(TimeSpan span) => span.TotalSeconds < 1
        ? span.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture) + " ms"
        : span.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + " s";
}
