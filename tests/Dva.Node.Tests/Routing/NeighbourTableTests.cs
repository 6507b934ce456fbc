using System.Net;
using Dva.Node.Routing;
using Dva.Shared.Packets;
using Microsoft.Extensions.Time.Testing;

namespace Dva.Node.Tests.Routing;

public class NeighbourTableTests
{
    private static readonly IpAddr Host = IpAddr.From(IPAddress.Parse("192.0.2.10"));
    private static readonly byte[] Mac = [0x02, 0xC1, 0, 0, 0, 0x0A];
    private static readonly byte[] OtherMac = [0x02, 0xC1, 0, 0, 0, 0x0B];

    [Fact]
    public void Learn_ThenTryGet_SameInterfaceOnly()
    {
        var table = new NeighbourTable(new FakeTimeProvider(), TimeSpan.FromMinutes(5));
        var mac = new byte[6];

        Assert.True(table.Learn(1, Host, Mac));

        Assert.True(table.TryGet(1, Host, mac));
        Assert.Equal(Mac, mac);
        Assert.False(table.TryGet(2, Host, mac));
    }

    [Fact]
    public void Learn_SameMacAgain_NotAChange_NewMacIs()
    {
        var table = new NeighbourTable(new FakeTimeProvider(), TimeSpan.FromMinutes(5));

        Assert.True(table.Learn(1, Host, Mac));
        Assert.False(table.Learn(1, Host, Mac));
        Assert.True(table.Learn(1, Host, OtherMac));
        Assert.Equal(1, table.Count);
    }

    [Fact]
    public void Learn_OnAVlan_TryGetGivesTheTciWithTheWholeMac_MovingToAnotherVlanIsAChange()
    {
        var table = new NeighbourTable(new FakeTimeProvider(), TimeSpan.FromMinutes(5));
        var mac = new byte[6];
        byte[] high = [0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE]; // every bit the TCI could clobber

        Assert.True(table.Learn(1, Host, high, tci: 0xF00A));
        Assert.True(table.TryGet(1, Host, mac, out var tci));
        Assert.Equal(high, mac);
        Assert.Equal(0xF00A, tci);
        Assert.False(table.Learn(1, Host, high, tci: 0xF00A));
        Assert.True(table.Learn(1, Host, high, tci: 0x0014));
        Assert.True(table.TryGet(1, Host, mac, out tci));
        Assert.Equal(0x0014, tci);
    }

    [Fact]
    public void Learn_MulticastMacOrNoAddress_Ignored()
    {
        var table = new NeighbourTable(new FakeTimeProvider(), TimeSpan.FromMinutes(5));

        Assert.False(table.Learn(1, Host, [0x01, 0x00, 0x5E, 0, 0, 1]));
        Assert.False(table.Learn(1, default, Mac));
        Assert.Equal(0, table.Count);
    }

    [Fact]
    public void TryGet_AfterLifetime_UnknownAndExpireRemovesIt()
    {
        var time = new FakeTimeProvider();
        var table = new NeighbourTable(time, TimeSpan.FromMinutes(5));
        table.Learn(1, Host, Mac);

        time.Advance(TimeSpan.FromMinutes(5));

        Assert.False(table.TryGet(1, Host, new byte[6]));
        Assert.Equal(1, table.Expire());
        Assert.Equal(0, table.Count);
    }

    [Fact]
    public void Learn_RefreshBeforeLifetime_KeepsTheEntry()
    {
        var time = new FakeTimeProvider();
        var table = new NeighbourTable(time, TimeSpan.FromMinutes(5));
        table.Learn(1, Host, Mac);
        time.Advance(TimeSpan.FromMinutes(4));
        table.Learn(1, Host, Mac);
        time.Advance(TimeSpan.FromMinutes(4));

        Assert.True(table.TryGet(1, Host, new byte[6]));
        Assert.Equal(0, table.Expire());
        Assert.Equal([(1, Host, "02C10000000A")], table.Snapshot().Select(n => ((int)n.Ifid, n.Address, n.Mac)));
    }
}
