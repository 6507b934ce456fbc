using Dva.Node.Agent;

namespace Dva.Node.Tests.Functional;

/// <summary>
/// An assignment whose only change is the data plane's services (rules, VIPs, weights) must not restart the role:
/// a restart empties the flow table and breaks every connection through the unit.
/// </summary>
public sealed class NodeAgentServicesTests
{
    private const string Running = """
        { "role": "dataplane", "nodeId": 3, "name": "dp3", "tunnel": { "listen": "127.0.0.1:16293" },
          "interfaces": [ { "ifid": 1, "mac": "02:00:00:00:00:01", "addresses": ["192.0.2.1/24"], "dispatcher": 100 } ],
          "firewall": { "defaultAction": "drop", "rules": [ { "id": 10, "priority": 10, "action": "accept", "protocol": "tcp", "destinationPorts": "80" } ] },
          "loadBalancer": {
            "vips": [ { "address": "192.0.2.100", "port": 80, "members": [ { "address": "198.51.100.11", "port": 8080, "weight": 1 } ] } ],
            "snat": [ { "ifid": 1, "address": "192.0.2.1" } ] } }
        """;

    [Fact]
    public void OnlyServicesDiffer_NewWeightAndRule_True()
    {
        var next = Running
            .Replace("\"weight\": 1", "\"weight\": 5", StringComparison.Ordinal)
            .Replace("\"destinationPorts\": \"80\"", "\"destinationPorts\": \"80,443\"", StringComparison.Ordinal);

        Assert.True(NodeAgent.OnlyServicesDiffer(Running, next));
    }

    [Fact]
    public void OnlyServicesDiffer_FirewallRemoved_True()
    {
        var next = System.Text.RegularExpressions.Regex.Replace(Running, "\"firewall\":.*?\\] \\},", string.Empty);

        Assert.NotEqual(Running, next);
        Assert.True(NodeAgent.OnlyServicesDiffer(Running, next));
    }

    [Theory]
    [InlineData("\"nodeId\": 3", "\"nodeId\": 4")]
    [InlineData("127.0.0.1:16293", "127.0.0.1:16294")]
    [InlineData("\"addresses\": [\"192.0.2.1/24\"]", "\"addresses\": [\"192.0.2.2/24\"]")]
    [InlineData("\"snat\": [ { \"ifid\": 1, \"address\": \"192.0.2.1\" } ]", "\"snat\": [ { \"ifid\": 1, \"address\": \"192.0.2.9\" } ]")]
    public void OnlyServicesDiffer_IdentityTunnelInterfaceOrSnatChanged_False(string from, string to)
    {
        var next = Running.Replace(from, to, StringComparison.Ordinal);

        Assert.NotEqual(Running, next);
        Assert.False(NodeAgent.OnlyServicesDiffer(Running, next));
    }

    [Fact]
    public void OnlyServicesDiffer_NotJson_FalseSoTheRoleRestartsWithTheValidatedConfig()
    {
        Assert.False(NodeAgent.OnlyServicesDiffer(Running, "{ not json"));
    }
}
