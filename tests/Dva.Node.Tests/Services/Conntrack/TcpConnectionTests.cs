using Dva.Node.Services.Conntrack;
using static Dva.Node.Services.Conntrack.FlowDirection;
using static Dva.Node.Services.Conntrack.TcpFlags;

namespace Dva.Node.Tests.Services.Conntrack;

public class TcpConnectionTests
{
    private static TcpConnection Run(params (FlowDirection Direction, TcpFlags Flags, TcpState Expected)[] steps)
    {
        var connection = new TcpConnection(TcpState.None);
        for (int i = 0; i < steps.Length; i++)
        {
            (FlowDirection direction, TcpFlags flags, TcpState expected) = steps[i];
            Assert.Equal(TcpUpdate.Accepted, connection.Update(direction, flags));
            Assert.True(expected == connection.State, $"step {i} ({direction} {flags}): expected {expected}, got {connection.State}");
        }

        return connection;
    }

    private static TcpConnection Established() => Run(
        (Original, Syn, TcpState.SynSent),
        (Reply, Syn | Ack, TcpState.SynReceived),
        (Original, Ack, TcpState.Established));

    [Fact]
    public void Update_ThreeWayHandshake_ReachesEstablished()
    {
        Assert.Equal(TcpState.Established, Established().State);
    }

    [Fact]
    public void Update_OrderlyCloseByClient_GoesThroughFinWaitCloseWaitLastAckTimeWait()
    {
        TcpConnection c = Established();

        Assert.Equal(TcpUpdate.Accepted, c.Update(Original, Fin | Ack));
        Assert.Equal(TcpState.FinWait, c.State);
        Assert.Equal(TcpUpdate.Accepted, c.Update(Reply, Ack));
        Assert.Equal(TcpState.CloseWait, c.State);
        Assert.Equal(TcpUpdate.Accepted, c.Update(Reply, Psh | Ack));
        Assert.Equal(TcpState.CloseWait, c.State);
        Assert.Equal(TcpUpdate.Accepted, c.Update(Reply, Fin | Ack));
        Assert.Equal(TcpState.LastAck, c.State);
        Assert.Equal(TcpUpdate.Accepted, c.Update(Original, Ack));
        Assert.Equal(TcpState.TimeWait, c.State);
    }

    [Fact]
    public void Update_CloseByServer_TracksTheServerAsFirstCloser()
    {
        TcpConnection c = Established();

        c.Update(Reply, Fin | Ack);
        // The closer's own ACKs do not acknowledge its FIN.
        c.Update(Reply, Ack);
        Assert.Equal(TcpState.FinWait, c.State);
        c.Update(Original, Ack);
        Assert.Equal(TcpState.CloseWait, c.State);
        c.Update(Original, Fin | Ack);
        Assert.Equal(TcpState.LastAck, c.State);
        c.Update(Reply, Ack);
        Assert.Equal(TcpState.TimeWait, c.State);
    }

    [Fact]
    public void Update_SimultaneousClose_ReachesTimeWait()
    {
        TcpConnection c = Established();

        c.Update(Original, Fin | Ack);
        Assert.Equal(TcpState.FinWait, c.State);
        // The server's FIN crosses the client's: it does not acknowledge it.
        c.Update(Reply, Fin);
        Assert.Equal(TcpState.LastAck, c.State);
        c.Update(Reply, Ack);
        Assert.Equal(TcpState.TimeWait, c.State);
        c.Update(Original, Ack);
        Assert.Equal(TcpState.TimeWait, c.State);
    }

    [Fact]
    public void Update_FinCarriedOnHandshakeAck_GoesToFinWait()
    {
        TcpConnection c = Run((Original, Syn, TcpState.SynSent), (Reply, Syn | Ack, TcpState.SynReceived));

        c.Update(Original, Fin | Ack);

        Assert.Equal(TcpState.FinWait, c.State);
    }

    [Fact]
    public void Update_SimultaneousOpen_ReachesEstablished()
    {
        Run(
            (Original, Syn, TcpState.SynSent),
            (Reply, Syn, TcpState.SynReceived),
            (Original, Syn | Ack, TcpState.SynReceived),
            (Reply, Syn | Ack, TcpState.SynReceived),
            (Reply, Ack, TcpState.Established));
    }

    [Theory]
    [InlineData((byte)TcpState.SynSent)]
    [InlineData((byte)TcpState.SynReceived)]
    [InlineData((byte)TcpState.Established)]
    [InlineData((byte)TcpState.FinWait)]
    [InlineData((byte)TcpState.LastAck)]
    public void Update_RstFromEitherSide_Closes(byte reachedState)
    {
        var reached = (TcpState)reachedState;
        foreach (FlowDirection from in new[] { Original, Reply })
        {
            var c = new TcpConnection(TcpState.None);
            (FlowDirection, TcpFlags)[] path =
                [(Original, Syn), (Reply, Syn | Ack), (Original, Ack), (Original, Fin | Ack), (Reply, Fin | Ack)];
            for (int i = 0; c.State != reached; i++)
            {
                c.Update(path[i].Item1, path[i].Item2);
            }

            Assert.Equal(TcpUpdate.Accepted, c.Update(from, Rst | Ack));
            Assert.Equal(TcpState.Closed, c.State);
        }
    }

    [Fact]
    public void Update_SynAfterTimeWait_StartsNewConnection()
    {
        var c = new TcpConnection(TcpState.TimeWait);

        Assert.Equal(TcpUpdate.Accepted, c.Update(Original, Syn));

        Assert.Equal(TcpState.SynSent, c.State);
    }

    [Fact]
    public void Update_SynAckFromClientInSynSent_IsInvalidAndKeepsState()
    {
        TcpConnection c = Run((Original, Syn, TcpState.SynSent));

        Assert.Equal(TcpUpdate.Invalid, c.Update(Original, Syn | Ack));
        Assert.Equal(TcpUpdate.Invalid, c.Update(Reply, Ack));
        Assert.Equal(TcpState.SynSent, c.State);
    }

    [Fact]
    public void Update_SynInEstablished_IsInvalid()
    {
        TcpConnection c = Established();

        Assert.Equal(TcpUpdate.Invalid, c.Update(Original, Syn));
        Assert.Equal(TcpState.Established, c.State);
    }

    [Fact]
    public void Update_DataAfterReset_IsInvalid()
    {
        var c = new TcpConnection(TcpState.Closed);

        Assert.Equal(TcpUpdate.Invalid, c.Update(Reply, Psh | Ack));
        Assert.Equal(TcpState.Closed, c.State);
    }
}
