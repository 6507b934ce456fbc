namespace Dva.Manager.Model;

internal sealed class Pool : DvaChildEntity<PoolSpec>
{
    public string Name { get; set; } = "";

    public BalancingMethod Method { get; set; }

    public List<Member> Members { get; set; } = [];

    public override PoolSpec ToSpec() => new() { Name = Name, Method = Method };

    public override void Apply(PoolSpec spec)
    {
        Name = spec.Name;
        Method = spec.Method;
    }
}
