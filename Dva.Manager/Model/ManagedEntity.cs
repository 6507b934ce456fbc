namespace Dva.Manager.Model;

/// <summary>
/// Bookkeeping shared by every configuration object. <see cref="Version"/> changes on every write and is
/// the ETag (and the EF concurrency token); <see cref="Generation"/> changes only when the spec changes;
/// <see cref="ObservedGeneration"/> is written by the table rollout once the data path runs that spec.
/// </summary>
internal abstract class ManagedEntity
{
    // The condition and reasons written by Rollout/ChildProvisioning.cs that make a status ERROR.
    internal const string AppliedCondition = "Applied";
    internal const string CannotApplyReason = "CannotApply";
    internal const string NotConfirmedReason = "NotConfirmed";

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
        // The reconciler says why a spec it has not observed cannot be applied (Rollout/ChildProvisioning.cs).
        var failed = ObservedGeneration < Generation
            && Conditions.Exists(c => c is { Type: AppliedCondition, Status: "False", Reason: CannotApplyReason or NotConfirmedReason });
        var provisioning = failed ? ProvisioningStatus.Error
            : ObservedGeneration >= Generation ? ProvisioningStatus.Active
            : ObservedGeneration == 0 ? ProvisioningStatus.PendingCreate
            : ProvisioningStatus.PendingUpdate;
        var conditions = new List<StatusCondition>(Conditions);
        if (provisioning is ProvisioningStatus.PendingCreate or ProvisioningStatus.PendingUpdate)
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
