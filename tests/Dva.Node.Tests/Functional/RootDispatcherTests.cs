using Dva.Node.Agent;
using Dva.Node.Config;
using Dva.Node.Tests.Io;

namespace Dva.Node.Tests.Functional;

/// <summary>
/// A dispatcher on <c>afpacket:</c> sources facing real Linux hosts: namespace C holds a client
/// (192.0.2.10/24), namespace S a server (198.51.100.10/24), namespace D the DVA (a dispatcher on the D ends
/// of both veth pairs and one data plane, talking over D's loopback). Root only, like the engine's device tests.
/// </summary>
[Trait("Requires", "root")]
public sealed class RootDispatcherTests : IAsyncLifetime, IDisposable
{
    private readonly TestNetworkNamespace _dva = new();
    private readonly TestNetworkNamespace _client = new();
    private readonly TestNetworkNamespace _server = new();
    private readonly List<NodeHost> _hosts = [];

    public async Task InitializeAsync()
    {
        Link(_client, "dvc-h", "dvc-d", "192.0.2.10/24", "192.0.2.1");
        Link(_server, "dvs-h", "dvs-d", "198.51.100.10/24", "198.51.100.1");
        var table = """
            "table": { "bucketCount": 256, "seed": "0xabc",
              "dataPlanes": [ { "nodeId": 1, "endpoint": "127.0.0.1:16191" } ],
              "dispatchers": [ { "nodeId": 100, "endpoint": "127.0.0.1:16190" } ] }
            """;
        var dispatcher = Settings($$"""
            { "role": "dispatcher", "nodeId": 100, "tunnel": { "listen": "127.0.0.1:16190" },
              "interfaces": [
                { "ifid": 1, "mac": "02:00:00:00:00:01", "addresses": ["192.0.2.1/24"], "source": "afpacket:dvc-d" },
                { "ifid": 2, "mac": "02:00:00:00:00:02", "addresses": ["198.51.100.1/24"], "source": "afpacket:dvs-d" } ],
              {{table}} }
            """);
        var dataPlane = Settings($$"""
            { "role": "dataplane", "nodeId": 1, "tunnel": { "listen": "127.0.0.1:16191" },
              "interfaces": [
                { "ifid": 1, "mac": "02:00:00:00:00:01", "addresses": ["192.0.2.1/24"], "dispatcher": 100 },
                { "ifid": 2, "mac": "02:00:00:00:00:02", "addresses": ["198.51.100.1/24"], "dispatcher": 100 } ],
              {{table}} }
            """);

        // Sockets and AF_PACKET sources are opened inside D (NodeHost opens them before its first await).
        foreach (var settings in new[] { dataPlane, dispatcher })
        {
            _hosts.Add(await _dva.Enter(() => NodeHost.StartAsync(settings)));
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
        }
    }

    /// <summary>After <see cref="DisposeAsync"/> (xunit calls both): the namespaces go once the hosts closed their sockets.</summary>
    public void Dispose()
    {
        _client.Dispose();
        _server.Dispose();
        _dva.Dispose();
    }

    [Fact]
    public void Arping_SharedIp_RepliesWithTheSharedMac()
    {
        var output = _client.Exec("arping -c 2 -w 5 -I dvc-h 192.0.2.1");

        Assert.Contains("02:00:00:00:00:01", output, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Ping_ClientToServerThroughTheDva_Answered()
    {
        var output = _client.Exec("ping -c 3 -i 0.2 -W 3 198.51.100.10");

        Assert.Contains("3 received", output, StringComparison.Ordinal);
        // Through the DVA (one routed hop) the reply's TTL is the server's 64 minus one.
        Assert.Contains("ttl=63", output, StringComparison.Ordinal);
    }

    private static NodeSettings Settings(string json)
    {
        Assert.True(NodeSettings.TryParse(json, out var settings, out var errors), string.Join("; ", errors));
        return settings!;
    }

    private void Link(TestNetworkNamespace host, string hostEnd, string dvaEnd, string address, string gateway)
    {
        TestNetworkNamespace.Ip($"link add {hostEnd} netns {host.Name} type veth peer name {dvaEnd} netns {_dva.Name}");
        TestNetworkNamespace.Ip($"-n {host.Name} addr add {address} dev {hostEnd}");
        TestNetworkNamespace.Ip($"-n {host.Name} link set {hostEnd} up");
        TestNetworkNamespace.Ip($"-n {_dva.Name} link set {dvaEnd} up");
        TestNetworkNamespace.Ip($"-n {host.Name} route add default via {gateway}");
    }
}
