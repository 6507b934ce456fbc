using System.Net;
using Dva.Shared.Contracts;
using Dva.Shared.Tables;

namespace Dva.Manager.Hubs;

/// <summary>
/// Checks what node agents send before anything acts on it. Returns the first problem as a sentence the
/// agent's operator can act on, or null when the message is acceptable.
/// </summary>
internal static class HubMessageValidator
{
    public const int MaxNameLength = 63;
    public const int MaxFrameSources = 32;
    public const int MaxTextLength = 256;
    public const int MaxRecentFlows = 256;
    public const int MaxCounters = 128;
    public const int MaxCores = 4096;

    public static string? Validate(NodeHello hello)
    {
        if (hello is null)
        {
            return "hello is required";
        }

        if (string.IsNullOrWhiteSpace(hello.Name) || hello.Name.Length > MaxNameLength || !hello.Name.All(IsNameChar))
        {
            return $"name must be 1..{MaxNameLength} characters of letters, digits, '-', '_' or '.'";
        }

        if (hello.TunnelEndpoint is null || !IPEndPoint.TryParse(hello.TunnelEndpoint, out var endpoint) || endpoint.Port == 0)
        {
            return $"tunnelEndpoint '{hello.TunnelEndpoint}' is not address:port";
        }

        if (hello.FrameSources is null || hello.FrameSources.Count > MaxFrameSources
            || hello.FrameSources.Any(s => string.IsNullOrWhiteSpace(s) || s.Length > MaxTextLength))
        {
            return $"frameSources must be at most {MaxFrameSources} non-empty strings of at most {MaxTextLength} characters";
        }

        if (hello.Cores is < 1 or > MaxCores)
        {
            return $"cores must be 1..{MaxCores}";
        }

        return hello.AgentVersion is null || hello.AgentVersion.Length > MaxTextLength
            ? $"agentVersion must be at most {MaxTextLength} characters"
            : null;
    }

    public static string? Validate(NodeHeartbeat heartbeat)
    {
        if (heartbeat?.Stats is not { } stats || heartbeat.BucketFlows is null || heartbeat.RecentFlows is null)
        {
            return "heartbeat with stats, bucketFlows and recentFlows is required";
        }

        if (!double.IsFinite(stats.CpuBusy) || stats.CpuBusy is < 0 or > 1)
        {
            return "stats.cpuBusy must be 0..1";
        }

        if (!double.IsFinite(stats.PacketsPerBusySecond) || stats.PacketsPerBusySecond < 0)
        {
            return "stats.packetsPerBusySecond must be a finite number ≥ 0";
        }

        if (stats.Tunnel is null || stats.Drops is null || stats.Tunnel.Count > MaxCounters || stats.Drops.Count > MaxCounters
            || stats.Tunnel.Keys.Concat(stats.Drops.Keys).Any(k => k.Length > MaxTextLength))
        {
            return $"stats.tunnel and stats.drops must have at most {MaxCounters} counters with short names";
        }

        if (heartbeat.BucketFlows.Count > TableLimits.MaxBucketCount
            || heartbeat.BucketFlows.Any(b => b is null || (uint)b.Bucket >= TableLimits.MaxBucketCount || b.Flows < 0))
        {
            return $"bucketFlows must have at most {TableLimits.MaxBucketCount} entries with bucket 0..{TableLimits.MaxBucketCount - 1} and flows ≥ 0";
        }

        if (heartbeat.RecentFlows.Count > MaxRecentFlows || heartbeat.RecentFlows.Any(f => f is null || TooLong(f)))
        {
            return $"recentFlows must have at most {MaxRecentFlows} samples with fields of at most {MaxTextLength} characters";
        }

        return null;
    }

    private static bool TooLong(FlowSample f) =>
        new[] { f.Protocol, f.Source, f.Destination, f.State, f.Verdict, f.Rule, f.Backend }.Any(s => s is { Length: > MaxTextLength });

    private static bool IsNameChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.';
}
