using System.Net.Sockets;
using Dva.Manager.Infrastructure;
using Dva.Manager.Model;
using Microsoft.EntityFrameworkCore;

namespace Dva.Manager.Services;

/// <summary>
/// Firewall rules of a DVA: evaluated in priority order (ties by id). Every change also moves the list's
/// version (<see cref="Appliance.FirewallRulesVersion"/>), the ETag a whole-list replace must match.
/// </summary>
internal sealed class FirewallRuleService(ManagerDbContext db, AuditLog audit)
    : DvaChildService<FirewallRule, FirewallRuleSpec>(db, audit)
{
    public const int MaxRules = 10_000;
    public const int MaxPriority = 1_000_000;

    /// <summary>Gap left between priorities assigned by the service, so a rule can be slotted in between later.</summary>
    public const int PriorityStep = 10;

    protected override string TargetType => "firewallRule";

    public async Task<ServiceResult<FirewallRuleListView>> GetListAsync(long dvaId, CancellationToken ct)
    {
        var dva = await Db.Dvas.AsNoTracking().FirstOrDefaultAsync(d => d.Id == dvaId, ct);
        if (dva is null)
        {
            return ServiceFailure.NotFound("DVA", dvaId);
        }

        var rules = await Order(Set.AsNoTracking().Where(r => r.DvaId == dvaId)).ToListAsync(ct);
        return new FirewallRuleListView(dvaId, [.. rules.Select(r => r.ToView())], dva.FirewallRulesVersion);
    }

    /// <summary>
    /// Replaces the whole rule list in one transaction. The array order is the evaluation order:
    /// priorities are reassigned 10, 20, 30, … and any priority in the body is ignored.
    /// </summary>
    public async Task<ServiceResult<FirewallRuleListView>> ReplaceListAsync(long dvaId, IReadOnlyList<FirewallRuleSpec> specs, long? ifMatch, CancellationToken ct)
    {
        var dva = await Db.Dvas.FindAsync([dvaId], ct);
        if (dva is null)
        {
            return ServiceFailure.NotFound("DVA", dvaId);
        }

        if (ifMatch is not { } expected)
        {
            return ServiceFailure.IfMatchRequired("the firewall rule list");
        }

        if (expected != dva.FirewallRulesVersion)
        {
            return ServiceFailure.Stale(dva.FirewallRulesVersion);
        }

        var errors = new ValidationErrors();
        errors.Require(specs.Count <= MaxRules, "", $"At most {MaxRules} rules.");
        var ifids = await InterfaceIdsAsync(dvaId, ct);
        for (var i = 0; i < specs.Count; i++)
        {
            if (specs[i] is null)
            {
                errors.Add($"[{i}]", "Must be a rule object.");
                continue;
            }

            ValidateRule(specs[i], errors, $"[{i}].", ifids);
        }

        if (!errors.IsValid)
        {
            return ServiceFailure.Invalid(errors);
        }

        var old = await Order(Set.Where(r => r.DvaId == dvaId)).ToListAsync(ct);
        var before = old.Select(r => r.ToView()).ToList();
        Set.RemoveRange(old);
        var created = new List<FirewallRule>(specs.Count);
        for (var i = 0; i < specs.Count; i++)
        {
            var rule = new FirewallRule { DvaId = dvaId };
            rule.Apply(specs[i] with { Priority = (i + 1) * PriorityStep });
            created.Add(rule);
        }

        Set.AddRange(created);
        dva.FirewallRulesVersion++;
        await Audit.SaveAsync("replaceList", "firewallRules", dvaId, before, () => dvaId,
            () => created.Select(r => r.ToView()).ToList(), ct);
        return new FirewallRuleListView(dvaId, [.. created.Select(r => r.ToView())], dva.FirewallRulesVersion);
    }

    public async Task<ServiceResult<ResourceView<FirewallRuleSpec>>> PatchAsync(long dvaId, long id, FirewallRulePatch patch, long? ifMatch, CancellationToken ct)
    {
        var rule = await FindAsync(dvaId, id, ct);
        if (rule is null)
        {
            return ServiceFailure.NotFound(TargetType, id);
        }

        return await ReplaceAsync(dvaId, id, patch.ApplyTo(rule.ToSpec()), ifMatch, ct);
    }

    protected override IQueryable<FirewallRule> Order(IQueryable<FirewallRule> query) =>
        query.OrderBy(r => r.Priority).ThenBy(r => r.Id);

    protected override async Task ValidateAsync(long dvaId, long? id, FirewallRuleSpec spec, ValidationErrors errors, string path, CancellationToken ct) =>
        ValidateRule(spec, errors, path, await InterfaceIdsAsync(dvaId, ct));

    protected override async Task OnCreatingAsync(Appliance dva, FirewallRule entity, CancellationToken ct)
    {
        if (entity.Priority == 0)
        {
            var last = await Set.Where(r => r.DvaId == dva.Id).MaxAsync(r => (int?)r.Priority, ct) ?? 0;
            entity.Priority = Math.Min(last + PriorityStep, MaxPriority);
        }

        dva.FirewallRulesVersion++;
    }

    protected override async Task OnChangedAsync(long dvaId, CancellationToken ct)
    {
        var dva = await Db.Dvas.FindAsync([dvaId], ct);
        dva!.FirewallRulesVersion++;
    }

    private Task<HashSet<int>> InterfaceIdsAsync(long dvaId, CancellationToken ct) =>
        Db.Interfaces.Where(i => i.DvaId == dvaId).Select(i => i.Ifid).ToHashSetAsync(ct);

    private static void ValidateRule(FirewallRuleSpec spec, ValidationErrors errors, string path, HashSet<int> ifids)
    {
        errors.Require(spec.Priority is null or (>= 1 and <= MaxPriority), path + "priority", $"Must be 1..{MaxPriority}.");
        errors.Require(Enum.IsDefined(spec.Action), path + "action", "Must be accept, drop or reject.");
        errors.Require(Enum.IsDefined(spec.Protocol), path + "protocol", "Unknown protocol.");
        var source = CheckPrefix(spec.Source, errors, path + "source");
        var destination = CheckPrefix(spec.Destination, errors, path + "destination");
        if (source is { } s && destination is { } d && s != d)
        {
            errors.Add(path + "destination", "Source and destination must be of the same address family.");
        }

        var family = source ?? destination;
        var hasPorts = spec.Protocol is RuleProtocol.Tcp or RuleProtocol.Udp or RuleProtocol.Sctp;
        foreach (var (value, field) in new[] { (spec.SourcePorts, "sourcePorts"), (spec.DestinationPorts, "destinationPorts") })
        {
            if (!NetworkSyntax.IsValidPortRange(value))
            {
                errors.Add(path + field, "Must be empty (any), a port 1..65535, or a range such as 1024-65535.");
            }
            else if (value.Length > 0 && !hasPorts)
            {
                errors.Add(path + field, "Ports need protocol tcp, udp or sctp.");
            }
        }

        var isIcmp = spec.Protocol is RuleProtocol.Icmp or RuleProtocol.IcmpV6;
        if (spec.IcmpType is { } icmpType)
        {
            errors.Require(isIcmp, path + "icmpType", "An ICMP type needs protocol icmp or icmpV6.");
            errors.Require(icmpType is >= 0 and <= 255, path + "icmpType", "Must be 0..255.");
        }

        if ((spec.Protocol == RuleProtocol.Icmp && family == AddressFamily.InterNetworkV6)
            || (spec.Protocol == RuleProtocol.IcmpV6 && family == AddressFamily.InterNetwork))
        {
            errors.Add(path + "protocol", "ICMP goes with IPv4 prefixes and icmpV6 with IPv6 prefixes.");
        }

        if (spec.IngressIfid is { } ifid && !ifids.Contains(ifid))
        {
            errors.Add(path + "ingressIfid", $"No shared interface with IFID {ifid} in this DVA.");
        }

        errors.Require(spec.IngressVlan is null or (>= 0 and <= 4094), path + "ingressVlan", "Must be a VLAN id, 1..4094, or 0 for untagged.");
        errors.Require(spec.Description.Length <= 1024, path + "description", "At most 1024 characters.");
    }

    private static AddressFamily? CheckPrefix(string value, ValidationErrors errors, string field)
    {
        if (value.Length == 0)
        {
            return null;
        }

        if (!NetworkSyntax.TryParsePrefix(value, out var network))
        {
            errors.Add(field, "Must be empty (any), an address, or a prefix with no host bits set, such as 203.0.113.0/24 or 2001:db8::/32.");
            return null;
        }

        return network.BaseAddress.AddressFamily;
    }
}
