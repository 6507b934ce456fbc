namespace Dva.Manager.Model;

/// <summary>
/// Bookkeeping shared by every configuration object. <see cref="Version"/> changes on every write and is
/// the ETag (and the EF concurrency token); <see cref="Generation"/> changes only when the spec changes;
/// <see cref="ObservedGeneration"/> is written by the table rollout once the data path runs that spec.
/// </summary>
internal abstract class ManagedEntity
{
    public long Id { get; set; }

    public long Version { get; set; } = 1;

    public long Generation { get; set; } = 1;

    public long ObservedGeneration { get; set; }

    public OperatingStatus OperatingStatus { get; set; } = OperatingStatus.Offline;

    /// <summary>Conditions reported by the rollout and health checks (stored as JSON).</summary>
    public List<StatusCondition> Conditions { get; set; } = [];

    /// <summary>Records a spec change: new generation and new version.</summary>
    public void TouchSpec()
    {
        Generation++;
        Version++;
    }

    public ResourceStatus GetStatus()
    {
        var provisioning = ObservedGeneration >= Generation ? ProvisioningStatus.Active
            : ObservedGeneration == 0 ? ProvisioningStatus.PendingCreate
            : ProvisioningStatus.PendingUpdate;
        var conditions = new List<StatusCondition>(Conditions);
        if (provisioning != ProvisioningStatus.Active)
        {
            // Until a rollout reports back, say plainly that the data path does not run this spec yet.
            conditions.Add(new StatusCondition(
                "Reconciled", "False", "AwaitingRollout",
                $"generation {Generation} has not been rolled out (observed {ObservedGeneration})"));
        }

        return new ResourceStatus(provisioning, OperatingStatus, conditions);
    }
}

internal sealed record StatusCondition(string Type, string Status, string Reason, string Message);

internal sealed record ResourceStatus(
    ProvisioningStatus ProvisioningStatus,
    OperatingStatus OperatingStatus,
    IReadOnlyList<StatusCondition> Conditions);
