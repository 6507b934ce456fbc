using System.Net.Sockets;

namespace Dva.Node.Services.LoadBalancer;

/// <summary>A member as compiled into one <see cref="LoadBalancerConfig"/>: addresses as numbers, counters attached.</summary>
internal sealed class MemberEntry
{
    public MemberEntry(VipEntry vip, Member member, ActiveFlows activeFlows)
    {
        ArgumentNullException.ThrowIfNull(member);
        Vip = vip;
        Member = member;
        Family = member.Address.AddressFamily;
        Address = AddressBits.ToUInt128(member.Address);
        Port = member.Port;
        Weight = member.Weight;
        ActiveFlows = activeFlows;
        HashKey = HashKeyOf(Family, Address, Port);
    }

    public VipEntry Vip { get; }
    public Member Member { get; }
    public AddressFamily Family { get; }
    public UInt128 Address { get; }
    public ushort Port { get; }
    public int Weight { get; }
    public ActiveFlows ActiveFlows { get; }

    /// <summary>Identity of the member for rendezvous hashing: its endpoint, so its place in the list does not matter.</summary>
    public ulong HashKey { get; }

    public bool AcceptsNewFlows => Member.AcceptsNewFlows;

    /// <summary>Counts a packet of a flow assigned to this member on the member and its VIP.</summary>
    public void CountBytes(int bytes)
    {
        ActiveFlows.AddBytes(bytes);
        Vip.ActiveFlows.AddBytes(bytes);
    }

    /// <summary>Call when a flow assigned to this member ends (expired, closed or reset).</summary>
    public void Release()
    {
        ActiveFlows.Decrement();
        Vip.ActiveFlows.Decrement();
    }

    private static ulong HashKeyOf(AddressFamily family, UInt128 address, ushort port) =>
        Mix.Hash64(Mix.Hash64((ulong)(address >> 64) ^ (ulong)family) ^ (ulong)address ^ ((ulong)port << 48));
}

/// <summary>A 64-bit finalizer (splitmix64, Stafford's variant 13): cheap and every input bit affects every output bit.</summary>
internal static class Mix
{
    public static ulong Hash64(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58_476D_1CE4_E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D0_49BB_1331_11EBUL;
        return z ^ (z >> 31);
    }
}
