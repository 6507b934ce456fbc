using System.Text;
using Dva.Node.Config;

namespace Dva.Node.Tests.Fuzz;

/// <summary>
/// Fuzz target over the node configuration parser (<see cref="NodeSettings.TryParse"/>): any text, never an
/// exception, and either settings with no errors or errors with no settings. Used by the seeded test here and,
/// as linked source, by tests/Dva.Fuzz (SharpFuzz).
/// </summary>
internal static class ConfigFuzzTarget
{
    /// <summary>A data plane and a dispatcher configuration that are valid, and a few near misses.</summary>
    public static IReadOnlyList<byte[]> Seeds { get; } =
    [
        Encoding.UTF8.GetBytes("""
            {
              // data plane 5 of a static two-node DVA
              "role": "dataplane", "nodeId": 5, "name": "dp-5",
              "tunnel": { "listen": "192.0.2.5:6090", "mtu": 9000 },
              "control": "127.0.0.1:7005",
              "interfaces": [ { "ifid": 2, "name": "outside", "mac": "02:00:00:00:00:01",
                                "addresses": [ "192.0.2.1/24", "2001:db8::1/64" ], "dispatcher": 1 } ],
              "routes": [ { "prefix": "0.0.0.0/0", "nextHop": "192.0.2.254", "ifid": 2 },
                          { "prefix": "2001:db8::/32", "ifid": 2 } ],
              "table": { "version": 3, "bucketCount": 4096, "seed": "0x0123456789abcdef",
                         "dvaId": "5f1c1b7e-2a55-4c8e-9d4e-0c1f3b5a7d90",
                         "dataPlanes": [ { "nodeId": 5, "endpoint": "192.0.2.5:6090", "weight": 10 },
                                         { "nodeId": 6, "endpoint": "[2001:db8::6]:6090" } ],
                         "dispatchers": [ { "nodeId": 1, "endpoint": "192.0.2.10:6090" } ] },
              "timeouts": { "tcpEstablishedSeconds": 3600, "udpSeconds": 30 },
            }
            """),
        Encoding.UTF8.GetBytes("""
            { "role": "dispatcher", "nodeId": 1, "tunnel": { "listen": "127.0.0.1:6090" },
              "interfaces": [ { "ifid": 1, "mac": "02-00-00-00-00-0a", "addresses": [ "198.51.100.1/24" ],
                                "source": "udp:LOCAL=127.0.0.1:7000,PEER=127.0.0.1:7001" },
                              { "ifid": 3, "mac": "02:00:00:00:00:0b", "addresses": [], "source": "afpacket:eth1" } ] }
            """),
        Encoding.UTF8.GetBytes("""{ "role": "dispatcher", "nodeId": 4095, "tunnel": { "listen": "nowhere" }, "interfaces": [] }"""),
        Encoding.UTF8.GetBytes("""{ "role": "router", "nodeId": "7", "extra": true, "table": { "bucketCount": 300, "seed": "x" } }"""),
    ];

    /// <summary>Parses <paramref name="data"/> as UTF-8 configuration text; returns whether it was accepted.</summary>
    public static bool Config(ReadOnlySpan<byte> data)
    {
        var text = Encoding.UTF8.GetString(data);
        var ok = NodeSettings.TryParse(text, out var settings, out var errors);
        if (ok != (settings is not null) || ok != (errors.Count == 0))
        {
            throw new InvalidOperationException($"TryParse returned {ok} with settings {(settings is null ? "null" : "set")} and {errors.Count} errors");
        }

        return ok;
    }
}
