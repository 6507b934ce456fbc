namespace Dva.Manager.Model;

internal sealed class AuditEntry
{
    public long Id { get; set; }

    public string Actor { get; set; } = "";

    public DateTimeOffset Time { get; set; }

    /// <summary>"create", "replace", "patch", "delete" or an action name such as "scale" or "drain".</summary>
    public string Operation { get; set; } = "";

    public string TargetType { get; set; } = "";

    public long? TargetId { get; set; }

    public long? DvaId { get; set; }

    /// <summary>JSON of the object before the change; null for a create.</summary>
    public string? Before { get; set; }

    /// <summary>JSON of the object after the change; null for a delete.</summary>
    public string? After { get; set; }
}
