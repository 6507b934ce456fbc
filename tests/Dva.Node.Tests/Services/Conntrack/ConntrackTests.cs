using Dva.Node.Services;
using Dva.Node.Services.Conntrack;
using Dva.Node.Services.Firewall;
using Dva.Node.Services.LoadBalancer;
using Microsoft.Extensions.Time.Testing;

namespace Dva.Node.Tests.Services.Conntrack;

public class ConntrackTests
{
    private static readonly FirewallMatch Accepted = new(0, 10, FirewallAction.Accept);

    [Theory]
    [InlineData((byte)TcpFlags.Ack)]
    [InlineData((byte)(TcpFlags.Psh | TcpFlags.Ack))]
    [InlineData((byte)(TcpFlags.Syn | TcpFlags.Ack))]
    [InlineData((byte)(TcpFlags.Fin | TcpFlags.Ack))]
    [InlineData((byte)TcpFlags.Rst)]
    public void Decide_MidStreamTcpStrict_DropsWithReason(byte flags)
    {
        FirstPacketDecision decision = FirstPacket.Decide(IpProtocols.Tcp, (TcpFlags)flags, MidStreamPolicy.Strict);

        Assert.False(decision.Create);
        Assert.Equal(ConntrackDropReason.MidStreamNoState, decision.Reason);
    }

    [Fact]
    public void Decide_MidStreamTcpLoose_CreatesEstablished()
    {
        FirstPacketDecision decision = FirstPacket.Decide(IpProtocols.Tcp, TcpFlags.Psh | TcpFlags.Ack, MidStreamPolicy.Loose);

        Assert.True(decision.Create);
        Assert.Equal(TcpState.Established, decision.InitialState);
    }

    [Fact]
    public void Decide_LoneRstLoose_CreatesClosed()
    {
        FirstPacketDecision decision = FirstPacket.Decide(IpProtocols.Tcp, TcpFlags.Rst, MidStreamPolicy.Loose);

        Assert.Equal(new FirstPacketDecision(true, TcpState.Closed, ConntrackDropReason.None), decision);
    }

    [Theory]
    [InlineData((byte)MidStreamPolicy.Strict)]
    [InlineData((byte)MidStreamPolicy.Loose)]
    public void Decide_Syn_CreatesSynSentUnderEitherPolicy(byte policy)
    {
        FirstPacketDecision decision = FirstPacket.Decide(IpProtocols.Tcp, TcpFlags.Syn | TcpFlags.Ece | TcpFlags.Cwr, (MidStreamPolicy)policy);

        Assert.Equal(new FirstPacketDecision(true, TcpState.SynSent, ConntrackDropReason.None), decision);
    }

    [Fact]
    public void Decide_Udp_AlwaysCreates()
    {
        Assert.True(FirstPacket.Decide(IpProtocols.Udp, TcpFlags.None, MidStreamPolicy.Strict).Create);
    }

    [Fact]
    public void Counters_RecordDrop_CountsPerReason()
    {
        var counters = new ConntrackCounters();

        counters.RecordDrop(ConntrackDropReason.MidStreamNoState);
        counters.RecordDrop(ConntrackDropReason.MidStreamNoState);
        counters.RecordDrop(ConntrackDropReason.InvalidTcpTransition);

        Assert.Equal(2, counters.Drops(ConntrackDropReason.MidStreamNoState));
        Assert.Equal(1, counters.Drops(ConntrackDropReason.InvalidTcpTransition));
    }

    [Fact]
    public void Observe_PacketsBothWays_CountsPerDirectionAndTracksState()
    {
        var time = new FakeTimeProvider();
        var flow = new FlowVerdict(IpProtocols.Tcp, Accepted, TcpState.None, NatBinding.None, time.GetTimestamp());

        flow.Observe(FlowDirection.Original, TcpFlags.Syn, 60, time.GetTimestamp());
        flow.Observe(FlowDirection.Reply, TcpFlags.Syn | TcpFlags.Ack, 60, time.GetTimestamp());
        flow.Observe(FlowDirection.Original, TcpFlags.Ack, 1500, time.GetTimestamp());

        Assert.Equal((2, 1560L, 1, 60L), (flow.PacketsOriginal, flow.BytesOriginal, flow.PacketsReply, flow.BytesReply));
        Assert.Equal(TcpState.Established, flow.TcpState);
        Assert.Equal(10, flow.RuleId);
    }

    [Fact]
    public void Observe_InvalidTcpPacket_IsNotCountedAndReported()
    {
        var flow = new FlowVerdict(IpProtocols.Tcp, Accepted, TcpState.SynSent, NatBinding.None, 0);

        Assert.Equal(TcpUpdate.Invalid, flow.Observe(FlowDirection.Original, TcpFlags.Syn | TcpFlags.Ack, 60, 5));

        Assert.Equal(0, flow.PacketsOriginal);
        Assert.Equal(0, flow.LastSeenTicks);
    }

    [Fact]
    public void IsExpired_EstablishedTcp_UsesEstablishedTimeout()
    {
        var time = new FakeTimeProvider();
        var table = new TimeoutTable(new ConntrackTimeouts(), time.TimestampFrequency);
        var flow = new FlowVerdict(IpProtocols.Tcp, Accepted, TcpState.Established, NatBinding.None, time.GetTimestamp());

        time.Advance(TimeSpan.FromHours(2) - TimeSpan.FromSeconds(1));
        Assert.False(flow.IsExpired(time.GetTimestamp(), table));
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.True(flow.IsExpired(time.GetTimestamp(), table));
    }

    [Fact]
    public void IsExpired_TimeWaitWithCustomCloseTimeout_ExpiresAfterIt()
    {
        var time = new FakeTimeProvider();
        var table = new TimeoutTable(new ConntrackTimeouts { TcpClose = TimeSpan.FromSeconds(3) }, time.TimestampFrequency);
        var flow = new FlowVerdict(IpProtocols.Tcp, Accepted, TcpState.TimeWait, NatBinding.None, time.GetTimestamp());

        time.Advance(TimeSpan.FromSeconds(2.5));
        Assert.False(flow.IsExpired(time.GetTimestamp(), table));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(flow.IsExpired(time.GetTimestamp(), table));
    }

    [Fact]
    public void IsExpired_UdpWithReply_UsesStreamTimeout()
    {
        var time = new FakeTimeProvider();
        var table = new TimeoutTable(new ConntrackTimeouts(), time.TimestampFrequency);
        var oneWay = new FlowVerdict(IpProtocols.Udp, Accepted, TcpState.None, NatBinding.None, time.GetTimestamp());
        var twoWay = new FlowVerdict(IpProtocols.Udp, Accepted, TcpState.None, NatBinding.None, time.GetTimestamp());
        twoWay.Observe(FlowDirection.Reply, TcpFlags.None, 100, time.GetTimestamp());

        time.Advance(TimeSpan.FromSeconds(60));

        Assert.True(oneWay.IsExpired(time.GetTimestamp(), table));
        Assert.False(twoWay.IsExpired(time.GetTimestamp(), table));
    }

    [Fact]
    public void Timeouts_Defaults_MatchConntrackLikeValues()
    {
        var timeouts = new ConntrackTimeouts();

        Assert.Equal(TimeSpan.FromHours(2), timeouts.For(IpProtocols.Tcp, TcpState.Established, true));
        Assert.Equal(TimeSpan.FromSeconds(120), timeouts.For(IpProtocols.Tcp, TcpState.SynSent, false));
        Assert.Equal(TimeSpan.FromSeconds(120), timeouts.For(IpProtocols.Tcp, TcpState.LastAck, true));
        Assert.Equal(TimeSpan.FromSeconds(10), timeouts.For(IpProtocols.Tcp, TcpState.Closed, true));
        Assert.Equal(TimeSpan.FromSeconds(30), timeouts.For(IpProtocols.IcmpV6, TcpState.None, false));
        Assert.Equal(TimeSpan.FromHours(2), timeouts.Longest);
        Assert.Contains("Udp: timeout must be positive", new ConntrackTimeouts { Udp = TimeSpan.Zero }.Validate()[0], StringComparison.Ordinal);
    }
}
