using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dva.Node.Traffic;
using Dva.Shared.Contracts;
using Dva.Shared.Security;

namespace Dva.Node.Tests.Functional;

/// <summary>Real processes (a dispatcher, two data planes, the traffic generator) whose tunnel is sealed, rotated under traffic.</summary>
[Collection(ProcessTests.Name)]
public class SecureTunnelProcessTests
{
    private const int Flows = 1200;

    [Theory]
    [InlineData("encrypted", "aes-gcm")]
    [InlineData("authenticated", "chacha20")]
    public async Task Traffic_SecureModeWithKeyRotationUnderTraffic_NoFlowBrokenAndNothingDropped(string mode, string cipher)
    {
        var first = TunnelKey.Generate();
        var security = $$"""
            { "mode": "{{mode}}", "cipher": "{{cipher}}", "keys": [ { "phase": 0, "id": {{first.Id}}, "key": "{{Convert.ToBase64String(first.Material)}}" } ], "sendPhase": 0 }
            """;
        using var cluster = await DvaCluster.StartAsync(dataPlanes: 2, inTable: 2, security);
        await cluster.RollOutAsync(cluster.FirstTable);
        var options = cluster.Traffic(Flows) with
        {
            Concurrency = 200,
            Rate = 120,
            StepInterval = TimeSpan.FromMilliseconds(50),
            Duration = TimeSpan.FromSeconds(40),
        };
        using var generator = new TrafficGenerator(options);
        var run = Task.Factory.StartNew(() => generator.Run(), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

        await generator.WhenCompleted(Flows / 4).WaitAsync(TimeSpan.FromSeconds(60));
        var second = TunnelKey.Generate(cipher == "chacha20" ? AeadAlgorithm.ChaCha20Poly1305 : AeadAlgorithm.Aes256Gcm);
        await StepAsync(cluster, new KeyUpdate(Guid.Empty, 1, new TunnelKeyMaterial(1, second.Id, cipher, second.Material.ToArray()), null, null));
        await StepAsync(cluster, new KeyUpdate(Guid.Empty, 2, null, 1, null));
        await generator.WhenCompleted(Flows / 2).WaitAsync(TimeSpan.FromSeconds(60));
        await StepAsync(cluster, new KeyUpdate(Guid.Empty, 3, null, null, 0));
        var result = await run.WaitAsync(TimeSpan.FromSeconds(90));

        Assert.True(result.Broken == 0, $"{result.Broken} broken flows: {string.Join("; ", result.Flows.Where(f => !f.Completed).Take(5).Select(f => $"{f.Protocol} {f.Client}->{f.Server} {f.Failure}"))}");
        Assert.Equal(Flows, result.Completed);
        foreach (var node in cluster.Nodes)
        {
            var counters = await node.GetJsonAsync("counters");
            var tunnel = counters.GetProperty("tunnel");
            var drops = counters.GetProperty("drops");
            var keys = counters.GetProperty("security");
            Assert.True(tunnel.GetProperty("Sealed").GetInt64() > 0 && tunnel.GetProperty("Opened").GetInt64() > 0, $"{node.Name}: {tunnel}");
            foreach (var reason in new[] { "BadTag", "Replayed", "ReplayTooOld", "UnknownKeyPhase", "PlainInSecureMode", "NoSendKey", "SealFailed" })
            {
                Assert.False(drops.TryGetProperty(reason, out var n), $"{node.Name} dropped {n} as {reason}: {drops}");
            }

            Assert.Equal(mode, keys.GetProperty("mode").GetString());
            Assert.Equal((1, 0u, second.Id), (keys.GetProperty("sendPhase").GetInt32(), keys.GetProperty("phase0KeyId").GetUInt32(), keys.GetProperty("phase1KeyId").GetUInt32()));
            Assert.DoesNotContain(Convert.ToBase64String(second.Material), counters.ToString(), StringComparison.Ordinal);
        }
    }

    /// <summary>One rotation step on every unit, and only then the next (DESIGN.md §2: receivers hold both phases meanwhile).</summary>
    private static async Task StepAsync(DvaCluster cluster, KeyUpdate update)
    {
        foreach (var node in cluster.Nodes)
        {
            using var response = await node.Http.PostAsJsonAsync(new Uri("keys", UriKind.Relative), update);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{node.Name} refused key step {update.Sequence}: {await response.Content.ReadAsStringAsync()}");
            var view = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.False(view.ToString().Contains(Convert.ToBase64String(update.Key?.Material ?? [1]), StringComparison.Ordinal));
        }
    }
}

/// <summary>Tests that start several node processes and the traffic generator run one at a time (2-core CI machines).</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessTests
{
    public const string Name = "node processes";
}
