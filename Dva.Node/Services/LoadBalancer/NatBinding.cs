namespace Dva.Node.Services.LoadBalancer;

/// <summary>
/// The translation a load-balanced flow carries: DNAT to <see cref="Member"/> and, when
/// <see cref="SnatPorts"/> is set, SNAT to (<see cref="SnatAddress"/>, <see cref="SnatPort"/>).
/// The original destination is the member's VIP.
/// </summary>
internal readonly record struct NatBinding(
    MemberEntry? Member, UInt128 SnatAddress, ushort SnatPort, SnatPortPool? SnatPorts, bool ReplySteered)
{
    public static NatBinding None => default;

    public bool IsActive => Member is not null;

    public static NatBinding Dnat(MemberEntry member) => new(member, UInt128.Zero, 0, null, false);

    public static NatBinding DnatAndSnat(MemberEntry member, UInt128 snatAddress, SnatPortPool pool, SnatPortChoice choice) =>
        new(member, snatAddress, choice.Port, pool, choice.Status == SnatStatus.MustSteer);

    /// <summary>Gives back what the flow held: its count on the member and VIP, and its SNAT port.</summary>
    public void Release()
    {
        Member?.Release();
        SnatPorts?.Release(SnatPort);
    }
}
