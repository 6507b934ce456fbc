using Dva.Manager.Model;
using Dva.Manager.Security;
using Dva.Manager.Services;
using Dva.Web.Backend;

namespace Dva.Manager.Dashboard;

// Interfaces, static routes, the load balancer's VIPs, pools and members, and API keys: each change goes through
// the REST API's own service, so its validation (field errors as JSON paths), ETags and audit entries are the same.
internal sealed partial class DashboardBackend
{
    public Task<ChangeResult> SaveInterfaceAsync(long dvaId, long? interfaceId, InterfaceForm form, long version, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(form);
        return SaveChildAsync<SharedInterfaceService, SharedInterface, SharedInterfaceSpec>(dvaId, interfaceId, InterfaceSpec(form), version, ct);
    }

    public Task<ChangeResult> DeleteInterfaceAsync(long dvaId, long interfaceId, long version, CancellationToken ct) =>
        ChangeAsync(async services => Result(await services.GetRequiredService<SharedInterfaceService>().DeleteAsync(dvaId, interfaceId, version, ct)));

    public Task<IReadOnlyList<StaticRouteRow>?> GetRoutesAsync(long dvaId, CancellationToken ct) => ReadAsync<IReadOnlyList<StaticRouteRow>?>(async services =>
        (await services.GetRequiredService<StaticRouteService>().ListAsync(dvaId, ct)).Value is { } routes
            ? [.. routes.Select(r => new StaticRouteRow(r.Id, r.Spec.Prefix, r.Spec.NextHop, r.Spec.Ifid, Status(r.Status), r.Version))]
            : null);

    public Task<ChangeResult> SaveRouteAsync(long dvaId, long? routeId, RouteForm form, long version, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(form);
        var spec = new StaticRouteSpec { Prefix = form.Prefix.Trim(), NextHop = form.NextHop.Trim(), Ifid = form.Ifid };
        return SaveChildAsync<StaticRouteService, StaticRoute, StaticRouteSpec>(dvaId, routeId, spec, version, ct);
    }

    public Task<ChangeResult> DeleteRouteAsync(long dvaId, long routeId, long version, CancellationToken ct) =>
        ChangeAsync(async services => Result(await services.GetRequiredService<StaticRouteService>().DeleteAsync(dvaId, routeId, version, ct)));

    public Task<ChangeResult> AddVipAsync(long dvaId, VipForm form, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(form);
        if (!TryParseName<VipProtocol>(form.Protocol, "protocol", "Must be tcp or udp.", out var protocol, out var invalid))
        {
            return Task.FromResult(invalid);
        }

        var spec = new VipSpec { Name = form.Name.Trim(), Address = form.Address.Trim(), Port = form.Port, Protocol = protocol, PoolId = form.PoolId };
        return ChangeAsync(async services => Created(await services.GetRequiredService<VipService>().CreateAsync(dvaId, spec, ct)));
    }

    public Task<ChangeResult> DeleteVipAsync(long dvaId, long vipId, CancellationToken ct) =>
        ChangeAsync(async services => Result(await services.GetRequiredService<VipService>().DeleteAsync(dvaId, vipId, null, ct)));

    public Task<ChangeResult> AddPoolAsync(long dvaId, PoolForm form, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(form);
        if (!TryParseName<BalancingMethod>(form.Method, "method", "Unknown balancing method.", out var method, out var invalid))
        {
            return Task.FromResult(invalid);
        }

        var spec = new PoolSpec { Name = form.Name.Trim(), Method = method };
        return ChangeAsync(async services => Created(await services.GetRequiredService<PoolService>().CreateAsync(dvaId, spec, ct)));
    }

    public Task<ChangeResult> DeletePoolAsync(long dvaId, long poolId, CancellationToken ct) =>
        ChangeAsync(async services => Result(await services.GetRequiredService<PoolService>().DeleteAsync(dvaId, poolId, null, ct)));

    public Task<ChangeResult> AddMemberAsync(long dvaId, long poolId, MemberForm form, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(form);
        var spec = new MemberSpec { Address = form.Address.Trim(), Port = form.Port, Weight = form.Weight };
        return ChangeAsync(async services =>
        {
            var added = await services.GetRequiredService<MemberService>().AddAsync(dvaId, poolId, spec, ct);
            return added.Failure is { } failure ? Failed(failure) : ChangeResult.Ok(added.Value!.Id);
        });
    }

    public Task<ChangeResult> SetMemberWeightAsync(long dvaId, long poolId, long memberId, int weight, long version, CancellationToken ct) =>
        ChangeAsync(services => ReplaceMemberAsync(services, dvaId, poolId, memberId, m => m with { Weight = weight }, version, ct));

    public Task<ChangeResult> RemoveMemberAsync(long dvaId, long poolId, long memberId, CancellationToken ct) =>
        ChangeAsync(async services => Result(await services.GetRequiredService<MemberService>().DeleteAsync(dvaId, poolId, memberId, ct)));

    public async Task<IReadOnlyList<ApiKeyRow>?> ListApiKeysAsync(CancellationToken ct)
    {
        if ((await CurrentUserAsync())?.Role != DashboardRoles.Admin)
        {
            return null;
        }

        return await ReadAsync<IReadOnlyList<ApiKeyRow>>(async services =>
            [.. (await services.GetRequiredService<ApiKeyService>().ListAsync(ct)).Select(Row)]);
    }

    public async Task<CreatedKey> CreateApiKeyAsync(ApiKeyForm form, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(form);
        if (!TryParseName<ApiRole>(form.Role, "role", "Must be viewer, operator or admin.", out var role, out var invalid))
        {
            return new CreatedKey(invalid, null, null);
        }

        CreatedApiKey? created = null;
        var result = await AdminChangeAsync(async services =>
        {
            var outcome = await services.GetRequiredService<ApiKeyService>().CreateAsync(new ApiKeySpec { Name = form.Name.Trim(), Role = role }, ct);
            created = outcome.Value;
            return outcome.Failure is { } failure ? Failed(failure) : ChangeResult.Ok(outcome.Value!.Key.Id);
        });
        return new CreatedKey(result, created is null ? null : Row(created.Key), created?.Secret);
    }

    public Task<ChangeResult> RevokeApiKeyAsync(long keyId, CancellationToken ct) =>
        AdminChangeAsync(async services => Result(await services.GetRequiredService<ApiKeyService>().DeleteAsync(keyId, ct)));

    /// <summary>Adds a DVA's child object (<paramref name="id"/> null) or replaces it under its ETag <paramref name="version"/>.</summary>
    private Task<ChangeResult> SaveChildAsync<TService, TEntity, TSpec>(long dvaId, long? id, TSpec spec, long version, CancellationToken ct)
        where TService : DvaChildService<TEntity, TSpec>
        where TEntity : DvaChildEntity<TSpec>, new()
        where TSpec : class =>
        ChangeAsync(async services =>
        {
            var children = services.GetRequiredService<TService>();
            return id is { } existing
                ? Result(await children.ReplaceAsync(dvaId, existing, spec, version, ct))
                : Created(await children.CreateAsync(dvaId, spec, ct));
        });

    /// <summary>Like <see cref="ChangeAsync"/>, for what the REST API keeps to admin keys.</summary>
    private async Task<ChangeResult> AdminChangeAsync(Func<IServiceProvider, Task<ChangeResult>> change)
    {
        var user = await CurrentUserAsync();
        if (user is not null && user.Role != DashboardRoles.Admin)
        {
            return ChangeResult.Failed($"The key {user.Name} has the {user.Role} role; API keys need the admin role.");
        }

        return await ChangeAsync(change);
    }

    private static async Task<ChangeResult> ReplaceMemberAsync(
        IServiceProvider services, long dvaId, long poolId, long memberId, Func<MemberSpec, MemberSpec> change, long version, CancellationToken ct)
    {
        var members = services.GetRequiredService<MemberService>();
        var list = await members.ListAsync(dvaId, poolId, ct);
        if (list.Failure is { } failure)
        {
            return Failed(failure);
        }

        var index = list.Value!.Members.ToList().FindIndex(m => m.Id == memberId);
        if (index < 0)
        {
            return Failed(ServiceFailure.NotFound("member", memberId));
        }

        var specs = list.Value.Members.Select(m => m.Id == memberId ? change(m.Spec) : m.Spec).ToList();
        var result = await members.ReplaceAllAsync(dvaId, poolId, specs, version, ct);
        if (result.Failure is not { } refused)
        {
            return ChangeResult.Ok();
        }

        // The list is validated as a whole ("[2].weight"); the form edits one member, so its errors lose the index.
        var prefix = $"[{index}].";
        var errors = (refused.Errors ?? new Dictionary<string, string[]>())
            .ToDictionary(e => e.Key.StartsWith(prefix, StringComparison.Ordinal) ? e.Key[prefix.Length..] : e.Key, e => e.Value);
        return ChangeResult.Failed(refused.Detail, errors);
    }

    private static SharedInterfaceSpec InterfaceSpec(InterfaceForm form) => new()
    {
        Ifid = form.Ifid,
        Name = form.Name.Trim(),
        Mac = form.Mac.Trim(),
        Addresses = form.Addresses.Split(AddressSeparators, StringSplitOptions.RemoveEmptyEntries),
        // What is not a number becomes -1, which the API's validation names by its index ("vlans[1]").
        Vlans = [.. form.Vlans.Split(AddressSeparators, StringSplitOptions.RemoveEmptyEntries)
            .Select(v => int.TryParse(v, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id) ? id : -1)],
        RouterAdvertisements = form.RouterAdvertisements,
        Dhcpv6 = form.Dhcpv6,
        DnsServers = form.DnsServers.Split(AddressSeparators, StringSplitOptions.RemoveEmptyEntries),
        DnsSearch = form.DnsSearch.Split(AddressSeparators, StringSplitOptions.RemoveEmptyEntries),
        SubInterfaces = [.. form.SubInterfaces.Split([';', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(SubInterface)],
        Attachment = new InterfaceAttachment { NodeName = form.AttachedTo.Trim(), FrameSource = form.FrameSource.Trim() },
    };

    // "20=203.0.113.1/24 2001:db8:20::1/64"; a VLAN that is not a number becomes -1, named by the API ("subInterfaces[0].vlan").
    private static SubInterfaceSpec SubInterface(string text)
    {
        var equals = text.IndexOf('=', StringComparison.Ordinal);
        var vlan = equals > 0 && int.TryParse(text.AsSpan(0, equals).Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id) ? id : -1;
        return new SubInterfaceSpec { Vlan = vlan, Addresses = text[(equals + 1)..].Split(AddressSeparators, StringSplitOptions.RemoveEmptyEntries) };
    }

    /// <summary>An enum from the name the REST API uses ("weightedRoundRobin"), or the field error it would give.</summary>
    private static bool TryParseName<TEnum>(string value, string field, string message, out TEnum parsed, out ChangeResult invalid)
        where TEnum : struct, Enum
    {
        invalid = ChangeResult.Failed("One or more fields are invalid.", new Dictionary<string, string[]> { [field] = [message] });
        return Enum.TryParse(value, ignoreCase: true, out parsed) && Enum.IsDefined(parsed);
    }

    private static ApiKeyRow Row(ApiKeyView key) => new(key.Id, key.KeyId, key.Name, ApiRoles.Name(key.Role), key.Created);

    private static ChangeResult Created<T>(ServiceResult<ResourceView<T>> result) =>
        result.Failure is { } failure ? Failed(failure) : ChangeResult.Ok(result.Value!.Id);
}
