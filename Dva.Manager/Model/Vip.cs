namespace Dva.Manager.Model;

internal sealed class Vip : DvaChildEntity<VipSpec>
{
    public string Name { get; set; } = "";

    public string Address { get; set; } = "";

    public int Port { get; set; }

    public VipProtocol Protocol { get; set; }

    public long PoolId { get; set; }

    public override VipSpec ToSpec() => new() { Name = Name, Address = Address, Port = Port, Protocol = Protocol, PoolId = PoolId };

    public override void Apply(VipSpec spec)
    {
        Name = spec.Name;
        Address = spec.Address;
        Port = spec.Port;
        Protocol = spec.Protocol;
        PoolId = spec.PoolId;
    }
}
