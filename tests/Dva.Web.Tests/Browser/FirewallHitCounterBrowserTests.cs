using System.Text.RegularExpressions;
using Dva.Manager.Model;
using Dva.Manager.Services;
using Dva.Shared.Tables;
using static Microsoft.Playwright.Assertions;

namespace Dva.Web.Tests.Browser;

/// <summary>
/// A rule added on the firewall page counts the packets it matches: real units, real traffic from
/// <c>dva-node traffic</c> across the DVA, and the nodes' rule counters coming back in their heartbeats.
/// </summary>
[Collection(BrowserTestGroup.Name)]
public sealed class FirewallHitCounterBrowserTests(RealUnitsFixture lab) : IClassFixture<RealUnitsFixture>
{
    private static readonly TimeSpan TablesOut = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task RulesPage_RuleAddedThenTrafficFlows_ItsHitCounterRises()
    {
        var dvaId = await CreateWiredDvaAsync();
        await lab.StartUnitsAsync();
        await RealUnitsFixture.WaitForAsync("tables with the dispatcher and a data plane", TablesOut, () => Task.FromResult(
            lab.Factory.Live.Table(dvaId) is { } t && t.Peers.Values.Any(p => p.Role == PeerRole.Dispatcher) && t.Chain.Length > 0 ? t : null));
        var page = await lab.Browser.SignedInPageAsync(DashboardFactory.AdminKey);
        await page.GotoAsync(lab.Browser.Url($"/dvas/{dvaId}/firewall"));
        await BrowserFixture.WaitForCircuitAsync(page, "[data-testid=firewall-rules]");

        await page.SelectOptionAsync("#rule-action", "accept");
        await page.SelectOptionAsync("#rule-protocol", "tcp");
        await page.FillAsync("#rule-source", "192.0.2.0/24");
        await page.FillAsync("#rule-destination", "198.51.100.0/24");
        await page.FillAsync("#rule-description", "clients reach the servers");
        await page.ClickAsync("#save-rule");
        var row = page.Locator("tr.rule-row", new() { HasText = "clients reach the servers" });
        await Expect(row.Locator("td.hits")).ToHaveTextAsync(new Regex("^0"));

        // TCP only, for a minute at most: new flows keep coming after the rule reached the data planes.
        var traffic = lab.StartTraffic("--flows", "0", "--seconds", "60", "--concurrency", "40", "--rate", "50", "--segments", "4", "--step-ms", "100", "--udp-every", "0");
        try
        {
            await Expect(row.Locator("td.hits")).ToHaveTextAsync(new Regex("^[1-9]"), new() { Timeout = 60_000 });
            await BrowserFixture.ScreenshotAsync(page, "firewall-hits");
        }
        finally
        {
            await traffic.StopAsync(TimeSpan.FromSeconds(5));
        }
    }

    /// <summary>A firewall DVA whose two interfaces are the fixture's wires on its dispatcher unit, with two data planes.</summary>
    private async Task<long> CreateWiredDvaAsync()
    {
        var dva = (await lab.Factory.WithServiceAsync<DvaService, ServiceResult<DvaView>>(s => s.CreateAsync(new DvaSpec
        {
            Name = "hits",
            ServiceKind = ServiceKind.Firewall,
            BucketCount = 1024,
            FirewallDefaultPolicy = FirewallPolicy.Drop,
            Scaling = new ScalingPolicy { MinDataPlanes = 2, MaxDataPlanes = 4 },
        }, CancellationToken.None))).Value!;
        foreach (var (ifid, name, mac, address, wire) in new[]
        {
            (1, "outside", "02:00:5e:00:00:01", "192.0.2.1/24", lab.Outside),
            (2, "inside", "02:00:5e:00:00:02", "198.51.100.1/24", lab.Inside),
        })
        {
            var created = await lab.Factory.WithServiceAsync<SharedInterfaceService, ServiceResult<ResourceView<SharedInterfaceSpec>>>(s => s.CreateAsync(dva.Id, new SharedInterfaceSpec
            {
                Ifid = ifid, Name = name, Mac = mac, Addresses = [address],
                Attachment = new InterfaceAttachment { NodeName = RealUnitsFixture.Dispatcher, FrameSource = wire.Source },
            }, CancellationToken.None));
            Assert.Null(created.Failure);
        }

        return dva.Id;
    }
}
