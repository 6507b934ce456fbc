using System.Text.Json;
using Dva.Manager.Model;
using Dva.Manager.Security;
using Dva.Manager.Services;
using Dva.Shared.Tables;
using Dva.Web.Backend;
using Microsoft.AspNetCore.Components.Authorization;

namespace Dva.Manager.Dashboard;

/// <summary>
/// The dashboard's view of the manager. Each call runs in a DI scope of its own (a circuit lives for minutes
/// and its components call concurrently; one DbContext per call keeps them apart) and goes through the same
/// services as the REST API. Changes need the operator role, checked here against the signed-in user.
/// </summary>
internal sealed partial class DashboardBackend(IServiceScopeFactory scopes, AuthenticationStateProvider authentication, LiveState live) : IDashboardBackend
{
    private static readonly char[] AddressSeparators = [',', ' ', '\n', '\r', '\t'];

    public async Task<DashboardUser?> AuthenticateAsync(string apiKey, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(apiKey))
        {
            return null;
        }

        await using var scope = scopes.CreateAsyncScope();
        var key = await scope.ServiceProvider.GetRequiredService<ApiKeyService>().AuthenticateAsync(apiKey.Trim(), ct);
        return key is null ? null : new DashboardUser($"key:{key.Name}", key.KeyId, ApiRoles.Name(key.Role));
    }

    public async Task<DashboardUser?> CurrentUserAsync() =>
        DashboardRoles.FromPrincipal((await authentication.GetAuthenticationStateAsync()).User);

    public Task<IReadOnlyList<DvaSummary>> ListDvasAsync(CancellationToken ct) => ReadAsync<IReadOnlyList<DvaSummary>>(async services =>
    {
        var dvas = await services.GetRequiredService<DvaService>().ListAsync(ct);
        var nodes = await services.GetRequiredService<NodeRegistry>().ListAsync(null, ct);
        return [.. dvas.Select(d => Summary(d, nodes.Where(n => n.DvaId == d.Id)))];
    });

    public Task<DvaDetail?> GetDvaAsync(long dvaId, CancellationToken ct) => ReadAsync<DvaDetail?>(async services =>
    {
        if ((await services.GetRequiredService<DvaService>().GetAsync(dvaId, ct)).Value is not { } dva)
        {
            return null;
        }

        var nodes = await services.GetRequiredService<NodeRegistry>().ListAsync(dvaId, ct);
        var interfaces = (await services.GetRequiredService<SharedInterfaceService>().ListAsync(dvaId, ct)).Value ?? [];
        var lb = await LoadBalancerAsync(services, dvaId, ct);
        var serviceViews = new List<ServiceView>
        {
            new("firewall", "Firewall", $"default policy {Name(dva.Spec.FirewallDefaultPolicy)}, mid-stream {Name(dva.Spec.MidStreamPolicy)}", Status(dva.Status)),
        };
        serviceViews.AddRange(lb.Vips.Select(v => new ServiceView("vip", v.Name, $"{v.Address}:{v.Port}/{v.Protocol} → {v.PoolName}", v.Status)));
        serviceViews.AddRange(lb.Pools.Select(p => new ServiceView("pool", p.Name, $"{p.Method}, {p.Members.Count} member(s)", p.Status)));
        return new DvaDetail(
            Summary(dva, nodes), dva.Spec.Description, dva.Seed, dva.Spec.TunnelPort, dva.Spec.SecureTunnel,
            Name(dva.Spec.FirewallDefaultPolicy), dva.Spec.Scaling.MinDataPlanes, dva.Spec.Scaling.MaxDataPlanes,
            dva.Version, dva.Generation, dva.ObservedGeneration,
            [.. interfaces.Select(i => new InterfaceView(i.Id, i.Spec.Ifid, i.Spec.Name, i.Spec.Mac, i.Spec.Addresses, i.Spec.Attachment.NodeName, Status(i.Status),
                i.Spec.Attachment.FrameSource, i.Version, i.Spec.Vlans, i.Spec.RouterAdvertisements,
                [.. i.Spec.SubInterfaces.Select(v => new SubInterfaceView(v.Vlan, v.Addresses))], i.Spec.Dhcpv6, i.Spec.DnsServers, i.Spec.DnsSearch))],
            [.. nodes.Select(Unit)],
            serviceViews,
            dva.Spec.DataPlaneEngines,
            dva.Spec.DispatcherEngines,
            dva.Spec.SuperFrames,
            dva.Spec.Shortcuts);
    });

    public async Task<ChangeResult> CreateDvaAsync(DvaCreateRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        // An unknown kind goes to the service as an undefined value, so its own validation reports it.
        var kind = Enum.TryParse<ServiceKind>(request.ServiceKind, ignoreCase: true, out var parsed) ? parsed : (ServiceKind)(-1);

        var spec = new DvaSpec
        {
            Name = request.Name.Trim(),
            Description = request.Description,
            ServiceKind = kind,
            BucketCount = request.BucketCount,
            Scaling = new ScalingPolicy { MinDataPlanes = request.InitialDataPlanes, MaxDataPlanes = request.MaxDataPlanes },
            DataPlaneEngines = request.DataPlaneEngines,
            DispatcherEngines = request.DispatcherEngines,
            SuperFrames = request.SuperFrames,
            Shortcuts = request.Shortcuts,
        };
        return await ChangeAsync(async services =>
        {
            var dvas = services.GetRequiredService<DvaService>();
            var created = await dvas.CreateAsync(spec, ct);
            if (created.Failure is { } failure)
            {
                return Failed(failure);
            }

            var dvaId = created.Value!.Id;
            var interfaces = services.GetRequiredService<SharedInterfaceService>();
            for (var i = 0; i < request.Interfaces.Count; i++)
            {
                var form = request.Interfaces[i];
                var result = await interfaces.CreateAsync(dvaId, InterfaceSpec(form), ct);
                if (result.Failure is { } interfaceFailure)
                {
                    // The form is one change: a DVA whose interfaces were refused is taken back.
                    await dvas.DeleteAsync(dvaId, null, ct);
                    var prefixed = (interfaceFailure.Errors ?? new Dictionary<string, string[]>())
                        .ToDictionary(e => $"interfaces[{i}].{e.Key}", e => e.Value);
                    return ChangeResult.Failed($"Interface {i + 1}: {interfaceFailure.Detail}", prefixed);
                }
            }

            return ChangeResult.Ok(dvaId);
        });
    }

    public Task<ChangeResult> ScaleAsync(long dvaId, int dataPlanes, long version, CancellationToken ct) =>
        ChangeAsync(async services => Result(await services.GetRequiredService<DvaService>()
            .ScaleAsync(dvaId, new ScaleRequest { DataPlanes = dataPlanes }, version, ct)));

    public Task<ChangeResult> ChangeUnitAsync(long nodeKey, UnitAction action, long version, CancellationToken ct) =>
        ChangeAsync(async services =>
        {
            var registry = services.GetRequiredService<NodeRegistry>();
            return Result(action switch
            {
                UnitAction.Drain => await registry.DrainAsync(nodeKey, version, ct),
                UnitAction.Enable => await registry.EnableAsync(nodeKey, version, ct),
                _ => await registry.RemoveAsync(nodeKey, version, ct),
            });
        });

    public Task<FirewallRuleList?> GetFirewallRulesAsync(long dvaId, CancellationToken ct) => ReadAsync<FirewallRuleList?>(async services =>
    {
        if ((await services.GetRequiredService<DvaService>().GetAsync(dvaId, ct)).Value is not { } dva
            || (await services.GetRequiredService<FirewallRuleService>().GetListAsync(dvaId, ct)).Value is not { } list)
        {
            return null;
        }

        return new FirewallRuleList(dvaId,
            [.. list.Rules.Select(r => new FirewallRuleView(r.Id, r.Spec.Priority ?? 0, Form(r.Spec), Status(r.Status), r.Version))],
            list.Version, Name(dva.Spec.FirewallDefaultPolicy));
    });

    public Task<ChangeResult> AddFirewallRuleAsync(long dvaId, FirewallRuleForm rule, CancellationToken ct) =>
        WithRuleSpecAsync(rule, null, (service, spec) => service.CreateAsync(dvaId, spec, ct));

    public async Task<ChangeResult> ReplaceFirewallRuleAsync(long dvaId, long ruleId, FirewallRuleForm rule, long version, CancellationToken ct)
    {
        var current = await GetFirewallRulesAsync(dvaId, ct);
        var priority = current?.Rules.FirstOrDefault(r => r.Id == ruleId)?.Priority;
        return await WithRuleSpecAsync(rule, priority, (service, spec) => service.ReplaceAsync(dvaId, ruleId, spec, version, ct));
    }

    public Task<ChangeResult> SetFirewallRuleEnabledAsync(long dvaId, long ruleId, bool enabled, long version, CancellationToken ct) =>
        ChangeAsync(async services => Result(await services.GetRequiredService<FirewallRuleService>()
            .PatchAsync(dvaId, ruleId, new FirewallRulePatch { Enabled = enabled }, version, ct)));

    public Task<ChangeResult> DeleteFirewallRuleAsync(long dvaId, long ruleId, long version, CancellationToken ct) =>
        ChangeAsync(async services => Result(await services.GetRequiredService<FirewallRuleService>().DeleteAsync(dvaId, ruleId, version, ct)));

    public Task<ChangeResult> MoveFirewallRuleAsync(long dvaId, long ruleId, int direction, long listVersion, CancellationToken ct) =>
        ChangeAsync(async services =>
        {
            var service = services.GetRequiredService<FirewallRuleService>();
            var list = await service.GetListAsync(dvaId, ct);
            if (list.Failure is { } failure)
            {
                return Failed(failure);
            }

            if (list.Value!.Version != listVersion)
            {
                return Failed(ServiceFailure.Stale(list.Value.Version));
            }

            var rules = list.Value.Rules.ToList();
            var from = rules.FindIndex(r => r.Id == ruleId);
            var to = from + Math.Sign(direction);
            if (from < 0 || to < 0 || to >= rules.Count)
            {
                return ChangeResult.Failed("The rule cannot move further.");
            }

            (rules[from], rules[to]) = (rules[to], rules[from]);
            return Result(await service.ReplaceListAsync(dvaId, [.. rules.Select(r => r.Spec)], listVersion, ct));
        });

    public Task<LoadBalancerView?> GetLoadBalancerAsync(long dvaId, CancellationToken ct) => ReadAsync<LoadBalancerView?>(async services =>
        (await services.GetRequiredService<DvaService>().GetAsync(dvaId, ct)).Value is null ? null : await LoadBalancerAsync(services, dvaId, ct));

    public Task<ChangeResult> SetMemberStateAsync(long dvaId, long poolId, long memberId, string adminState, long version, CancellationToken ct) =>
        ChangeAsync(async services =>
        {
            if (!Enum.TryParse<MemberAdminState>(adminState, ignoreCase: true, out var state))
            {
                return ChangeResult.Failed("Unknown member state.", new Dictionary<string, string[]> { ["adminState"] = ["Must be enabled, draining or disabled."] });
            }

            return await ReplaceMemberAsync(services, dvaId, poolId, memberId, m => m with { AdminState = state }, version, ct);
        });

    public Task<AuditPage> GetAuditAsync(long? dvaId, int page, int pageSize, CancellationToken ct) => ReadAsync(async services =>
    {
        var result = await services.GetRequiredService<AuditLog>().ListAsync(dvaId, page, pageSize, ct);
        return new AuditPage(
            [.. result.Items.Select(e => new AuditRow(e.Id, e.Actor, e.Time, e.Operation, e.TargetType, e.TargetId, e.DvaId, e.Before, e.After))],
            result.Page, result.PageSize, result.Total);
    });

    public Task<IReadOnlyList<EraView>> GetErasAsync(long dvaId, CancellationToken ct) => ReadAsync<IReadOnlyList<EraView>>(async services =>
    {
        var stored = (await services.GetRequiredService<TableHistoryService>().ListAsync(dvaId, 1, TableHistoryService.MaxPageSize, ct)).Value?.Items ?? [];
        var rolled = live.Eras(dvaId).ToDictionary(e => e.Version);
        var eras = stored.Select(s => rolled.TryGetValue((ulong)s.Version, out var r)
                ? new EraView(r.Version, r.Era, r.Cause, r.MovedBuckets, r.RolloutDuration, s.Created, s.RolledOut, true)
                : new EraView((ulong)s.Version, s.Era, s.Cause, null, null, s.Created, s.RolledOut, true))
            .ToList();
        eras.AddRange(rolled.Values.Where(r => stored.All(s => (ulong)s.Version != r.Version))
            .Select(r => new EraView(r.Version, r.Era, r.Cause, r.MovedBuckets, r.RolloutDuration, r.At, r.At, false)));
        return [.. eras.OrderByDescending(e => e.Version)];
    });

    public IDisposable SubscribeLive(Action onChange) => live.Subscribe(_ => onChange());

    public UnitLive? GetUnitLive(long nodeKey)
    {
        if (live.Node(nodeKey) is not { } node)
        {
            return null;
        }

        var stats = node.Heartbeat.Stats;
        var punts = stats.Tunnel.Where(t => t.Key.Contains("punt", StringComparison.OrdinalIgnoreCase)).Sum(t => t.Value);
        var entries = LiveState.Tunnel(node.Heartbeat, LiveState.ShortcutEntries);
        // A unit whose kernel never carried a flow (every data plane, a dispatcher without shortcuts) shows nothing
        // more; one that did keeps its line when the traffic stops, so the figure does not come and go.
        var shortcut = entries > 0 || LiveState.Tunnel(node.Heartbeat, LiveState.ShortcutInstalled) > 0
                || LiveState.Tunnel(node.Heartbeat, LiveState.ShortcutFramesForwarded) > 0
            ? new ShortcutLive(node.Latest?.ShortcutPps ?? 0, node.Latest?.ShortcutBitsPerSecond ?? 0, entries)
            : null;
        return new UnitLive(nodeKey, node.At, node.Latest?.PpsIn ?? 0, node.Latest?.PpsOut ?? 0, stats.CpuBusy, stats.PacketsPerBusySecond,
            stats.FlowsActive, node.Heartbeat.TableVersion, punts, stats.Drops, shortcut);
    }

    public IReadOnlyList<ChartPoint> GetUnitChart(long nodeKey) =>
        [.. live.Samples(nodeKey).Select(s => new ChartPoint(s.At, s.PpsIn, s.PpsOut, s.CpuBusy, s.ShortcutPps))];

    public IReadOnlyList<FlowRow> GetFlows(long dvaId) =>
        [.. live.Flows(dvaId).Select(f => new FlowRow(f.At, f.Flow.Protocol, f.Flow.Source, f.Flow.Destination, f.Flow.Bucket, f.Flow.NodeId,
            f.Flow.State, f.Flow.Verdict, f.Flow.Rule, f.Flow.Backend, f.Flow.Packets, f.Flow.Bytes))];

    public TableVersion? GetCurrentTable(long dvaId) => live.Table(dvaId);

    public IReadOnlyDictionary<long, RuleHits> GetRuleHits(long dvaId) =>
        live.RuleCounters(dvaId).ToDictionary(c => c.Key, c => new RuleHits(c.Value.Packets, c.Value.Bytes));

    public IReadOnlyDictionary<string, MemberLive> GetMemberLive(long dvaId) =>
        live.Vips(dvaId).SelectMany(v => v.Members).GroupBy(m => m.Address).ToDictionary(
            g => g.Key, g => new MemberLive(g.Sum(m => m.ActiveFlows), g.Sum(m => m.TotalConnections), g.Sum(m => m.Bytes)));

    private async Task<T> ReadAsync<T>(Func<IServiceProvider, Task<T>> read)
    {
        await using var scope = scopes.CreateAsyncScope();
        return await read(scope.ServiceProvider);
    }

    private async Task<ChangeResult> ChangeAsync(Func<IServiceProvider, Task<ChangeResult>> change)
    {
        var user = await CurrentUserAsync();
        if (user is null)
        {
            return ChangeResult.Failed("Sign in to make changes.");
        }

        if (!user.CanChange)
        {
            return ChangeResult.Failed($"The key {user.Name} has the {user.Role} role; changes need the operator role.");
        }

        await using var scope = scopes.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<DashboardActor>().Name = user.Name;
        return await change(scope.ServiceProvider);
    }

    private Task<ChangeResult> WithRuleSpecAsync<T>(
        FirewallRuleForm form, int? priority, Func<FirewallRuleService, FirewallRuleSpec, Task<ServiceResult<T>>> change)
    {
        ArgumentNullException.ThrowIfNull(form);
        var errors = new Dictionary<string, string[]>();
        if (!Enum.TryParse<RuleAction>(form.Action, ignoreCase: true, out var action))
        {
            errors["action"] = ["Must be accept, drop or reject."];
        }

        if (!Enum.TryParse<RuleProtocol>(form.Protocol, ignoreCase: true, out var protocol))
        {
            errors["protocol"] = ["Unknown protocol."];
        }

        if (errors.Count > 0)
        {
            return Task.FromResult(ChangeResult.Failed("One or more fields are invalid.", errors));
        }

        var spec = new FirewallRuleSpec
        {
            Priority = priority,
            Action = action,
            Protocol = protocol,
            Source = form.Source.Trim(),
            Destination = form.Destination.Trim(),
            SourcePorts = form.SourcePorts.Trim(),
            DestinationPorts = form.DestinationPorts.Trim(),
            IngressIfid = form.IngressIfid,
            IngressVlan = form.IngressVlan,
            IcmpType = form.IcmpType,
            Enabled = form.Enabled,
            Description = form.Description,
        };
        return ChangeAsync(async services => Result(await change(services.GetRequiredService<FirewallRuleService>(), spec)));
    }

    private static async Task<LoadBalancerView> LoadBalancerAsync(IServiceProvider services, long dvaId, CancellationToken ct)
    {
        var pools = (await services.GetRequiredService<PoolService>().ListAsync(dvaId, ct)).Value ?? [];
        var vips = (await services.GetRequiredService<VipService>().ListAsync(dvaId, ct)).Value ?? [];
        var members = services.GetRequiredService<MemberService>();
        var poolViews = new List<PoolView>(pools.Count);
        foreach (var pool in pools)
        {
            var list = (await members.ListAsync(dvaId, pool.Id, ct)).Value;
            poolViews.Add(new PoolView(pool.Id, pool.Spec.Name, Name(pool.Spec.Method),
                [.. (list?.Members ?? []).Select(m => new MemberRow(m.Id, m.Spec.Address, m.Spec.Port, m.Spec.Weight,
                    Name(m.Spec.AdminState), Name(m.Health), Status(m.Status), m.Version))],
                Status(pool.Status), list?.Version ?? pool.Version));
        }

        return new LoadBalancerView(
            [.. vips.Select(v => new VipView(v.Id, v.Spec.Name, v.Spec.Address, v.Spec.Port, Name(v.Spec.Protocol), v.Spec.PoolId,
                pools.FirstOrDefault(p => p.Id == v.Spec.PoolId)?.Spec.Name ?? $"pool {v.Spec.PoolId}", Status(v.Status)))],
            poolViews);
    }

    private DvaSummary Summary(DvaView dva, IEnumerable<NodeView> nodes)
    {
        var units = nodes.ToList();
        return new DvaSummary(dva.Id, dva.Spec.Name, Name(dva.Spec.ServiceKind), dva.Spec.BucketCount, dva.DesiredDataPlanes,
            units.Count(n => n.Role == NodeRole.Dispatcher), units.Count(n => n.Role == NodeRole.DataPlane), Status(dva.Status),
            live.Table(dva.Id)?.Version);
    }

    private static UnitView Unit(NodeView n) =>
        new(n.Id, n.Name, Name(n.Role), n.NodeId, n.TunnelEndpoint, Name(n.State), Status(n.Status), n.LastHeartbeat, n.MeasuredCapacity, n.Weight, n.Version);

    private static FirewallRuleForm Form(FirewallRuleSpec spec) => new()
    {
        Action = Name(spec.Action),
        Protocol = Name(spec.Protocol),
        Source = spec.Source,
        Destination = spec.Destination,
        SourcePorts = spec.SourcePorts,
        DestinationPorts = spec.DestinationPorts,
        IngressIfid = spec.IngressIfid,
        IngressVlan = spec.IngressVlan,
        IcmpType = spec.IcmpType,
        Enabled = spec.Enabled,
        Description = spec.Description,
    };

    private static StatusView Status(ResourceStatus status) => new(
        ProvisioningName(status.ProvisioningStatus),
        status.OperatingStatus.ToString().ToUpperInvariant(),
        [.. status.Conditions.Select(c => $"{c.Type}={c.Status} ({c.Reason}): {c.Message}")]);

    private static string ProvisioningName(ProvisioningStatus status) => status switch
    {
        ProvisioningStatus.Active => "ACTIVE",
        ProvisioningStatus.PendingCreate => "PENDING_CREATE",
        ProvisioningStatus.PendingUpdate => "PENDING_UPDATE",
        ProvisioningStatus.PendingDelete => "PENDING_DELETE",
        _ => "ERROR",
    };

    /// <summary>An enum value as the REST API writes it (camelCase).</summary>
    private static string Name<TEnum>(TEnum value)
        where TEnum : struct, Enum => JsonNamingPolicy.CamelCase.ConvertName(value.ToString());

    private static ChangeResult Result<T>(ServiceResult<T> result) =>
        result.Failure is { } failure ? Failed(failure) : ChangeResult.Ok();

    private static ChangeResult Failed(ServiceFailure failure) =>
        ChangeResult.Failed(failure.Detail, new Dictionary<string, string[]>(failure.Errors ?? new Dictionary<string, string[]>()));
}
