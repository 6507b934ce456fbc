using Dva.Node.Agent;
using Dva.Node.Config;
using Dva.Node.DataPlane;
using Dva.Shared.Packets;
using Dva.Shared.Tables;
using Dva.Shared.Wire;
using static Dva.Node.Tests.DataPlane.DataPlaneRig;

namespace Dva.Node.Tests.DataPlane;

/// <summary>
/// When a data plane with <c>shortcuts</c> offers its dispatcher the kernel shortcut (a SHORTCUT word on the EGRESS):
/// established TCP and UDP after its first packet, final frames only, untranslated, and only when the packet leaves by
/// the dispatcher it came in by.
/// </summary>
public class ShortcutOfferTests
{
    private const string Client = "192.0.2.50";
    private const string Server = "198.51.100.7";
    private static readonly TableVersion Table = First(10);
    private static readonly byte[] ServerMac = [0x02, 0xBB, 0, 0, 0, 0x07];
    private static readonly byte[] ClientMac = [0x02, 0xBB, 0, 0, 0, 0x50];

    [Fact]
    public void Udp_FirstPacketNoOffer_SecondOffersItsIngress()
    {
        using var rig = Rig();

        var first = Forward(rig, TestFrames.Udp(Client, 4000, Server, 53));
        var second = Forward(rig, TestFrames.Udp(Client, 4000, Server, 53));

        Assert.False(first.Shortcut.IsPresent);
        Assert.True(second.Shortcut.IsPresent);
        Assert.Equal((Outside, (ushort)0), (second.Shortcut.IngressIfId, second.Shortcut.IngressVlan));
        Assert.Equal((TunnelType.Egress, Handoff.None), (second.Type, second.Handoff));
        Assert.Equal(1, rig.Snapshot.Tunnel(TunnelCounter.ShortcutOffered));
    }

    [Fact]
    public void Tcp_OffersOnlyOnceEstablished_AndTheReplyDirectionOffersItsOwnIngress()
    {
        using var rig = Rig();

        var syn = Forward(rig, TestFrames.Tcp(Client, 40000, Server, 80, TcpFlags.Syn));
        var synAck = Forward(rig, TestFrames.Tcp(Server, 80, Client, 40000, TcpFlags.Syn | TcpFlags.Ack), Inside);
        _ = Forward(rig, TestFrames.Tcp(Client, 40000, Server, 80, TcpFlags.Ack));
        var data = Forward(rig, TestFrames.Tcp(Client, 40000, Server, 80, TcpFlags.Ack | TcpFlags.Psh));
        var reply = Forward(rig, TestFrames.Tcp(Server, 80, Client, 40000, TcpFlags.Ack | TcpFlags.Psh), Inside);

        Assert.False(syn.Shortcut.IsPresent);
        Assert.False(synAck.Shortcut.IsPresent);
        Assert.True(data.Shortcut.IsPresent, "established: the data offers");
        Assert.Equal(Outside, data.Shortcut.IngressIfId);
        Assert.True(reply.Shortcut.IsPresent);
        Assert.Equal(Inside, reply.Shortcut.IngressIfId);
    }

    [Fact]
    public void NoOffer_WhenTheEgressDispatcherIsAnother_OrShortcutsAreOff_OrTheNextHopIsUnresolved()
    {
        using var otherDispatcher = Rig(sameDispatcher: false);
        using var off = Rig(shortcuts: false);
        using var unresolved = Rig(learn: false);

        foreach (var rig in new[] { otherDispatcher, off, unresolved })
        {
            _ = Forward(rig, TestFrames.Udp(Client, 4000, Server, 53));
            Assert.False(Forward(rig, TestFrames.Udp(Client, 4000, Server, 53)).Shortcut.IsPresent);
            Assert.Equal(0, rig.Snapshot.Tunnel(TunnelCounter.ShortcutOffered));
        }
    }

    [Fact]
    public void NoOffer_ForIcmp()
    {
        using var rig = Rig();

        _ = Forward(rig, TestFrames.EchoRequest(Client, Server));
        var second = Forward(rig, TestFrames.EchoRequest(Client, Server));

        Assert.False(second.Shortcut.IsPresent);
    }

    [Fact]
    public void Vlan_TheOfferNamesTheVlanThePacketCameInOn()
    {
        using var rig = Rig();
        var fields = Dispatch(10, Table) with { VlanTci = 0x2014 };              // priority 1, VLAN 20

        _ = rig.Process(Datagram(TestFrames.Udp(Client, 4000, Server, 53), fields));
        var buffer = Datagram(TestFrames.Udp(Client, 4000, Server, 53), fields);
        Assert.Equal(Verdict.Send, rig.Process(buffer));

        var (header, _, _) = Read(buffer);
        Assert.Equal((Outside, (ushort)20), (header.Shortcut.IngressIfId, header.Shortcut.IngressVlan));
    }

    /// <summary>
    /// The load balancer's flow (DNAT to a member, SNAT to the inside address): both directions offer, each with the
    /// tuple its packets arrive with (ORIGIN), while the EGRESS frame carries the translated one.
    /// </summary>
    [Fact]
    public void TranslatedFlow_BothDirectionsOfferWithTheTupleTheyArriveWith()
    {
        using var rig = Rig(loadBalancer: true);
        var vip = Nfv.LoadBalancerPipelineTests.Vip;

        var syn = ForwardFrame(rig, TestFrames.Tcp(Client, 40000, vip, 80, TcpFlags.Syn));
        var snatPort = System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(syn.Inner.AsSpan(34));
        var member = new System.Net.IPAddress(syn.Inner.AsSpan(30, 4)).ToString();
        _ = ForwardFrame(rig, TestFrames.Tcp(member, 8080, "198.51.100.1", snatPort, TcpFlags.Syn | TcpFlags.Ack), Inside);
        _ = ForwardFrame(rig, TestFrames.Tcp(Client, 40000, vip, 80, TcpFlags.Ack));
        var data = ForwardFrame(rig, TestFrames.Tcp(Client, 40000, vip, 80, TcpFlags.Ack | TcpFlags.Psh));
        var reply = ForwardFrame(rig, TestFrames.Tcp(member, 8080, "198.51.100.1", snatPort, TcpFlags.Ack | TcpFlags.Psh), Inside);

        Assert.False(syn.Header.Shortcut.IsPresent);
        Assert.True(data.Header.Shortcut.HasOrigin);
        Assert.Equal(new TunnelShortcutOrigin(V4(Client), V4(vip), 40000, 80), data.Header.Shortcut.Origin);
        Assert.Equal(new System.Net.IPAddress(data.Inner.AsSpan(30, 4)).ToString(), member);
        Assert.True(reply.Header.Shortcut.HasOrigin);
        Assert.Equal(Inside, reply.Header.Shortcut.IngressIfId);
        Assert.Equal(new TunnelShortcutOrigin(V4(member), V4("198.51.100.1"), 8080, snatPort), reply.Header.Shortcut.Origin);
        Assert.Equal(vip, new System.Net.IPAddress(reply.Inner.AsSpan(26, 4)).ToString());
    }

    /// <summary>An untranslated flow's offer has no ORIGIN block.</summary>
    [Fact]
    public void UntranslatedFlow_OfferWithoutOrigin()
    {
        using var rig = Rig();

        _ = Forward(rig, TestFrames.Udp(Client, 4000, Server, 53));
        var second = Forward(rig, TestFrames.Udp(Client, 4000, Server, 53));

        Assert.True(second.Shortcut.IsPresent);
        Assert.False(second.Shortcut.HasOrigin);
    }

    private static UInt128 V4(string address) => (UInt128)TestFrames.V4(address) << 96;

    /// <summary>A rig whose two interfaces are both served by dispatcher 1 (unless not <paramref name="sameDispatcher"/>), neighbours known.</summary>
    private static DataPlaneRig Rig(bool shortcuts = true, bool sameDispatcher = true, bool learn = true, bool loadBalancer = false)
    {
        var rig = new DataPlaneRig(10, configure: s => s with
        {
            Shortcuts = shortcuts,
            Interfaces = [.. s.Interfaces.Select(i => sameDispatcher ? i with { Dispatcher = OutsideDispatcher } : i)],
            LoadBalancer = loadBalancer
                ? new LoadBalancerSettings(Nfv.LoadBalancerPipelineTests.Vips(Dva.Node.Services.LoadBalancer.MemberAdminState.Enabled), new Dictionary<byte, System.Net.IPAddress>())
                : s.LoadBalancer,
        });
        rig.Install(Table);
        if (learn)
        {
            var dispatcher = sameDispatcher ? OutsideDispatcher : InsideDispatcher;
            foreach (var member in (string[])["198.51.100.11", "198.51.100.12"])
            {
                Assert.Equal(Verdict.Consumed, rig.Process(Datagram(TestFrames.ArpRequest(ServerMac, member, "198.51.100.1"), BroadcastFields(10, Table, dispatcher, Inside))));
            }

            Assert.Equal(Verdict.Consumed, rig.Process(Datagram(TestFrames.ArpRequest(ServerMac, Server, "198.51.100.1"), BroadcastFields(10, Table, dispatcher, Inside))));
            Assert.Equal(Verdict.Consumed, rig.Process(Datagram(TestFrames.ArpRequest(ClientMac, Client, "192.0.2.1"), BroadcastFields(10, Table, OutsideDispatcher, Outside))));
        }

        return rig;
    }

    /// <summary>A packet from outside (or from inside, by dispatcher 1) through the data plane; the EGRESS header it left with.</summary>
    private static TunnelHeader Forward(DataPlaneRig rig, byte[] frame, byte ifid = Outside) => ForwardFrame(rig, frame, ifid).Header;

    /// <summary>As <see cref="Forward"/>, with the frame the EGRESS carries.</summary>
    private static (TunnelHeader Header, byte[] Inner) ForwardFrame(DataPlaneRig rig, byte[] frame, byte ifid = Outside)
    {
        var buffer = Datagram(frame, Dispatch(10, Table) with { IfId = ifid });
        Assert.Equal(Verdict.Send, rig.Process(buffer));
        var (header, _, inner) = Read(buffer);
        return (header, inner);
    }
}
