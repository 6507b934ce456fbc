using System.Net;
using System.Net.NetworkInformation;
using Dva.Node.Agent;
using Dva.Node.Config;
using Dva.Node.DataPlane;
using Dva.Node.Io;
using Dva.Shared.Flows;
using Dva.Shared.Tables;
using Dva.Shared.Wire;
using Microsoft.Extensions.Time.Testing;

namespace Dva.Node.Tests.DataPlane;

/// <summary>
/// One data plane with a fake clock, fed datagrams built with the real tunnel writer. The DVA: dispatcher 1 on
/// interface 1 (outside, 192.0.2.1/24, 2001:db8::1/64), dispatcher 2 on interface 2 (inside, 198.51.100.1/24),
/// a static route 203.0.113.0/24 via 198.51.100.254, data planes by node id; node n's tunnel is 127.0.0.1:20000+n.
/// </summary>
internal sealed class DataPlaneRig : IDisposable
{
    public const byte Outside = 1;
    public const byte Inside = 2;
    public const ushort OutsideDispatcher = 1;
    public const ushort InsideDispatcher = 2;
    public static readonly Guid DvaId = new("9a0e9a4b-5bd1-4d77-9d7b-55a2f7a6a001");
    public const ulong Seed = 0x5EED_0000_1234_5678;
    public static readonly byte[] InsideMac = [0x02, 0, 0, 0, 0, 0x02];

    /// <param name="engines">
    /// More than one: the node's roles of <see cref="DataPlaneRole.CreateGroup"/>, and <see cref="Process"/> hands each
    /// datagram to the engine its outer source port reaches, as the node's <see cref="TunnelSocketGroup"/> would.
    /// </param>
    public DataPlaneRig(ushort self = 10, DataPlaneOptions? options = null, FakeTimeProvider? time = null, TableStore? tables = null,
        Func<NodeSettings, NodeSettings>? configure = null, int engines = 1)
    {
        Time = time ?? new FakeTimeProvider(new DateTimeOffset(2026, 11, 26, 9, 0, 0, TimeSpan.Zero));
        Tables = tables ?? new TableStore();
        var settings = Settings(self);
        settings = configure is null ? settings : configure(settings);
        options ??= new DataPlaneOptions { FlowCapacity = 1024, NatCapacity = 1024 };
        Roles = engines == 1 ? [new DataPlaneRole(settings, Tables, Counters, Time, options)] : DataPlaneRole.CreateGroup(settings, Tables, Counters, Time, options, engines);
        Role = Roles[0];
    }

    public FakeTimeProvider Time { get; }

    public TableStore Tables { get; }

    public NodeCounters Counters { get; } = new();

    /// <summary>The first engine's role (the only one on a one-engine node); it answers snapshots for all.</summary>
    public DataPlaneRole Role { get; }

    /// <summary>The role of every engine, in engine order.</summary>
    public IReadOnlyList<DataPlaneRole> Roles { get; }

    /// <summary>The engine that handled the last datagram given to <see cref="Process"/>.</summary>
    public int LastEngine { get; private set; }

    /// <summary>The role that handled the last datagram given to <see cref="Process"/>.</summary>
    public DataPlaneRole LastRole => Roles[LastEngine];

    /// <summary>Flows of every engine.</summary>
    public int FlowCount => Roles.Sum(r => r.Flows.Count);

    /// <summary>Translated flows of every engine.</summary>
    public int NatCount => Roles.Sum(r => r.Nat.Count);

    /// <summary>Live flows per bucket, summed over the engines.</summary>
    public int[] BucketCounts(int bucketCount)
    {
        var counts = new int[bucketCount];
        var part = new int[bucketCount];
        foreach (var role in Roles)
        {
            role.Flows.CopyBucketCounts(part);
            for (var b = 0; b < bucketCount; b++)
            {
                counts[b] += part[b];
            }
        }

        return counts;
    }

    /// <summary>One expiry step on every engine.</summary>
    public void SweepFlows()
    {
        foreach (var role in Roles)
        {
            role.SweepFlows();
        }
    }

    public CounterSnapshot Snapshot => Counters.Snapshot();

    public static IPEndPoint EndpointOf(ushort node) => new(IPAddress.Loopback, 20000 + node);

    public static NodeSettings Settings(ushort self, Func<ushort, IPEndPoint>? endpoint = null) => new(
        NodeRole.DataPlane,
        self,
        $"dp-{self}",
        (endpoint ?? EndpointOf)(self),
        1500,
        new IPEndPoint(IPAddress.Loopback, 0),
        [
            new SharedInterface(Outside, "outside", new PhysicalAddress(TestFrames.SharedMacOutside), [IPAddress.Parse("192.0.2.1"), IPAddress.Parse("2001:db8::1")],
                [IPNetwork.Parse("192.0.2.0/24"), IPNetwork.Parse("2001:db8::/64")], null, 1),
            new SharedInterface(Inside, "inside", new PhysicalAddress(InsideMac), [IPAddress.Parse("198.51.100.1")], [IPNetwork.Parse("198.51.100.0/24")], null, 2),
        ],
        [new StaticRoute(IPNetwork.Parse("203.0.113.0/24"), IPAddress.Parse("198.51.100.254"), Inside)],
        null,
        FlowTimeouts.Default);

    public static PeerInfo[] Peers(IEnumerable<ushort> dataPlanes, Func<ushort, IPEndPoint>? endpoint = null)
    {
        endpoint ??= EndpointOf;
        return
        [
            new PeerInfo(1, PeerRole.Dispatcher, endpoint(1)),
            new PeerInfo(2, PeerRole.Dispatcher, endpoint(2)),
            .. dataPlanes.Select(n => new PeerInfo(n, PeerRole.DataPlane, endpoint(n), 1)),
        ];
    }

    public static TableVersion First(params ushort[] dataPlanes) => TableVersion.CreateFirst(DvaId, Seed, 256, Peers(dataPlanes), "test");

    public static TableVersion Next(TableVersion table, params ushort[] dataPlanes) =>
        table.Next(Peers(dataPlanes), new DateTimeOffset(2026, 11, 26, 8, 0, 0, TimeSpan.Zero), "test", out int _);

    public static int BucketOf(byte[] frame, TableVersion table)
    {
        Assert.True(FlowKey.TryFrom(TestFrames.Parse(frame), out var key, out _));
        return FlowHasher.Bucket(key, table.Seed, table.BucketCount);
    }

    public static FlowKey KeyOf(byte[] frame)
    {
        Assert.True(FlowKey.TryFrom(TestFrames.Parse(frame), out var key, out _));
        return key;
    }

    public static ulong HashOf(byte[] frame, TableVersion table) => FlowHasher.Hash(KeyOf(frame), table.Seed);

    /// <summary>The first client port whose flow (built by <paramref name="frame"/>) lands in a bucket <paramref name="wanted"/> accepts.</summary>
    public static ushort PortWhere(TableVersion table, Func<int, bool> wanted, Func<ushort, byte[]> frame)
    {
        for (ushort port = 1024; port < 65000; port++)
        {
            if (wanted(BucketOf(frame(port), table)))
            {
                return port;
            }
        }

        throw new InvalidOperationException("no port maps to a wanted bucket");
    }

    public static TunnelFields Dispatch(ushort to, TableVersion table, byte ttl = TunnelFields.InitialTtl, bool trace = false) =>
        HandoffFields(Handoff.None, OutsideDispatcher, to, table, ttl, trace) with { Type = TunnelType.Dispatch };

    public static TunnelFields HandoffFields(Handoff handoff, ushort from, ushort to, TableVersion table, byte ttl = 254, bool trace = false) => new()
    {
        Type = TunnelType.Handoff,
        Handoff = handoff,
        DNode = to,
        HNode = from,
        SNode = OutsideDispatcher,
        IfId = Outside,
        Era = (byte)table.Era,
        Ttl = ttl,
        Trr = trace,
    };

    /// <summary>HANDOFF BROADCAST as a dispatcher sends it to chain[0] (DESIGN.md §7): T set, TTL 255.</summary>
    public static TunnelFields BroadcastFields(ushort to, TableVersion table, ushort dispatcher = OutsideDispatcher, byte ifid = Outside) =>
        HandoffFields(Handoff.Broadcast, dispatcher, to, table, TunnelFields.InitialTtl, trace: true) with { SNode = dispatcher, IfId = ifid };

    /// <summary>A datagram as the tunnel socket would deliver it: header in front of <paramref name="frame"/>, peer = the sender's endpoint.</summary>
    public static PacketBuffer Datagram(byte[] frame, TunnelFields fields, ushort[]? nids = null, IPEndPoint? from = null)
    {
        var buffer = PacketBuffer.CreateUnpooled();
        Assert.True(buffer.TrySetFrame(frame));
        nids ??= [];
        var headerLength = TunnelLayout.HeaderLength(fields, nids.Length);
        Assert.True(buffer.TryPrepend(headerLength, out _));
        Assert.Equal(WireError.None, TunnelWriter.TryWriteInFront(buffer.Frame, headerLength, frame.Length, fields, nids, out var start, out _));
        Assert.Equal(0, start);
        buffer.Peer = PacketAddress.FromEndPoint(from ?? EndpointOf(fields.HNode));
        return buffer;
    }

    /// <summary>What the role sent: the header (validated by the real reader), its nids and the inner frame.</summary>
    public static (TunnelHeader Header, ushort[] Nids, byte[] Inner) Read(PacketBuffer buffer)
    {
        Assert.Equal(WireError.None, TunnelHeader.TryRead(buffer.Frame, out var header));
        var nids = new ushort[header.NidCount];
        header.CopyNids(buffer.Frame, nids);
        return (header, nids, buffer.Frame.Slice(header.InnerOffset, header.InnerLength).ToArray());
    }

    /// <summary>Asserts the role sent the datagram on as a hand-off from <paramref name="from"/> to <paramref name="to"/>.</summary>
    public static TunnelHeader AssertHandOff(PacketBuffer buffer, Handoff handoff, ushort from, ushort to)
    {
        var header = Read(buffer).Header;
        Assert.Equal(TunnelType.Handoff, header.Type);
        Assert.Equal(handoff, header.Handoff);
        Assert.Equal(to, header.DNode);
        Assert.Equal(from, header.HNode);
        Assert.Equal(PacketAddress.FromEndPoint(EndpointOf(to)), buffer.Peer);
        return header;
    }

    /// <summary>Hands a sent datagram to the next node as its socket would: the source address becomes the sender's endpoint.</summary>
    public static void ArriveFrom(PacketBuffer buffer, ushort sender) => buffer.Peer = PacketAddress.FromEndPoint(EndpointOf(sender));

    public Verdict Process(PacketBuffer buffer)
    {
        LastEngine = EngineFor(buffer);
        return Roles[LastEngine].Process(buffer);
    }

    /// <summary>
    /// The engine a datagram reaches: <c>outer source port mod engines</c>. A datagram a role sent carries its port in
    /// <see cref="PacketBuffer.SourcePort"/>; a fresh one is sent as a dispatcher sends it, from its inner flow's hash port
    /// (DESIGN.md §2); one without a flow (a broadcast, a probe) from the sender's bound port.
    /// </summary>
    public int EngineFor(PacketBuffer buffer)
    {
        if (Roles.Count == 1)
        {
            return 0;
        }

        var port = buffer.SourcePort;
        if (port == 0 && Tables.State.Current is { } table && TunnelHeader.TryRead(buffer.Frame, out var rx) == WireError.None
            && Dva.Shared.Packets.PacketParser.TryParse(buffer.Frame.Slice(rx.InnerOffset, rx.InnerLength), out var info) == Dva.Shared.Packets.ParseError.None
            && FlowKey.TryFrom(info, out var key, out _))
        {
            port = TunnelLayout.UdpSourcePort(FlowHasher.Hash(key, table.Seed));
        }

        return TunnelSocketGroup.IndexFor(port == 0 ? buffer.Peer.Port : port, Roles.Count);
    }

    public void Install(params TableVersion[] tables)
    {
        foreach (var t in tables)
        {
            Assert.True(Tables.Install(t, out var error), error);
        }
    }

    public void Dispose()
    {
        foreach (var role in Roles)
        {
            role.Dispose();
        }
    }
}
