namespace Dva.Node.Services.Firewall;

/// <summary>How a rejected flow's sender is told.</summary>
internal enum RejectResponse : byte
{
    TcpReset = 0,
    IcmpAdminProhibited = 1,
    IcmpV6AdminProhibited = 2,
}

/// <summary>Chooses the answer to a rejected packet (iptables REJECT with tcp-reset / adm-prohibited).</summary>
internal static class Reject
{
    /// <summary>ICMP destination unreachable (RFC 792) with code 13, communication administratively prohibited (RFC 1812).</summary>
    public const byte IcmpType = 3;
    public const byte IcmpCode = 13;

    /// <summary>ICMPv6 destination unreachable (RFC 4443) with code 1, administratively prohibited.</summary>
    public const byte IcmpV6Type = 1;
    public const byte IcmpV6Code = 1;

    public static RejectResponse For(in FlowTuple tuple)
    {
        if (tuple.Protocol == IpProtocols.Tcp)
        {
            return RejectResponse.TcpReset;
        }

        return tuple.IsIPv6 ? RejectResponse.IcmpV6AdminProhibited : RejectResponse.IcmpAdminProhibited;
    }
}
