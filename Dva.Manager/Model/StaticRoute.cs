namespace Dva.Manager.Model;

internal sealed class StaticRoute : DvaChildEntity<StaticRouteSpec>
{
    public string Prefix { get; set; } = "";

    public string NextHop { get; set; } = "";

    public int Ifid { get; set; }

    public override StaticRouteSpec ToSpec() => new() { Prefix = Prefix, NextHop = NextHop, Ifid = Ifid };

    public override void Apply(StaticRouteSpec spec)
    {
        Prefix = spec.Prefix;
        NextHop = spec.NextHop;
        Ifid = spec.Ifid;
    }
}
