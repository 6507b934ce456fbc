using Dva.Manager.Model;

namespace Dva.Manager.Services;

/// <summary>A view that carries the version used as its ETag.</summary>
internal interface IVersioned
{
    long Version { get; }
}

/// <summary>How every configuration object is shown: identity, spec, status, generations.</summary>
internal sealed record ResourceView<TSpec>(
    long Id,
    long DvaId,
    TSpec Spec,
    ResourceStatus Status,
    long Generation,
    long ObservedGeneration,
    long Version) : IVersioned;

internal sealed record DvaView(
    long Id,
    DvaSpec Spec,
    string Seed,
    int DesiredDataPlanes,
    ResourceStatus Status,
    long Generation,
    long ObservedGeneration,
    long Version) : IVersioned;

/// <summary>The ordered firewall rule list of a DVA; <see cref="Version"/> is the list's ETag.</summary>
internal sealed record FirewallRuleListView(long DvaId, IReadOnlyList<ResourceView<FirewallRuleSpec>> Rules, long Version) : IVersioned;

internal sealed record MemberView(
    long Id,
    long DvaId,
    long PoolId,
    MemberSpec Spec,
    MemberHealth Health,
    ResourceStatus Status,
    long Generation,
    long ObservedGeneration,
    long Version) : IVersioned;

/// <summary>The members of a pool; <see cref="Version"/> is the pool's version (the ETag for a batch replace).</summary>
internal sealed record MemberListView(long DvaId, long PoolId, IReadOnlyList<MemberView> Members, long Version) : IVersioned;

internal sealed record ScaleView(long DvaId, int DesiredDataPlanes, int CurrentDataPlanes, ScalingPolicy Policy, ResourceStatus Status, long Version) : IVersioned;

internal sealed record NodeView(
    long Id,
    string Name,
    long? DvaId,
    NodeRole Role,
    int NodeId,
    string TunnelEndpoint,
    NodeState State,
    DateTimeOffset? LastHeartbeat,
    double MeasuredCapacity,
    int Weight,
    ResourceStatus Status,
    long Generation,
    long ObservedGeneration,
    long Version) : IVersioned;

internal sealed record AuditEntryView(
    long Id,
    string Actor,
    DateTimeOffset Time,
    string Operation,
    string TargetType,
    long? TargetId,
    long? DvaId,
    string? Before,
    string? After);

internal sealed record PagedResult<T>(IReadOnlyList<T> Items, int Page, int PageSize, int Total);

internal sealed record TableVersionView(
    long DvaId,
    long Version,
    int Era,
    string Cause,
    string Actor,
    DateTimeOffset Created,
    DateTimeOffset? RolledOut,
    int SnapshotBytes);

internal sealed record TableVersionDetail(TableVersionView Summary, byte[] Snapshot);

internal sealed record ApiKeyView(long Id, string KeyId, string Name, ApiRole Role, DateTimeOffset Created);

/// <summary>Returned once when a key is created: the only time the secret is visible.</summary>
internal sealed record CreatedApiKey(ApiKeyView Key, string Secret);

internal static class ViewMapping
{
    public static ResourceView<TSpec> ToView<TSpec>(this DvaChildEntity<TSpec> e) =>
        new(e.Id, e.DvaId, e.ToSpec(), e.GetStatus(), e.Generation, e.ObservedGeneration, e.Version);

    public static DvaView ToView(this Appliance e) =>
        new(e.Id, e.ToSpec(), $"0x{e.Seed:x16}", e.DesiredDataPlanes, e.GetStatus(), e.Generation, e.ObservedGeneration, e.Version);

    public static MemberView ToView(this Member e) =>
        new(e.Id, e.DvaId, e.PoolId, e.ToSpec(), e.Health, e.GetStatus(), e.Generation, e.ObservedGeneration, e.Version);

    public static AuditEntryView ToView(this AuditEntry e) =>
        new(e.Id, e.Actor, e.Time, e.Operation, e.TargetType, e.TargetId, e.DvaId, e.Before, e.After);

    public static TableVersionView ToView(this TableVersionRecord e) =>
        new(e.DvaId, e.TableVersion, e.Era, e.Cause, e.Actor, e.Created, e.RolledOut, e.Snapshot.Length);

    public static ApiKeyView ToView(this ApiKey e) => new(e.Id, e.KeyId, e.Name, e.Role, e.Created);
}
