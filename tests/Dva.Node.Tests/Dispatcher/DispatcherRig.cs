using System.Buffers.Binary;
using System.Net;
using Dva.Node.Agent;
using Dva.Node.Config;
using Dva.Node.Dispatcher;
using Dva.Node.Engine;
using Dva.Node.Io;
using Dva.Node.Tests.Io;
using Dva.Node.Traffic;
using Dva.Shared.Flows;
using Dva.Shared.Packets;
using Dva.Shared.Tables;
using Dva.Shared.Wire;

namespace Dva.Node.Tests.Dispatcher;

/// <summary>
/// A real dispatcher on loopback: its engine, tunnel socket and two udp: wires (ifid 1 outside 192.0.2.1/24,
/// ifid 2 inside 198.51.100.1/24), with the test playing the hosts on the wires and two data planes
/// (node 1 and 2) on tunnel sockets that speak the wire format, as Npgsql's PgServerMock speaks its protocol.
/// </summary>
internal sealed class DispatcherRig : IDisposable
{
    public const ushort Self = 100;
    public static readonly byte[] OutsideMac = [0x02, 0, 0, 0, 0, 0x01];
    public static readonly byte[] InsideMac = [0x02, 0, 0, 0, 0, 0x02];
    public static readonly byte[] ClientMac = [0x02, 0xC1, 0, 0, 0, 0x0A];
    public static readonly byte[] ServerMac = [0x02, 0x5E, 0, 0, 0, 0x0A];
    public static readonly byte[] OtherMac = [0x02, 0x99, 0, 0, 0, 0x99];
    public const uint OutsideIp = 0xC0000201; // 192.0.2.1
    public const uint InsideIp = 0xC6336401; // 198.51.100.1
    public const uint ClientIp = 0xC000020A; // 192.0.2.10
    public const uint ServerIp = 0xC633640A; // 198.51.100.10

    private readonly List<IDisposable> _owned = [];

    /// <param name="dataPlaneOneEngines">More than one: data plane 1's endpoint is a <see cref="TunnelSocketGroup"/> of that many sockets.</param>
    /// <param name="secondEngine">
    /// A second role of the same group (<see cref="DispatcherRole.CreateGroup"/>, shared neighbour table) on its own engine,
    /// tunnel socket and wires (<see cref="Second"/>), as the second engine of a node whose afpacket: sources fan out.
    /// </param>
    /// <param name="insideMtu">A link MTU for the inside wire (<c>udp:…,MTU=n</c>); none by default.</param>
    /// <param name="insideSubInterfaces">The inside interface's <c>subInterfaces</c> (JSON).</param>
    /// <param name="insideRouterAdvertisements">The inside interface sends IPv6 router advertisements (needs an IPv6 address).</param>
    public DispatcherRig(int tunnelMtu = 1500, bool flowSourcePorts = false, int dataPlaneOneEngines = 1, bool secondEngine = false, int? insideMtu = null,
        string insideVlans = "[]", bool insideIpv6 = false, bool parkPayloads = false, string insideSubInterfaces = "[]",
        bool insideRouterAdvertisements = false)
    {
        DataPlaneOneGroup = dataPlaneOneEngines == 1 ? null : Own(TunnelSocketGroup.Open(new IPEndPoint(IPAddress.Loopback, 0), dataPlaneOneEngines));
        DataPlanes = new Dictionary<ushort, UdpTunnelSocket>
        {
            [1] = DataPlaneOneGroup?.Sockets[0] ?? Own(UdpTunnelSocket.Open(new IPEndPoint(IPAddress.Loopback, 0))),
            [2] = Own(UdpTunnelSocket.Open(new IPEndPoint(IPAddress.Loopback, 0))),
        };
        var (outsideHost, outsideSource) = Wire();
        var (insideHost, insideSource) = Wire();
        insideSource += insideMtu is { } mtu ? $",MTU={mtu}" : "";
        Outside = outsideHost;
        Inside = insideHost;
        var json = $$"""
            {
              "role": "dispatcher", "nodeId": {{Self}}, "superFrames": {{(parkPayloads ? "true" : "false")}}, "parkPayloads": {{(parkPayloads ? "true" : "false")}},
              "tunnel": { "listen": "127.0.0.1:0", "mtu": {{tunnelMtu}} },
              "interfaces": [
                { "ifid": 1, "mac": "02:00:00:00:00:01", "addresses": ["192.0.2.1/24"], "source": "{{outsideSource}}" },
                { "ifid": 2, "mac": "02:00:00:00:00:02", "addresses": ["198.51.100.1/24"{{(insideIpv6 ? ", \"2001:db8:2::1/64\"" : "")}}], "source": "{{insideSource}}", "vlans": {{insideVlans}},
                  "subInterfaces": {{insideSubInterfaces}}, "routerAdvertisements": {{(insideRouterAdvertisements ? "true" : "false")}} }
              ],
              "routes": [ { "prefix": "203.0.113.0/24", "nextHop": "198.51.100.254", "ifid": 2 } ],
              "table": {
                "bucketCount": 256, "seed": "0x1234",
                "dataPlanes": [ { "nodeId": 1, "endpoint": "{{DataPlanes[1].LocalEndPoint}}" }, { "nodeId": 2, "endpoint": "{{DataPlanes[2].LocalEndPoint}}" } ],
                "dispatchers": [ { "nodeId": {{Self}}, "endpoint": "127.0.0.1:1" } ]
              }
            }
            """;
        Assert.True(NodeSettings.TryParse(json, out var settings, out var errors), string.Join("; ", errors));
        Settings = settings!;
        Tunnel = Own(UdpTunnelSocket.Open(Settings.TunnelListen));
        if (flowSourcePorts)
        {
            Assert.True(Tunnel.EnableFlowSourcePorts(0, out var why), why);
        }

        // The dispatcher's own endpoint in the table must be where it sends from.
        var table = NodeHost.StaticTable(Settings)!;
        var peers = table.PeersById.ToArray().Select(p => p.NodeId == Self ? p with { Endpoint = Tunnel.LocalEndPoint } : p);
        Assert.True(Tables.Install(TableVersion.CreateFirst(table.DvaId, table.Seed, table.BucketCount, peers, "rig"), out _));
        var sources = new Dictionary<byte, PacketPort>
        {
            [1] = Own(FrameSourceSpecs(outsideSource).Open()),
            [2] = Own(FrameSourceSpecs(insideSource).Open()),
        };
        Engine = new EpollEngine(new BufferPool(1024));
        var roles = DispatcherRole.CreateGroup(Settings, Tables, Counters, TimeProvider.System, secondEngine ? 2 : 1);
        Role = roles[0];
        Role.Attach(Engine, Tunnel, sources);
        Engine.Start();
        if (secondEngine)
        {
            var (outside2, outsideSource2) = Wire();
            var (inside2, insideSource2) = Wire();
            var tunnel2 = Own(UdpTunnelSocket.Open(new IPEndPoint(IPAddress.Loopback, 0)));
            var engine2 = new EpollEngine(new BufferPool(1024));
            Second = new SecondEngineRig(roles[1], engine2, tunnel2, outside2, inside2);
            roles[1].Attach(engine2, tunnel2, new Dictionary<byte, PacketPort>
            {
                [1] = Own(FrameSourceSpecs(outsideSource2).Open()),
                [2] = Own(FrameSourceSpecs(insideSource2).Open()),
            });
            engine2.Start();
        }
    }

    /// <summary>The second engine's role and its own tunnel socket and wires (null unless asked for).</summary>
    public SecondEngineRig? Second { get; }

    public NodeSettings Settings { get; }

    public TableStore Tables { get; } = new();

    public NodeCounters Counters { get; } = new();

    public DispatcherRole Role { get; }

    public EpollEngine Engine { get; }

    public UdpTunnelSocket Tunnel { get; }

    public IReadOnlyDictionary<ushort, UdpTunnelSocket> DataPlanes { get; }

    /// <summary>Data plane 1's sockets when it has several engines (its first socket is <c>DataPlanes[1]</c>).</summary>
    public TunnelSocketGroup? DataPlaneOneGroup { get; }

    /// <summary>The host end of the outside wire (ifid 1).</summary>
    public UdpFrameSource Outside { get; }

    /// <summary>The host end of the inside wire (ifid 2).</summary>
    public UdpFrameSource Inside { get; }

    public TableVersion Table => Tables.State.Current!;

    public ushort OwnerOf(byte[] frame)
    {
        Assert.Equal(ParseError.None, PacketParser.TryParse(frame, out var info));
        Assert.True(FlowKey.TryFrom(info, out var key, out _));
        return Table.OwnerOf(FlowHasher.Bucket(key, Table.Seed, Table.BucketCount));
    }

    public static void Send(PacketPort port, byte[] frame) => Assert.Equal(1, port.Send([PortHelpers.Frame(frame)]));

    public void SendFromDataPlane(ushort node, byte[] datagram, IPEndPoint? to = null) =>
        Assert.Equal(1, DataPlanes[node].Send([PortHelpers.Frame(datagram, to ?? Tunnel.LocalEndPoint)]));

    public static byte[] ReceiveOne(PacketPort port, Func<byte[], bool>? match = null) => PortHelpers.ReceiveMatching(port, 1, match)[0].Frame;

    /// <summary>A TCP segment of a generated flow from the client to the server, through the outside shared MAC.</summary>
    public static byte[] ClientSegment(int step = 2, long flowId = 1, int payload = 100, byte[]? destinationMac = null)
    {
        var spec = new FlowSpec(flowId, PacketConstants.ProtocolTcp, ClientIp, (ushort)(20000 + flowId), ServerIp, 80, 3, payload);
        var buffer = new byte[2048];
        var length = TrafficFrames.Write(buffer, spec, spec.Step(step), step, ClientMac, destinationMac ?? OutsideMac);
        Assert.True(length > 0);
        return buffer[..length];
    }

    /// <summary>An EGRESS datagram as data plane <paramref name="from"/> writes it.</summary>
    public static byte[] Egress(byte[] inner, Handoff handoff, ushort tci, ushort from, ushort to = Self, TunnelOffload offload = default, TunnelPark park = default,
        TunnelShortcut shortcut = default)
    {
        var buffer = new byte[128 + inner.Length];
        inner.CopyTo(buffer, 128);
        var fields = new TunnelFields
        {
            DNode = to,
            HNode = from,
            Type = TunnelType.Egress,
            Handoff = handoff,
            Hook = Hook.PostRouting,
            Ttl = 250,
            SNode = Self,
            IfId = 2,
            VlanTci = tci,
            Offload = offload,
            Park = park,
            Shortcut = shortcut,
        };
        Assert.Equal(WireError.None, TunnelWriter.TryWriteInFront(buffer, 128, inner.Length, fields, [], out var start, out var length));
        return buffer[start..(start + length)];
    }

    public static byte[] Tag(byte[] frame, ushort tci)
    {
        var tagged = new byte[frame.Length + 4];
        frame.AsSpan(0, 12).CopyTo(tagged);
        BinaryPrimitives.WriteUInt16BigEndian(tagged.AsSpan(12), PacketConstants.EtherTypeVlan);
        BinaryPrimitives.WriteUInt16BigEndian(tagged.AsSpan(14), tci);
        frame.AsSpan(12).CopyTo(tagged.AsSpan(16));
        return tagged;
    }

    public void Dispose()
    {
        Engine.Dispose();
        Second?.Engine.Dispose();
        foreach (var d in _owned)
        {
            d.Dispose();
        }
    }

    private static FrameSourceSpec FrameSourceSpecs(string text)
    {
        Assert.True(FrameSourceSpec.TryParse(text, out var spec, out var error), error);
        return spec;
    }

    private T Own<T>(T disposable)
        where T : IDisposable
    {
        _owned.Add(disposable);
        return disposable;
    }

    private (UdpFrameSource Host, string DispatcherSource) Wire()
    {
        var host = PortHelpers.FreeLoopbackPort();
        var dispatcher = PortHelpers.FreeLoopbackPort();
        var hostEnd = Own(UdpFrameSource.Open(FrameSourceSpecs($"udp:LOCAL=127.0.0.1:{host},PEER=127.0.0.1:{dispatcher}")));
        return (hostEnd, $"udp:LOCAL=127.0.0.1:{dispatcher},PEER=127.0.0.1:{host}");
    }
}

/// <summary>The second engine of a <see cref="DispatcherRig"/>: its role, engine, tunnel socket and host ends of its wires.</summary>
internal sealed record SecondEngineRig(DispatcherRole Role, EpollEngine Engine, UdpTunnelSocket Tunnel, UdpFrameSource Outside, UdpFrameSource Inside);
