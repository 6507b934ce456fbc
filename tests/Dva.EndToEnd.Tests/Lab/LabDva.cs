using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Dva.EndToEnd.Tests.Lab;

/// <summary>
/// The lab's DVA as an operator makes it over the REST API: firewall (tcp 8080 and 5201-5202, ICMP accepted, the
/// rest dropped; loose mid-stream), shared interfaces ifid 1 (outside, 192.0.2.1 and the VIP 192.0.2.100, on the
/// dispatcher's <see cref="Lab.OutsideSource"/>) and ifid 2 (inside, 198.51.100.1, <see cref="Lab.InsideSource"/>),
/// VIP 192.0.2.100:80 → B1:8080, B2:8080 weighted round robin. Then reads what the manager says about it.
/// </summary>
internal sealed class LabDva
{
    public const string Vip = "192.0.2.100";

    private readonly Lab _lab;

    private LabDva(Lab lab, long id, long poolId)
    {
        _lab = lab;
        Id = id;
        PoolId = poolId;
    }

    public long Id { get; }

    public long PoolId { get; }

    private HttpClient Api => _lab.Api;

    /// <param name="superFrames">The spec's <c>superFrames</c>: GSO/GRO super-frames through the DVA (docs/node.md "Super-frames").</param>
    /// <param name="shortcuts">The spec's <c>shortcuts</c>: the kernel forwards established flows (docs/node.md "Kernel shortcut").</param>
    public static async Task<LabDva> CreateAsync(Lab lab, bool superFrames = false, bool shortcuts = false)
    {
        ArgumentNullException.ThrowIfNull(lab);
        var id = (await PostAsync(lab.Api, "api/v1/dvas", new
        {
            name = "lab",
            serviceKind = "firewallAndLoadBalancer",
            bucketCount = 256,
            firewallDefaultPolicy = "drop",
            midStreamPolicy = "loose",
            superFrames,
            shortcuts,
            scaling = new { minDataPlanes = 1, maxDataPlanes = 8, targetUtilizationPercent = 60 },
        })).GetProperty("id").GetInt64();
        var dva = $"api/v1/dvas/{id}";
        await PostAsync(lab.Api, $"{dva}/firewall-rules", new { priority = 10, action = "accept", protocol = "tcp", destinationPorts = "8080", description = "web" });
        await PostAsync(lab.Api, $"{dva}/firewall-rules", new { priority = 20, action = "accept", protocol = "tcp", destinationPorts = "5201-5202", description = "iperf3" });
        await PostAsync(lab.Api, $"{dva}/firewall-rules", new { priority = 30, action = "accept", protocol = "icmp", description = "ping" });
        await PostAsync(lab.Api, $"{dva}/interfaces", new
        {
            ifid = 1, name = "outside", mac = "02:00:5e:00:00:01", addresses = new[] { "192.0.2.1/24", $"{Vip}/24" },
            attachment = new { nodeName = lab.Dispatcher.Name, frameSource = Lab.OutsideSource },
        });
        await PostAsync(lab.Api, $"{dva}/interfaces", new
        {
            ifid = 2, name = "inside", mac = "02:00:5e:00:00:02", addresses = new[] { "198.51.100.1/24" },
            attachment = new { nodeName = lab.Dispatcher.Name, frameSource = Lab.InsideSource },
        });
        var pool = (await PostAsync(lab.Api, $"{dva}/pools", new { name = "web", method = "weightedRoundRobin" })).GetProperty("id").GetInt64();
        await PostAsync(lab.Api, $"{dva}/pools/{pool}/members", new { address = "198.51.100.11", port = 8080, weight = 1 });
        await PostAsync(lab.Api, $"{dva}/pools/{pool}/members", new { address = "198.51.100.12", port = 8080, weight = 1 });
        await PostAsync(lab.Api, $"{dva}/vips", new { name = "web", address = Vip, port = 80, protocol = "tcp", poolId = pool });
        return new LabDva(lab, id, pool);
    }

    public Task ScaleAsync(int dataPlanes) => PostAsync(Api, $"api/v1/dvas/{Id}:scale", new { dataPlanes });

    /// <summary>
    /// Turns the spec's <c>superFrames</c> on or off as an operator would: reads the DVA, PUTs its spec back with that one
    /// field changed. Returns the DVA's generation after the change (its <c>observedGeneration</c> reaches it once rolled out).
    /// </summary>
    public async Task<long> SetSuperFramesAsync(bool superFrames)
    {
        var dva = await _lab.Manager!.TryGetAsync($"api/v1/dvas/{Id}") ?? throw new InvalidOperationException($"GET api/v1/dvas/{Id} did not answer");
        var spec = JsonNode.Parse(dva.GetProperty("spec").GetRawText())!.AsObject();
        spec["superFrames"] = superFrames;
        using var response = await Api.PutAsJsonAsync(new Uri($"api/v1/dvas/{Id}", UriKind.Relative), spec);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"PUT api/v1/dvas/{Id} with superFrames {superFrames}: {(int)response.StatusCode} {text}");
        using var document = JsonDocument.Parse(text);
        return document.RootElement.GetProperty("generation").GetInt64();
    }

    /// <summary>Both members with new weights (the pool's member list replaced).</summary>
    public async Task SetMemberWeightsAsync(int backend1, int backend2)
    {
        using var response = await Api.PutAsJsonAsync(new Uri($"api/v1/dvas/{Id}/pools/{PoolId}/members", UriKind.Relative), new[]
        {
            new { address = "198.51.100.11", port = 8080, weight = backend1 },
            new { address = "198.51.100.12", port = 8080, weight = backend2 },
        });
        Assert.True(response.IsSuccessStatusCode, $"PUT members: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    /// <summary>POST /nodes/{key}:{action} (drain, remove, enable).</summary>
    public Task NodeActionAsync(long nodeKey, string action) => PostAsync(Api, $"api/v1/nodes/{nodeKey}:{action}", null);

    /// <summary>The manager's registry entry of <paramref name="unit"/>, null until it registered.</summary>
    public async Task<JsonElement?> NodeAsync(LabUnit unit) =>
        await _lab.Manager!.TryGetAsync("api/v1/nodes") is { } nodes
            ? nodes.EnumerateArray().Where(n => n.GetProperty("name").GetString() == unit.Name).Select(n => (JsonElement?)n).FirstOrDefault()
            : null;

    /// <summary>Node id of <paramref name="unit"/> in this DVA, or null while it is not allocated to it.</summary>
    public async Task<ushort?> NodeIdAsync(LabUnit unit) =>
        await NodeAsync(unit) is { } node && node.GetProperty("dvaId") is { ValueKind: JsonValueKind.Number } dva && dva.GetInt64() == Id
            ? (ushort)node.GetProperty("nodeId").GetInt32()
            : null;

    /// <summary>The rollout log the manager keeps (since its start).</summary>
    public async Task<List<JsonElement>> RolloutsAsync() =>
        await _lab.Manager!.TryGetAsync($"api/v1/dvas/{Id}/rollouts") is { } list ? [.. list.EnumerateArray()] : [];

    /// <summary>The audit log entries of this DVA.</summary>
    public async Task<List<JsonElement>> AuditAsync() =>
        await _lab.Manager!.TryGetAsync($"api/v1/audit?dvaId={Id}") is { } list
            ? [.. (list.ValueKind == JsonValueKind.Array ? list : list.GetProperty("items")).EnumerateArray()]
            : [];

    /// <summary>
    /// Waits until the dispatcher forwards with a table whose serving data planes (weight &gt; 0) satisfy
    /// <paramref name="serving"/>; returns that table (the dispatcher installs last, so the rollout is through).
    /// </summary>
    public async Task<JsonElement> WaitForDispatcherTableAsync(string what, TimeSpan timeout, Func<IReadOnlyList<PeerWeight>, long, bool> serving)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < timeout)
        {
            if (Lab.Control(_lab.Dispatcher, "table") is { } table)
            {
                var peers = Peers(table);
                if (serving(peers, table.GetProperty("version").GetInt64()))
                {
                    return table;
                }
            }

            await Task.Delay(250);
        }

        Assert.Fail($"Timed out after {timeout.TotalSeconds} s waiting for {what}:\n{_lab.Diagnostics()}");
        return default;
    }

    public static IReadOnlyList<PeerWeight> Peers(JsonElement table) =>
    [
        .. table.GetProperty("peers").EnumerateArray()
            .Where(p => p.GetProperty("role").GetString() == "DataPlane")
            .Select(p => new PeerWeight((ushort)p.GetProperty("nodeId").GetInt32(), p.GetProperty("endpoint").GetString()!, p.GetProperty("weight").GetInt32())),
    ];

    /// <summary>
    /// Every committed version in <paramref name="rollouts"/> went data planes first: each data plane acked (installed)
    /// before the dispatcher phase started, and no dispatcher acked before the last data plane. Returns the problems.
    /// </summary>
    public static List<string> DataPlanesFirstViolations(IEnumerable<JsonElement> rollouts)
    {
        var problems = new List<string>();
        foreach (var log in rollouts)
        {
            var version = log.GetProperty("version").GetInt64();
            var phase = log.GetProperty("phase").GetString();
            if (phase is "dataPlanes" or "dispatchers")
            {
                // Still rolling out (a history prune right after the last change): nothing to judge yet.
                continue;
            }

            if (!string.Equals(phase, "committed", StringComparison.OrdinalIgnoreCase))
            {
                problems.Add(string.Create(CultureInfo.InvariantCulture, $"v{version} is {log.GetProperty("phase")}"));
                continue;
            }

            var acks = log.GetProperty("acks").EnumerateArray().ToList();
            var dataPlanes = acks.Where(a => IsRole(a, "dataPlane")).ToList();
            var dispatchers = acks.Where(a => IsRole(a, "dispatcher")).ToList();
            if (dataPlanes.Count == 0)
            {
                problems.Add(string.Create(CultureInfo.InvariantCulture, $"v{version}: no data-plane ack"));
                continue;
            }

            if (dataPlanes.Any(a => !a.GetProperty("installed").GetBoolean()))
            {
                problems.Add(string.Create(CultureInfo.InvariantCulture, $"v{version}: a data plane did not install it"));
            }

            var lastDataPlane = dataPlanes.Max(a => a.GetProperty("at").GetDateTimeOffset());
            // A dispatcher that did not ack in time is in the log's failed list; the order still holds for the phase.
            var firstDispatcher = dispatchers.Count == 0 ? DateTimeOffset.MaxValue : dispatchers.Min(a => a.GetProperty("at").GetDateTimeOffset());
            var dispatchersStarted = log.GetProperty("dispatchersStarted").GetDateTimeOffset();
            if (lastDataPlane > dispatchersStarted || lastDataPlane > firstDispatcher)
            {
                problems.Add(string.Create(CultureInfo.InvariantCulture,
                    $"v{version}: last data-plane ack {lastDataPlane:O}, dispatcher phase {dispatchersStarted:O}, first dispatcher ack {firstDispatcher:O}"));
            }
        }

        return problems;
    }

    private static bool IsRole(JsonElement ack, string role) => string.Equals(ack.GetProperty("role").GetString(), role, StringComparison.OrdinalIgnoreCase);

    private static async Task<JsonElement> PostAsync(HttpClient api, string path, object? body)
    {
        using var response = body is null
            ? await api.PostAsync(new Uri(path, UriKind.Relative), null)
            : await api.PostAsJsonAsync(new Uri(path, UriKind.Relative), body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"POST {path}: {(int)response.StatusCode} {text}");
        if (response.StatusCode == HttpStatusCode.Accepted || text.Length == 0)
        {
            return default;
        }

        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }
}

/// <summary>A data plane as a table names it.</summary>
internal sealed record PeerWeight(ushort NodeId, string Endpoint, int Weight);
