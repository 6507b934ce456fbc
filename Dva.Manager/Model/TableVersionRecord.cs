namespace Dva.Manager.Model;

/// <summary>One table version built for a DVA, kept for history and for the rollout to resume from.</summary>
internal sealed class TableVersionRecord
{
    public long Id { get; set; }

    public long DvaId { get; set; }

    /// <summary>Table version, +1 per change; era = version &amp; 1.</summary>
    public long TableVersion { get; set; }

    public int Era { get; set; }

    public string Cause { get; set; } = "";

    public string Actor { get; set; } = "";

    public DateTimeOffset Created { get; set; }

    public DateTimeOffset? RolledOut { get; set; }

    /// <summary>Owners + history (+ chain, peers) in the encoding of Dva.Shared; opaque to the manager's store.</summary>
    public byte[] Snapshot { get; set; } = [];
}
