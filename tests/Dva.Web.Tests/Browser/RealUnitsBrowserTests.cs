using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Dva.Web.Tests.Browser;

/// <summary>The dashboard as an operator uses it, with real node agents behind the manager.</summary>
[Collection(BrowserTestGroup.Name)]
public sealed partial class RealUnitsBrowserTests(RealUnitsFixture lab) : IClassFixture<RealUnitsFixture>
{
    /// <summary>Units register, get their role, take their tables and heartbeat: generous on a loaded machine.</summary>
    private static readonly LocatorAssertionsToHaveCountOptions UnitsUp = new() { Timeout = 90_000 };

    private BrowserFixture Browser => lab.Browser;

    [Fact]
    public async Task CreateForm_RealUnits_UnitsComeUpAndScaleOutAdvancesTheEraAndMovesBuckets()
    {
        var page = await Browser.SignedInPageAsync(DashboardFactory.AdminKey);
        await BrowserFixture.WaitForCircuitAsync(page, "[data-testid=create-dva]");
        await page.FillAsync("#dva-name", "lab");
        await page.SelectOptionAsync("#dva-kind", "FirewallAndLoadBalancer");
        await page.FillAsync("#dva-initial", "2");
        await AddInterfaceAsync(page, 0, "outside", "02:00:5e:00:00:01", "192.0.2.1/24", lab.Outside);
        await AddInterfaceAsync(page, 1, "inside", "02:00:5e:00:00:02", "198.51.100.1/24", lab.Inside);
        await BrowserFixture.ScreenshotAsync(page, "dva-create-form");
        await page.ClickAsync("button#create-dva");
        await Expect(page.Locator("h1")).ToHaveTextAsync("lab");
        var dvaId = long.Parse(new Uri(page.Url).Segments[^1], CultureInfo.InvariantCulture);

        // The nodes page is open before any unit exists. Four local units start and register; the reconciler makes
        // the attached one the dispatcher and takes two data planes from the pool; the page lists them as they join.
        await page.GotoAsync(Browser.Url($"/dvas/{dvaId}/nodes"));
        await BrowserFixture.WaitForCircuitAsync(page, "[data-testid=units-live]");
        var rows = page.Locator("[data-testid=units-live] tr[data-node]");
        await Expect(rows).ToHaveCountAsync(0);
        await lab.StartUnitsAsync();
        await Expect(rows).ToHaveCountAsync(3, UnitsUp);
        await Expect(rows.Filter(new() { HasText = RealUnitsFixture.Dispatcher })).ToContainTextAsync("dispatcher");
        await Expect(rows.Filter(new() { HasText = "data plane" })).ToHaveCountAsync(2);
        for (var i = 0; i < 3; i++)
        {
            await Expect(rows.Nth(i).Locator("td.heartbeat")).ToHaveTextAsync(new Regex("just now|\\d+ s ago"));
        }

        await Expect(rows.Filter(new() { HasText = "data plane" }).First.Locator("td.buckets")).ToContainTextAsync("%", new() { Timeout = 60_000 });
        await BrowserFixture.ScreenshotAsync(page, "nodes-real-units");

        await page.GotoAsync(Browser.Url($"/dvas/{dvaId}/buckets"));
        await BrowserFixture.WaitForCircuitAsync(page, "[data-testid=bucket-map-live]");
        var legend = page.Locator("[data-testid=bucket-legend] [data-node]");
        await Expect(legend).ToHaveCountAsync(2);
        var before = await VersionAsync(page);

        await page.GotoAsync(Browser.Url($"/dvas/{dvaId}"));
        await BrowserFixture.WaitForCircuitAsync(page, "[data-testid=dva-actions]");
        await page.FillAsync("#scale-to", "3");
        await page.ClickAsync("button#scale");
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("3 data plane(s) wanted");

        // The third pool unit joins: a newer table (the era bit flips with every version) over three data planes.
        await page.GotoAsync(Browser.Url($"/dvas/{dvaId}/buckets"));
        await BrowserFixture.WaitForCircuitAsync(page, "[data-testid=bucket-map-live]");
        await Expect(legend).ToHaveCountAsync(3, UnitsUp);
        var after = await VersionAsync(page);
        Assert.True(after > before, $"table version {after} after the scale-out, {before} before");
        var era = page.Locator($"[data-testid=era-timeline] li[data-version='{after}']");
        await Expect(era).ToContainTextAsync($"era {after & 1}");
        await Expect(era).ToContainTextAsync(new Regex("[1-9][\\d,.\u00a0 ]* buckets moved"));
        await Expect(page.Locator($"[data-testid=era-timeline] li[data-version='{before}']")).ToContainTextAsync($"era {before & 1}");
        await BrowserFixture.ScreenshotAsync(page, "bucket-map-real-units");

        await page.GotoAsync(Browser.Url($"/dvas/{dvaId}"));
        await Expect(page.GetByTestId("topology")).ToContainTextAsync(RealUnitsFixture.Dispatcher);
        await BrowserFixture.ScreenshotAsync(page, "dva-overview-real-units");
    }

    [Fact]
    public async Task CreateForm_BadMacOnTheSecondInterface_ShowsTheErrorNextToThatFieldAndCreatesNothing()
    {
        var page = await Browser.SignedInPageAsync(DashboardFactory.AdminKey);
        await BrowserFixture.WaitForCircuitAsync(page, "[data-testid=create-dva]");
        await page.FillAsync("#dva-name", "bad-mac");
        await AddInterfaceAsync(page, 0, "outside", "02:00:5e:00:00:11", "192.0.2.1/24", null);
        await AddInterfaceAsync(page, 1, "inside", "01:00:5e:00:00:12", "198.51.100.1/24", null);

        await page.ClickAsync("button#create-dva");

        await Expect(page.Locator(".field:has(#if-1-mac) .field-error")).ToContainTextAsync("unicast");
        await Expect(page.Locator(".field:has(#if-0-mac) .field-error")).ToHaveCountAsync(0);
        await BrowserFixture.ScreenshotAsync(page, "dva-create-bad-mac");
        await page.GotoAsync(Browser.Url("/"));
        await Expect(page.GetByTestId("dva-list")).Not.ToContainTextAsync("bad-mac");
    }

    private static async Task AddInterfaceAsync(IPage page, int index, string name, string mac, string addresses, Wire? wire)
    {
        await page.ClickAsync("#add-interface");
        await page.FillAsync($"#if-{index}-name", name);
        await page.FillAsync($"#if-{index}-mac", mac);
        await page.FillAsync($"#if-{index}-addresses", addresses);
        if (wire is not null)
        {
            await page.FillAsync($"#if-{index}-unit", RealUnitsFixture.Dispatcher);
            await page.FillAsync($"#if-{index}-source", wire.Source);
        }
    }

    private static async Task<ulong> VersionAsync(IPage page) =>
        ulong.Parse((await page.GetByTestId("bucket-map").GetAttributeAsync("data-version"))!, CultureInfo.InvariantCulture);
}
