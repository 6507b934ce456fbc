using System.Net;
using Dva.Manager.Model;
using Dva.Manager.Services;
using Dva.Shared.Contracts;
using Dva.Web.Tests.Services;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Dva.Web.Tests.Browser;

[Collection(BrowserTestGroup.Name)]
public sealed class DashboardBrowserTests(BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    private DashboardFactory Factory => browser.Factory;

    [Fact]
    public async Task AnyPage_NotSignedIn_GoesToTheLoginPage()
    {
        var page = await browser.NewPageAsync();

        await page.GotoAsync(browser.Url("/audit"));

        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/login\\?ReturnUrl=%2Faudit$"));
        await BrowserFixture.ScreenshotAsync(page, "login");
    }

    [Fact]
    public async Task Login_UnknownKey_ShowsTheErrorAndStaysSignedOut()
    {
        var page = await browser.NewPageAsync();
        await page.GotoAsync(browser.Url("/login"));

        await page.FillAsync("#apiKey", "dva_000000000000_wrong");
        await page.ClickAsync("button[type=submit]");

        await Expect(page.GetByTestId("login-error")).ToContainTextAsync("Unknown or revoked API key");
        await page.GotoAsync(browser.Url("/"));
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/login"));
    }

    [Fact]
    public async Task CreateForm_ValidInput_CreatesTheDvaAndOpensItsOverview()
    {
        var page = await OpenCreateFormAsync("edge-firewall");

        await page.FillAsync("#dva-description", "Edge of the 192.0.2.0/24 lab");
        await page.ClickAsync("#add-interface");
        await page.FillAsync("#if-0-name", "outside");
        await page.FillAsync("#if-0-mac", "02:00:5e:00:00:01");
        await page.FillAsync("#if-0-addresses", "192.0.2.1/24");
        await page.ClickAsync("button#create-dva");

        await Expect(page.Locator("h1")).ToHaveTextAsync("edge-firewall");
        await Expect(page.GetByTestId("status-tree")).ToContainTextAsync("02:00:5e:00:00:01");
        await page.GotoAsync(browser.Url("/"));
        await Expect(page.GetByTestId("dva-list")).ToContainTextAsync("edge-firewall");
    }

    /// <summary>The kernel shortcut ticked in the create form: the DVA's overview says it is on, and so does the REST API.</summary>
    [Fact]
    public async Task CreateForm_KernelShortcutTicked_ShownOnTheOverviewAndInTheApi()
    {
        var page = await OpenCreateFormAsync("shortcut-edge");

        await page.CheckAsync("#dva-shortcuts");
        await page.ClickAsync("button#create-dva");

        await Expect(page.Locator("h1")).ToHaveTextAsync("shortcut-edge");
        await Expect(page.GetByTestId("shortcuts")).ToHaveTextAsync("on (the kernel forwards established flows)");
        await Expect(page.GetByTestId("super-frames")).ToHaveTextAsync("off");
        var id = new Uri(page.Url).Segments[^1];
        var response = await page.APIRequest.GetAsync($"/api/v1/dvas/{id}", new()
        {
            Headers = new Dictionary<string, string> { ["Authorization"] = $"Bearer {DashboardFactory.AdminKey}" },
        });
        Assert.Equal((int)HttpStatusCode.OK, response.Status);
        Assert.True((bool)System.Text.Json.Nodes.JsonNode.Parse(await response.TextAsync())!["spec"]!["shortcuts"]!);
    }

    [Fact]
    public async Task CreateForm_BadBucketCount_ShowsTheErrorNextToTheField()
    {
        var page = await OpenCreateFormAsync("bad-buckets");
        await page.FillAsync("#dva-buckets", "1000");
        await page.ClickAsync("button#create-dva");

        var error = page.Locator(".field:has(#dva-buckets) .field-error");
        await Expect(error).ToContainTextAsync("power of two");
        await Expect(page.Locator(".field:has(#dva-name) .field-error")).ToHaveCountAsync(0);
        await BrowserFixture.ScreenshotAsync(page, "dva-list-create-error");
    }

    [Fact]
    public async Task RulesPage_AddRule_IsListedAndABadPrefixIsShownAtItsField()
    {
        var dva = await Factory.CreateDvaAsync("rules-page");
        var page = await browser.SignedInPageAsync(DashboardFactory.AdminKey);
        await page.GotoAsync(browser.Url($"/dvas/{dva.Id}/firewall"));
        await BrowserFixture.WaitForCircuitAsync(page, "[data-testid=firewall-rules]");

        await page.SelectOptionAsync("#rule-action", "drop");
        await page.SelectOptionAsync("#rule-protocol", "tcp");
        await page.FillAsync("#rule-source", "198.51.100.0/33");
        await page.ClickAsync("#save-rule");
        await Expect(page.Locator(".field:has(#rule-source) .field-error")).ToContainTextAsync("prefix");

        await page.FillAsync("#rule-source", "198.51.100.0/24");
        await page.FillAsync("#rule-destination-ports", "23");
        await page.FillAsync("#rule-description", "no telnet from the lab");
        await page.FillAsync("#rule-vlan", "20");
        await page.ClickAsync("#save-rule");

        var row = page.Locator("tr.rule-row");
        await Expect(row).ToHaveCountAsync(1);
        await Expect(row).ToContainTextAsync("198.51.100.0/24");
        await Expect(row).ToContainTextAsync("no telnet from the lab");
        await Expect(row).ToContainTextAsync("on VLAN 20");
        var stored = await Factory.WithServiceAsync<FirewallRuleService, ServiceResult<FirewallRuleListView>>(s => s.GetListAsync(dva.Id, CancellationToken.None));
        Assert.Equal(("198.51.100.0/24", (int?)20), (Assert.Single(stored.Value!.Rules).Spec.Source, stored.Value!.Rules[0].Spec.IngressVlan));

        await page.FillAsync("#rule-source", "");
        await page.FillAsync("#rule-vlan", "");
        await page.FillAsync("#rule-description", "web");
        await page.SelectOptionAsync("#rule-protocol", "tcp");
        await page.FillAsync("#rule-destination-ports", "443");
        await page.SelectOptionAsync("#rule-action", "accept");
        await page.ClickAsync("#save-rule");
        await Expect(row).ToHaveCountAsync(2);
        await row.Nth(1).Locator("button[title='Move up']").ClickAsync();
        await Expect(row.First).ToContainTextAsync("web");
        await BrowserFixture.ScreenshotAsync(page, "firewall-rules");
    }

    [Fact]
    public async Task RulesPage_ViewerKey_CanSeeButNotChange()
    {
        var dva = await Factory.CreateDvaAsync("viewer-rules");
        var page = await browser.SignedInPageAsync(await Factory.CreateKeyAsync(ApiRole.Viewer));
        await page.GotoAsync(browser.Url($"/dvas/{dva.Id}/firewall"));
        await BrowserFixture.WaitForCircuitAsync(page, "[data-testid=firewall-rules]");

        await Expect(page.Locator("#save-rule")).ToBeDisabledAsync();
        await Expect(page.GetByTestId("firewall-rules")).ToContainTextAsync("may look but not change");
    }

    [Fact]
    public async Task BucketMap_TableSetInLiveState_RendersItAndTheEraTimeline()
    {
        var (dva, nodes, guid) = await DvaWithNodesAsync("bucket-map", 16384);
        var table = DashboardFactory.FirstTable(guid, 16384, nodes.Where(n => n.Role == NodeRole.DataPlane).Take(3), "3 data planes joined");
        Factory.Live.SetTable(dva.Id, table, TimeSpan.FromMilliseconds(180), table.BucketCount);
        var page = await browser.SignedInPageAsync(DashboardFactory.AdminKey);

        await page.GotoAsync(browser.Url($"/dvas/{dva.Id}/buckets"));
        await BrowserFixture.WaitForCircuitAsync(page, "[data-testid=bucket-map-live]");

        await Expect(page.GetByTestId("bucket-map")).ToHaveAttributeAsync("data-version", "1");
        await Expect(page.Locator("[data-testid=bucket-legend] [data-node]")).ToHaveCountAsync(3);
        await Expect(page.Locator("[data-testid=era-timeline] li[data-version='1']")).ToContainTextAsync("3 data planes joined");

        // A new version arrives while the page is open: the map and the timeline follow without a reload.
        var next = table.Next(nodes.Where(n => n.Role == NodeRole.DataPlane).Select(DashboardFactory.Peer), DateTimeOffset.UtcNow, "node 5 joined", out int moved);
        Factory.Live.SetTable(dva.Id, next, TimeSpan.FromMilliseconds(240), moved);
        await Expect(page.GetByTestId("bucket-map")).ToHaveAttributeAsync("data-version", "2");
        await Expect(page.Locator("[data-testid=bucket-legend] [data-node]")).ToHaveCountAsync(4);
        await Expect(page.Locator("[data-testid=era-timeline] li[data-version='2']")).ToContainTextAsync($"{moved:N0} buckets moved");
        var box = await page.Locator("svg.bucket-grid").BoundingBoxAsync();
        Assert.True(box is { Width: > 300, Height: > 300 }, $"bucket grid drawn at {box?.Width}x{box?.Height}");
        await BrowserFixture.ScreenshotAsync(page, "bucket-map");
    }

    [Fact]
    public async Task NodesPage_Heartbeats_ShowLiveRatesAndChartsWithoutReload()
    {
        var (dva, nodes, guid) = await DvaWithNodesAsync("nodes-live", 4096);
        var planes = nodes.Where(n => n.Role == NodeRole.DataPlane).ToList();
        Factory.Live.SetTable(dva.Id, DashboardFactory.FirstTable(guid, 4096, planes, "first"), TimeSpan.FromMilliseconds(50), 4096);
        var start = DateTimeOffset.UtcNow.AddSeconds(-120);
        var frames = new long[nodes.Count];
        for (var second = 0; second <= 120; second += 2)
        {
            for (var i = 0; i < nodes.Count; i++)
            {
                // Cumulative counters, as an agent sends them: the rate is the slope.
                frames[i] += (long)(2 * (40_000 + (i * 9_000) + (15_000 * Math.Sin((second / 15.0) + i))));
                var hb = LiveStateTests.Heartbeat(nodes[i].Id, framesIn: frames[i], framesOut: frames[i] * 97 / 100, cpu: 0.15 + (0.1 * i) + (0.08 * Math.Sin(second / 10.0)))
                    with { DvaId = guid, NodeId = (ushort)nodes[i].NodeId };
                Factory.Live.Record(hb, start.AddSeconds(second));
            }
        }

        var page = await browser.SignedInPageAsync(DashboardFactory.AdminKey);
        await page.GotoAsync(browser.Url($"/dvas/{dva.Id}/nodes"));
        await BrowserFixture.WaitForCircuitAsync(page, "[data-testid=units-live]");
        var firstPlane = page.Locator($"tr[data-node='{planes[0].NodeId}']");
        await Expect(firstPlane.Locator("polyline.pps-in")).ToHaveCountAsync(1);
        await Expect(firstPlane).ToContainTextAsync("ttl_expired");

        var last = Factory.Live.Node(planes[0].Id)!;
        var stats = last.Heartbeat.Stats;
        Factory.Live.Record(last.Heartbeat with { Stats = stats with { FramesIn = stats.FramesIn + 2_468_000 } }, last.At.AddSeconds(2));
        await Expect(firstPlane).ToContainTextAsync("1.23 M");
        await BrowserFixture.ScreenshotAsync(page, "nodes");
    }

    [Fact]
    public async Task MainPages_WithData_RenderForTheScreenshots()
    {
        var (dva, nodes, guid) = await DvaWithNodesAsync("lab-lb", 4096);
        var planes = nodes.Where(n => n.Role == NodeRole.DataPlane).ToList();
        Factory.Live.SetTable(dva.Id, DashboardFactory.FirstTable(guid, 4096, planes, "first"), TimeSpan.FromMilliseconds(50), 4096);
        FlowSample[] flows =
        [
            new("tcp", "198.51.100.23:51544", "203.0.113.10:443", 1201, (ushort)planes[0].NodeId, "established", "accept", "rule 10 web", "192.0.2.21:8443", 1834, 1_503_221),
            new("udp", "198.51.100.40:5353", "203.0.113.10:53", 77, (ushort)planes[1].NodeId, "new", "drop", "default policy", null, 1, 74),
            new("tcp", "198.51.100.7:40112", "203.0.113.10:23", 3999, (ushort)planes[2].NodeId, "syn-sent", "drop", "rule 20 no telnet", null, 3, 180),
            new("icmp", "198.51.100.9", "203.0.113.10", 310, (ushort)planes[1].NodeId, "echo", "accept", "rule 30 ping", null, 12, 1008),
        ];
        Factory.Live.Record(LiveStateTests.Heartbeat(planes[0].Id, flows: flows) with { DvaId = guid }, DateTimeOffset.UtcNow);
        var pool = (await Factory.WithServiceAsync<PoolService, ServiceResult<ResourceView<PoolSpec>>>(p =>
            p.CreateAsync(dva.Id, new PoolSpec { Name = "web", Method = BalancingMethod.WeightedRoundRobin }, CancellationToken.None))).Value!;
        foreach (var (address, weight) in new[] { ("192.0.2.21", 3), ("192.0.2.22", 1), ("192.0.2.23", 1) })
        {
            await Factory.WithServiceAsync<MemberService, ServiceResult<MemberView>>(m =>
                m.AddAsync(dva.Id, pool.Id, new MemberSpec { Address = address, Port = 8443, Weight = weight }, CancellationToken.None));
        }

        await Factory.WithServiceAsync<VipService, ServiceResult<ResourceView<VipSpec>>>(v =>
            v.CreateAsync(dva.Id, new VipSpec { Name = "www", Address = "203.0.113.10", Port = 443, PoolId = pool.Id }, CancellationToken.None));
        var page = await browser.SignedInPageAsync(DashboardFactory.AdminKey);

        await page.GotoAsync(browser.Url($"/dvas/{dva.Id}"));
        await BrowserFixture.WaitForCircuitAsync(page, "[data-testid=dva-actions]");
        await Expect(page.GetByTestId("topology")).ToContainTextAsync(planes[0].Name);
        await BrowserFixture.ScreenshotAsync(page, "dva-overview");

        await page.GotoAsync(browser.Url($"/dvas/{dva.Id}/flows"));
        await BrowserFixture.WaitForCircuitAsync(page, "[data-testid=flows-live]");
        await Expect(page.Locator("tr.flow-row")).ToHaveCountAsync(4);
        await page.FillAsync("#filter-port", "23");
        await Expect(page.Locator("tr.flow-row")).ToHaveCountAsync(1);
        await page.FillAsync("#filter-port", "");
        await BrowserFixture.WaitForCircuitAsync(page, "[data-testid=flow-lookup]");
        await page.FillAsync("#lookup-source", "198.51.100.23");
        await page.FillAsync("#lookup-source-port", "51544");
        await page.FillAsync("#lookup-destination", "203.0.113.10");
        await page.FillAsync("#lookup-destination-port", "443");
        await page.ClickAsync("#lookup");
        await Expect(page.GetByTestId("lookup-answer")).ToContainTextAsync("owner");
        await BrowserFixture.ScreenshotAsync(page, "flows");

        await page.GotoAsync(browser.Url($"/dvas/{dva.Id}/load-balancer"));
        await BrowserFixture.WaitForCircuitAsync(page, "[data-testid=load-balancer]");
        await page.Locator("tr", new() { HasText = "192.0.2.22:8443" }).GetByRole(AriaRole.Button, new() { Name = "Drain" }).ClickAsync();
        await Expect(page.Locator("tr", new() { HasText = "192.0.2.22:8443" })).ToContainTextAsync("draining");
        await BrowserFixture.ScreenshotAsync(page, "load-balancer");

        foreach (var (ifid, name, mac, address) in new[] { (1, "outside", "02:00:5e:00:00:01", "192.0.2.1/24"), (2, "inside", "02:00:5e:00:00:02", "198.51.100.1/24") })
        {
            await Factory.WithServiceAsync<SharedInterfaceService, ServiceResult<ResourceView<SharedInterfaceSpec>>>(s => s.CreateAsync(dva.Id, new SharedInterfaceSpec
            {
                Ifid = ifid, Name = name, Mac = mac, Addresses = [address],
                Attachment = new InterfaceAttachment { NodeName = nodes[0].Name, FrameSource = $"af_packet:eth{ifid}" },
            }, CancellationToken.None));
        }

        await Factory.WithServiceAsync<StaticRouteService, ServiceResult<ResourceView<StaticRouteSpec>>>(s =>
            s.CreateAsync(dva.Id, new StaticRouteSpec { Prefix = "203.0.113.0/24", NextHop = "198.51.100.254", Ifid = 2 }, CancellationToken.None));
        await page.GotoAsync(browser.Url($"/dvas/{dva.Id}/network"));
        await BrowserFixture.WaitForCircuitAsync(page, "[data-testid=routes-editor]");
        await Expect(page.Locator("tr.interface-row-view")).ToHaveCountAsync(2);
        await page.FillAsync("#route-prefix", "0.0.0.0/0");
        await page.FillAsync("#route-next-hop", "192.0.2.254");
        await page.SelectOptionAsync("#route-ifid", "1");
        await page.ClickAsync("#save-route");
        await Expect(page.Locator("tr.route-row")).ToHaveCountAsync(2);
        await BrowserFixture.ScreenshotAsync(page, "interfaces-routes");

        await page.GotoAsync(browser.Url("/keys"));
        await BrowserFixture.WaitForCircuitAsync(page, "[data-testid=api-keys]");
        await page.FillAsync("#key-name", "ci-pipeline");
        await page.SelectOptionAsync("#key-role", "operator");
        await page.ClickAsync("#create-key");
        await Expect(page.GetByTestId("new-secret")).ToContainTextAsync("will not be shown again");
        await BrowserFixture.ScreenshotAsync(page, "api-keys");

        await page.GotoAsync(browser.Url("/audit"));
        await Expect(page.GetByTestId("audit")).ToContainTextAsync("replaceMembers");
        await BrowserFixture.ScreenshotAsync(page, "audit");

        await page.GotoAsync(browser.Url("/"));
        await Expect(page.GetByTestId("dva-list")).ToContainTextAsync("lab-lb");
        await BrowserFixture.ScreenshotAsync(page, "dva-list");
    }

    [Fact]
    public async Task SignOut_FromTheSidebar_EndsTheSession()
    {
        var page = await browser.SignedInPageAsync(DashboardFactory.AdminKey);

        await page.ClickAsync("text=Sign out");

        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/login$"));
        await page.GotoAsync(browser.Url("/audit"));
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/login"));
    }

    /// <summary>Signs in as admin, waits for the create form's circuit and types <paramref name="name"/>.</summary>
    private async Task<IPage> OpenCreateFormAsync(string name)
    {
        var page = await browser.SignedInPageAsync(DashboardFactory.AdminKey);
        await BrowserFixture.WaitForCircuitAsync(page, "[data-testid=create-dva]");
        await page.FillAsync("#dva-name", name);
        return page;
    }

    private async Task<(DvaView Dva, List<NodeView> Nodes, Guid Guid)> DvaWithNodesAsync(string name, int buckets)
    {
        var dva = await Factory.CreateDvaAsync(name, buckets);
        var nodes = new List<NodeView>
        {
            await Factory.AddNodeAsync(dva.Id, $"{name}-disp-1", NodeRole.Dispatcher, "127.0.0.1:6101"),
        };
        for (var i = 1; i <= 4; i++)
        {
            nodes.Add(await Factory.AddNodeAsync(dva.Id, $"{name}-dp-{i}", NodeRole.DataPlane, $"127.0.0.1:{6200 + i}"));
        }

        return (dva, nodes, Guid.NewGuid());
    }
}
