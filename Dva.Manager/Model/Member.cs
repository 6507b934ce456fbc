namespace Dva.Manager.Model;

internal sealed class Member : DvaChildEntity<MemberSpec>
{
    public long PoolId { get; set; }

    public string Address { get; set; } = "";

    public int Port { get; set; }

    public int Weight { get; set; } = 1;

    public MemberAdminState AdminState { get; set; }

    /// <summary>Result of the manager's health checks.</summary>
    public MemberHealth Health { get; set; }

    public override MemberSpec ToSpec() => new() { Address = Address, Port = Port, Weight = Weight, AdminState = AdminState };

    public override void Apply(MemberSpec spec)
    {
        Address = spec.Address;
        Port = spec.Port;
        Weight = spec.Weight;
        AdminState = spec.AdminState;
    }
}
