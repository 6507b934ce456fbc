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

    /// <summary>An agent's reason for not running its role (an exception message, a list of configuration errors).</summary>
    public const int MaxRoleErrorLength = 1000;
    public const int MaxRecentFlows = 256;
    public const int MaxCounters = 128;
    public const int MaxCores = 4096;
    public const int MaxRules = 4096;
    public const int MaxVips = 1024;
    public const int MaxMembers = 1024;

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

        if (heartbeat.RoleError is { Length: > MaxRoleErrorLength })
        {
            return $"roleError must be at most {MaxRoleErrorLength} characters";
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

        if (heartbeat.Rules is { } rules && (rules.Count > MaxRules + 1
            || rules.Any(r => r is null || r.Evaluations < 0 || r.Flows < 0 || r.Packets < 0 || r.Bytes < 0)))
        {
            return $"rules must have at most {MaxRules + 1} entries with counters ≥ 0";
        }

        if (heartbeat.Vips is { } vips && (vips.Count > MaxVips
            || vips.Any(v => v is null || v.Address is not { Length: > 0 and <= MaxTextLength } || v.TotalConnections < 0 || v.Bytes < 0
                || v.Members is null || v.Members.Count > MaxMembers
                || v.Members.Any(m => m is null || m.Address is not { Length: > 0 and <= MaxTextLength } || m.TotalConnections < 0 || m.Bytes < 0))))
        {
            return $"vips must have at most {MaxVips} entries of at most {MaxMembers} members, with addresses and counters ≥ 0";
        }

        return null;
    }

    private static bool TooLong(FlowSample f) =>
        new[] { f.Protocol, f.Source, f.Destination, f.State, f.Verdict, f.Rule, f.Backend }.Any(s => s is { Length: > MaxTextLength });

    private static bool IsNameChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.';
}
