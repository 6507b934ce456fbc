using System.Net;
using Dva.Node.Agent;
using Dva.Node.Config;
using Dva.Node.Tests.Io;
using Dva.Node.Traffic;
using Dva.Shared.Tables;

namespace Dva.Node.Tests.Functional;

/// <summary>
/// A DVA of real processes on 127.0.0.1: one dispatcher (node 100) with two udp: wires (ifid 1 outside
/// 192.0.2.1/24, ifid 2 inside 198.51.100.1/24) and data planes 1..N, of which the first
/// <c>inTable</c> are in the static table and the rest start without a table (to join by PUT /table).
/// </summary>
internal sealed class DvaCluster : IDisposable
{
    public const ushort DispatcherId = 100;
    private readonly string _directory = Directory.CreateTempSubdirectory("dva-functional-").FullName;
    private readonly List<NodeProcess> _nodes = [];

    private readonly string _tunnelExtra;
    private readonly string _dataPlaneExtra;

    private DvaCluster(int dataPlanes, string? tunnelSecurity, string? dataPlaneExtra, bool ipv6Tunnel)
    {
        _tunnelExtra = tunnelSecurity is null ? "" : $", \"security\": {tunnelSecurity}";
        _dataPlaneExtra = dataPlaneExtra is null ? "" : $", {dataPlaneExtra}";
        Func<IPEndPoint> tunnelEndpoint = ipv6Tunnel
            ? () => new IPEndPoint(IPAddress.IPv6Loopback, PortHelpers.FreeLoopbackPort(IPAddress.IPv6Loopback))
            : () => Loopback(PortHelpers.FreeLoopbackPort());
        DataPlaneEndpoints = Enumerable.Range(1, dataPlanes).ToDictionary(i => (ushort)i, _ => tunnelEndpoint());
        DispatcherEndpoint = tunnelEndpoint();
        ClientWire = (Loopback(PortHelpers.FreeLoopbackPort()), Loopback(PortHelpers.FreeLoopbackPort()));
        ServerWire = (Loopback(PortHelpers.FreeLoopbackPort()), Loopback(PortHelpers.FreeLoopbackPort()));
    }

    public IReadOnlyDictionary<ushort, IPEndPoint> DataPlaneEndpoints { get; }

    public IPEndPoint DispatcherEndpoint { get; }

    /// <summary>(generator end, dispatcher end) of each wire.</summary>
    public (IPEndPoint Generator, IPEndPoint Dispatcher) ClientWire { get; }

    public (IPEndPoint Generator, IPEndPoint Dispatcher) ServerWire { get; }

    public NodeProcess Dispatcher { get; private set; } = null!;

    /// <summary>Every node: the data planes, then the dispatcher.</summary>
    public IEnumerable<NodeProcess> Nodes => DataPlanes.Values.Append(Dispatcher);

    public Dictionary<ushort, NodeProcess> DataPlanes { get; } = [];

    /// <summary>The static table every node of the first set starts with.</summary>
    public TableVersion FirstTable { get; private set; } = null!;

    /// <summary>
    /// Starts the nodes; <paramref name="tunnelSecurity"/> is the <c>tunnel.security</c> object every node gets (null: plain),
    /// <paramref name="dataPlaneExtra"/> more top-level members of every data plane's configuration (<c>"engines": 2</c>);
    /// with <paramref name="ipv6Tunnel"/> the nodes' tunnels listen on [::1] (the wires stay on 127.0.0.1).
    /// </summary>
    public static async Task<DvaCluster> StartAsync(int dataPlanes, int inTable, string? tunnelSecurity = null, string? dataPlaneExtra = null, bool ipv6Tunnel = false)
    {
        var cluster = new DvaCluster(dataPlanes, tunnelSecurity, dataPlaneExtra, ipv6Tunnel);
        try
        {
            await cluster.StartNodesAsync(inTable);
            return cluster;
        }
        catch
        {
            cluster.Dispose();
            throw;
        }
    }

    public TrafficOptions Traffic(long flows) => new()
    {
        ClientLocal = ClientWire.Generator,
        ClientPeer = ClientWire.Dispatcher,
        ServerLocal = ServerWire.Generator,
        ServerPeer = ServerWire.Dispatcher,
        Flows = flows,
    };

    public IEnumerable<PeerInfo> Peers(IEnumerable<(ushort Node, int Weight)> dataPlanes) =>
        dataPlanes.Select(d => new PeerInfo(d.Node, PeerRole.DataPlane, DataPlaneEndpoints[d.Node], d.Weight))
            .Append(new PeerInfo(DispatcherId, PeerRole.Dispatcher, DispatcherEndpoint));

    /// <summary>Era rollout (DESIGN.md §5): every data plane first, then the dispatcher.</summary>
    public async Task RollOutAsync(TableVersion table)
    {
        var encoded = TableCodec.Encode(table);
        foreach (var node in DataPlanes.Values.Append(Dispatcher))
        {
            using var response = await node.PutTableAsync(encoded);
            Assert.True(response.IsSuccessStatusCode, $"{node.Name} refused v{table.Version}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }

    public void Dispose()
    {
        foreach (var node in _nodes)
        {
            node.Dispose();
        }

        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A temp directory left behind is harmless.
        }
    }

    private static IPEndPoint Loopback(int port) => new(IPAddress.Loopback, port);

    private async Task StartNodesAsync(int inTable)
    {
        var table = $$"""
            "table": {
              "bucketCount": 1024, "seed": "0x5eed",
              "dataPlanes": [ {{string.Join(", ", DataPlaneEndpoints.Where(d => d.Key <= inTable).Select(d => $$"""{ "nodeId": {{d.Key}}, "endpoint": "{{d.Value}}" }"""))}} ],
              "dispatchers": [ { "nodeId": {{DispatcherId}}, "endpoint": "{{DispatcherEndpoint}}" } ]
            }
            """;
        var dispatcherJson = $$"""
            {
              "role": "dispatcher", "nodeId": {{DispatcherId}}, "name": "dispatcher",
              "tunnel": { "listen": "{{DispatcherEndpoint}}"{{_tunnelExtra}} }, "control": "127.0.0.1:0",
              "interfaces": [
                { "ifid": 1, "name": "outside", "mac": "02:00:00:00:00:01", "addresses": ["192.0.2.1/24"], "source": "udp:LOCAL={{ClientWire.Dispatcher}},PEER={{ClientWire.Generator}}" },
                { "ifid": 2, "name": "inside", "mac": "02:00:00:00:00:02", "addresses": ["198.51.100.1/24"], "source": "udp:LOCAL={{ServerWire.Dispatcher}},PEER={{ServerWire.Generator}}" }
              ],
              {{table}}
            }
            """;
        Assert.True(NodeSettings.TryParse(dispatcherJson, out var settings, out var errors), string.Join("; ", errors));
        FirstTable = NodeHost.StaticTable(settings!)!;

        var starts = new List<Task<NodeProcess>> { NodeProcess.StartAsync("dispatcher", _directory, dispatcherJson) };
        foreach (var (id, endpoint) in DataPlaneEndpoints)
        {
            // Closed TCP flows stay listed long enough to be compared; UDP flows idle out quickly so a drained unit empties.
            var json = $$"""
                {
                  "role": "dataplane", "nodeId": {{id}}, "name": "dp{{id}}",
                  "tunnel": { "listen": "{{endpoint}}"{{_tunnelExtra}} }, "control": "127.0.0.1:0",
                  "interfaces": [
                    { "ifid": 1, "mac": "02:00:00:00:00:01", "addresses": ["192.0.2.1/24"], "dispatcher": {{DispatcherId}} },
                    { "ifid": 2, "mac": "02:00:00:00:00:02", "addresses": ["198.51.100.1/24"], "dispatcher": {{DispatcherId}} }
                  ],
                  "timeouts": { "tcpClosedSeconds": 600, "tcpTransitorySeconds": 600, "udpSeconds": 2 }
                  {{(id <= inTable ? ", " + table : "")}}{{_dataPlaneExtra}}
                }
                """;
            starts.Add(NodeProcess.StartAsync($"dp{id}", _directory, json));
        }

        try
        {
            await Task.WhenAll(starts);
        }
        finally
        {
            foreach (var start in starts.Where(s => s.IsCompletedSuccessfully))
            {
                _nodes.Add(start.Result);
            }
        }

        Dispatcher = _nodes.Single(n => n.Name == "dispatcher");
        foreach (var node in _nodes.Where(n => n.Name.StartsWith("dp", StringComparison.Ordinal)))
        {
            DataPlanes[ushort.Parse(node.Name[2..], System.Globalization.CultureInfo.InvariantCulture)] = node;
        }
    }
}
