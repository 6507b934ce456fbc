namespace Dva.Manager.Model;

/// <summary>A configuration object that belongs to one DVA and is written as a whole spec.</summary>
internal abstract class DvaChildEntity<TSpec> : ManagedEntity
{
    public long DvaId { get; set; }

    public abstract TSpec ToSpec();

    public abstract void Apply(TSpec spec);
}
