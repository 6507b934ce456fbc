using System.Net;
using Dva.Node.Config;
using Dva.Node.DataPlane;
using Dva.Node.Services.LoadBalancer;
using Dva.Node.Tests.DataPlane;
using Dva.Shared.Packets;
using Dva.Shared.Tables;
using Dva.Shared.Wire;
using static Dva.Node.Tests.DataPlane.DataPlaneRig;

namespace Dva.Node.Tests.Nfv;

/// <summary>
/// ICMP errors quoting a load-balanced flow's packet cross the DVA translated like the flow (IcmpErrorNat): the one
/// the client gets quotes its own packet to the VIP, byte for byte, with every checksum right.
/// </summary>
public class IcmpNatTests : IDisposable
{
    private const string Client = LoadBalancerPipelineTests.Client;
    private const string VipAddress = LoadBalancerPipelineTests.Vip;
    private const string SnatAddress = LoadBalancerPipelineTests.SnatAddress;
    private const string Router = "198.51.100.254";
    private static readonly TableVersion Table = First(10);
    private readonly DataPlaneRig _rig;

    public IcmpNatTests()
        : this(engines: 1)
    {
    }

    /// <summary>The same tests on a data plane of several engines (<see cref="IcmpNatOnTwoEnginesTests"/>).</summary>
    protected IcmpNatTests(int engines)
    {
        _rig = new DataPlaneRig(10,
            configure: s => s with { LoadBalancer = new LoadBalancerSettings(LoadBalancerPipelineTests.Vips(MemberAdminState.Enabled), new Dictionary<byte, IPAddress>()) },
            engines: engines);
        _rig.Install(Table);
    }

    public void Dispose()
    {
        _rig.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>A client packet to the VIP through the DVA; returns it as the member receives it.</summary>
    private byte[] ToMember(byte[] frame)
    {
        var buffer = Datagram(frame, Dispatch(10, Table));
        Assert.Equal(Verdict.Send, _rig.Process(buffer));
        return Read(buffer).Inner;
    }

    /// <summary>An ICMP error from <paramref name="from"/> quoting <paramref name="quoted"/>, through the DVA from the inside.</summary>
    private byte[] ErrorToClient(byte[] quoted, string from, byte code, ushort mtu)
    {
        var error = new byte[1600];
        var length = PacketBuilder.Icmpv4DestinationUnreachable(error, quoted, TestFrames.Parse(quoted), code, mtu, TestFrames.V4(from));
        Assert.True(length > 0);
        var buffer = Datagram(error[..length], Dispatch(10, Table) with { HNode = InsideDispatcher, IfId = Inside });
        ArriveFrom(buffer, InsideDispatcher);
        Assert.Equal(Verdict.Send, _rig.Process(buffer));
        var (header, _, inner) = Read(buffer);
        Assert.Equal((TunnelType.Egress, OutsideDispatcher, Outside), (header.Type, header.DNode, header.IfId));
        return inner;
    }

    /// <summary>What the client must get: the same error from <paramref name="from"/>, quoting its own packet as it left the DVA, one hop later.</summary>
    private static byte[] Expected(byte[] clientPacket, string from, byte code, ushort mtu)
    {
        var expected = new byte[1600];
        var length = PacketBuilder.Icmpv4DestinationUnreachable(expected, clientPacket, TestFrames.Parse(clientPacket), code, mtu, TestFrames.V4(from));
        var frame = expected[..length];
        var info = TestFrames.Parse(frame);
        Assert.Equal(RewriteError.None, PacketRewriter.DecrementHopLimit(frame, info));
        return frame;
    }

    private static void AssertSameIpPacket(byte[] expected, byte[] actual)
    {
        Assert.Equal(Convert.ToHexString(expected[14..]), Convert.ToHexString(actual[14..]));
        var info = TestFrames.Parse(actual);
        Assert.True(Checksum.VerifyIpv4Header(actual, info));
        Assert.True(Checksum.VerifyTransport(actual, info));
    }

    [Fact]
    public void PortUnreachableFromMember_QuotingTheSnattedPacket_ClientGetsItFromTheVipQuotingItsOwnPacket()
    {
        var translated = ToMember(TestFrames.Tcp(Client, 40000, VipAddress, 80, TcpFlags.Syn));
        var member = TestFrames.Parse(translated).Destination.ToString();

        var actual = ErrorToClient(translated, member, code: 3, mtu: 0);

        // The quoted packet as the client sent it, TTL one less (the DVA forwarded it); the error from the VIP.
        AssertSameIpPacket(Expected(TestFrames.Tcp(Client, 40000, VipAddress, 80, TcpFlags.Syn, ttl: 63), VipAddress, 3, 0), actual);
    }

    [Fact]
    public void FragmentationNeededFromARouter_QuotingTheSnattedTcpPacket_RouterAddressKeptQuoteTranslated()
    {
        var translated = ToMember(TestFrames.Tcp(Client, 40001, VipAddress, 80, TcpFlags.Syn));
        Assert.Equal(IPAddress.Parse(SnatAddress), TestFrames.Parse(translated).Source.ToIPAddress());

        var actual = ErrorToClient(translated, Router, code: 4, mtu: 1400);

        AssertSameIpPacket(Expected(TestFrames.Tcp(Client, 40001, VipAddress, 80, TcpFlags.Syn, ttl: 63), Router, 4, 1400), actual);
    }
}

/// <summary>NAT of ICMP errors on a data plane of two engines: the error reaches the engine of the flow it quotes.</summary>
public sealed class IcmpNatOnTwoEnginesTests : IcmpNatTests
{
    public IcmpNatOnTwoEnginesTests()
        : base(engines: 2)
    {
    }
}
