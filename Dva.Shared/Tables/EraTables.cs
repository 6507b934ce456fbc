namespace Dva.Shared.Tables;

/// <summary>What <see cref="EraTables.TryInstall"/> did with a table version.</summary>
public enum InstallResult
{
    /// <summary>Now current; the old current is kept as previous when it is exactly one version older.</summary>
    Installed,

    /// <summary>That version is already current (a re-sent rollout message); nothing changed.</summary>
    AlreadyCurrent,

    /// <summary>Older than the current version; rejected.</summary>
    Stale,

    /// <summary>A table of another DVA; rejected.</summary>
    OtherDva,
}

/// <summary>
/// The tables a node forwards with (DESIGN.md §5): the current version and, on a data plane, the previous
/// one, for packets whose ERA bit shows the dispatcher is still one step behind. Immutable: a node agent
/// publishes a new instance with one reference write and packet threads read it without locking.
/// </summary>
public sealed class EraTables
{
    public static readonly EraTables None = new(null, null);

    private EraTables(TableVersion? current, TableVersion? previous)
    {
        Current = current;
        Previous = previous;
    }

    public TableVersion? Current { get; }

    public TableVersion? Previous { get; }

    /// <summary>
    /// Installs <paramref name="next"/> as current. The old current becomes previous only when it is version
    /// next − 1: a dispatcher is never more than one step behind, so an older table would route wrongly.
    /// </summary>
    public InstallResult TryInstall(TableVersion next, out EraTables installed)
    {
        ArgumentNullException.ThrowIfNull(next);
        installed = this;
        if (Current is null)
        {
            installed = new EraTables(next, null);
            return InstallResult.Installed;
        }

        if (Current.DvaId != next.DvaId)
        {
            return InstallResult.OtherDva;
        }

        if (next.Version == Current.Version)
        {
            return InstallResult.AlreadyCurrent;
        }

        if (next.Version < Current.Version)
        {
            return InstallResult.Stale;
        }

        installed = new EraTables(next, next.Version == Current.Version + 1 ? Current : null);
        return InstallResult.Installed;
    }

    /// <summary>Forgets the previous version once the rollout has committed and the grace period passed.</summary>
    public EraTables DropPrevious() => Previous is null ? this : new EraTables(Current, null);

    /// <summary>
    /// The table for a packet whose ERA bit is <paramref name="era"/>: current when the eras match, else
    /// previous; null when there is none yet (the caller holds the packet briefly, then drops it).
    /// </summary>
    public TableVersion? ForEra(int era)
    {
        TableVersion? current = Current;
        return current is null || current.Era == era ? current : Previous;
    }
}
