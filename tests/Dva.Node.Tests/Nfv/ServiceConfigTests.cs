using System.Net;
using Dva.Node.Config;
using Dva.Node.Services.Firewall;
using Dva.Node.Services.LoadBalancer;

namespace Dva.Node.Tests.Nfv;

public class ServiceConfigTests
{
    private const string Base = """
        "role": "dataplane", "nodeId": 10, "tunnel": { "listen": "127.0.0.1:6090" },
        "interfaces": [
          { "ifid": 1, "mac": "02:00:00:00:00:01", "addresses": ["192.0.2.1/24"], "dispatcher": 1 },
          { "ifid": 2, "mac": "02:00:00:00:00:02", "addresses": ["198.51.100.1/24"], "dispatcher": 2 }
        ]
        """;

    private static (NodeSettings? Settings, IReadOnlyList<string> Errors) Parse(string services)
    {
        var ok = NodeSettings.TryParse("{" + Base + "," + services + "}", out var settings, out var errors);
        Assert.Equal(ok, settings is not null);
        return (settings, errors);
    }

    [Fact]
    public void TryParse_FirewallAndLoadBalancer_Typed()
    {
        var (settings, errors) = Parse("""
            "firewall": {
              "defaultAction": "reject", "midStream": "loose",
              "rules": [ { "id": 7, "priority": 5, "action": "accept", "protocol": "tcp", "source": "192.0.2.0/24", "destinationPorts": "80-81", "ifid": 1, "vlan": 20 } ]
            },
            "loadBalancer": {
              "vips": [ { "address": "192.0.2.1", "port": 80, "method": "weightedRoundRobin",
                          "members": [ { "address": "198.51.100.11", "port": 8080, "weight": 3 },
                                       { "address": "198.51.100.12", "port": 8080, "state": "draining" } ] } ],
              "snat": [ { "ifid": 2, "address": "198.51.100.1" } ]
            }
            """);

        Assert.Empty(errors);
        var firewall = settings!.Firewall!;
        Assert.Equal(FirewallAction.Reject, firewall.DefaultAction);
        Assert.Equal(MidStreamPolicy.Loose, firewall.MidStream);
        var rule = Assert.Single(firewall.Rules);
        Assert.Equal(new PortRange(80, 81), rule.DestinationPorts);
        Assert.Equal(IPNetwork.Parse("192.0.2.0/24"), rule.Source);
        Assert.Equal((byte)1, rule.IngressIfid);
        Assert.Equal((ushort)20, rule.IngressVlan);
        var vip = Assert.Single(settings.LoadBalancer!.Vips);
        Assert.Equal(LbMethod.WeightedRoundRobin, vip.Pool.Method);
        Assert.Equal(3, vip.Pool.Members[0].Weight);
        Assert.Equal(MemberAdminState.Draining, vip.Pool.Members[1].AdminState);
        Assert.Equal(IPAddress.Parse("198.51.100.1"), settings.LoadBalancer.SnatAddresses[2]);
    }

    [Fact]
    public void TryParse_BadServiceFields_EveryErrorNamesItsField()
    {
        var (settings, errors) = Parse("""
            "firewall": { "defaultAction": "allow", "midStream": "lax",
              "rules": [ { "id": 1, "action": "deny", "protocol": "tcpx", "source": "192.0.2.1/24", "destinationPorts": "90-80", "vlan": 4095 } ] },
            "loadBalancer": {
              "vips": [ { "address": "192.0.2.x", "port": 0, "method": "random",
                          "members": [ { "address": "198.51.100.11", "port": 70000, "weight": 0, "state": "sleepy" } ] } ],
              "snat": [ { "ifid": 9, "address": "nope" } ]
            }
            """);

        Assert.Null(settings);
        foreach (var field in (string[])[
            "firewall.defaultAction", "firewall.midStream", "firewall.rules[0].action", "firewall.rules[0].protocol",
            "firewall.rules[0].source", "firewall.rules[0].destinationPorts", "firewall.rules[0].vlan", "loadBalancer.vips[0].address", "loadBalancer.vips[0].port",
            "loadBalancer.vips[0].method", "loadBalancer.vips[0].members[0].port", "loadBalancer.vips[0].members[0].weight",
            "loadBalancer.vips[0].members[0].state", "loadBalancer.snat[0].ifid", "loadBalancer.snat[0].address"])
        {
            Assert.Contains(errors, e => e.StartsWith(field + ":", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void TryParse_DuplicateRuleIds_ReportedByRule()
    {
        var (_, errors) = Parse("""
            "firewall": { "rules": [ { "id": 1 }, { "id": 1, "action": "drop" } ] }
            """);

        Assert.Contains("firewall: rule 1: duplicate id", errors);
    }
}
