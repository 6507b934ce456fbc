namespace Dva.Shared.Packets;

/// <summary>Why an in-place <see cref="PacketRewriter"/> call left the frame unchanged; <see cref="None"/> means it applied.</summary>
public enum RewriteError : byte
{
    None = 0,
    NotIpv4,
    NotIpv6,
    AddressFamilyMismatch,
    NoPorts,
    NotIcmpEcho,
    NotTcp,
    NotTcpSyn,
    NoMssOption,
    HopLimitExceeded,
}
