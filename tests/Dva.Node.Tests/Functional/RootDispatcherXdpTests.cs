using System.Net;
using System.Net.Sockets;
using Dva.Node.Agent;
using Dva.Node.Io;

namespace Dva.Node.Tests.Functional;

/// <summary>
/// A dispatcher whose shared interfaces are <c>afxdp:</c> sources (an XDP program in veth's driver on the client side,
/// at the generic hook on the server side) facing real Linux hosts (<see cref="RootDispatcherLab"/>). Root only.
/// </summary>
[Trait("Requires", "root")]
public sealed class RootDispatcherXdpTests() : RootDispatcherLab(engines: 1, prefix: "dv3", serverSourceOptions: "?mode=generic", sourceKind: "afxdp")
{
    [Fact]
    public void Arping_SharedIp_RepliesWithTheSharedMac()
    {
        var output = Client.Exec("arping -c 2 -w 5 -I dv3c-h 192.0.2.1");

        Assert.Contains("02:00:00:00:00:01", output, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Ping_ClientToServerThroughTheDva_AnsweredAndEveryFrameCameThroughXdp()
    {
        var output = Client.Exec("ping -c 3 -i 0.2 -W 3 198.51.100.10");

        Assert.Contains("3 received", output, StringComparison.Ordinal);
        Assert.Contains("ttl=63", output, StringComparison.Ordinal);
        var sources = Hosts[1].Ports.OfType<AfXdpFrameSource>().ToList();
        Assert.Equal([XdpAttachMode.Native, XdpAttachMode.Generic], sources.Select(s => s.AttachMode));
        Assert.All(sources, s => Assert.True(s.Counters.ReceivedPackets >= 3, $"{s.Name} received {s.Counters.ReceivedPackets}"));
    }

    /// <summary>A 4 MiB TCP transfer from server to client: thousands of full-size frames through both XDP sources, byte for byte.</summary>
    [Fact]
    public async Task TcpTransfer_FourMegabytes_ArrivesWhole()
    {
        var payload = new byte[4 << 20];
        new Random(9).NextBytes(payload);

        var received = await ServerToClientAsync(payload, port: 7001);

        Assert.True(payload.AsSpan().SequenceEqual(received), $"received {received.Length} of {payload.Length} bytes, or different ones");
        var drops = new Dictionary<string, long>();
        foreach (var source in Hosts[1].Ports.OfType<AfXdpFrameSource>())
        {
            source.AddOwnDrops(drops);
        }

        Assert.Empty(drops);
    }
}
