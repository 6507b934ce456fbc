using Microsoft.Playwright;

namespace Dva.Web.Tests.Browser;

/// <summary>The real manager on Kestrel (loopback, an OS-chosen port) and the system's Chromium, shared by a test class.</summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    private IPlaywright? _playwright;

    public BrowserFixture()
        : this(new DashboardFactory())
    {
    }

    internal BrowserFixture(DashboardFactory factory) => Factory = factory.WithKestrel();

    public DashboardFactory Factory { get; }

    public IBrowser Browser { get; private set; } = null!;

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>test-results/screenshots under the repository root (the folder holding Dva.sln).</summary>
    public static string ScreenshotDirectory
    {
        get
        {
            var directory = new DirectoryInfo(AppContext.BaseDirectory);
            while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Dva.sln")))
            {
                directory = directory.Parent;
            }

            var path = Path.Combine(directory?.FullName ?? Path.GetTempPath(), "test-results", "screenshots");
            Directory.CreateDirectory(path);
            return path;
        }
    }

    public async Task InitializeAsync()
    {
        Factory.StartServer();
        BaseAddress = Factory.BaseAddress;
        // The machine is shared with other builds: give the circuit time rather than fail on a slow render.
        Assertions.SetDefaultExpectTimeout(15_000);
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = "/usr/bin/chromium",
            Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
    }

    /// <summary>A fresh browser (own cookies) signed in with <paramref name="apiKey"/>.</summary>
    public async Task<IPage> SignedInPageAsync(string apiKey)
    {
        var page = await NewPageAsync();
        await page.GotoAsync(Url("/login"));
        await page.FillAsync("#apiKey", apiKey);
        await page.ClickAsync("button[type=submit]");
        // The first request after sign-in renders the whole list page; on a loaded machine that takes a while. Wait for
        // the navigation to commit, not for the load event (a full run once timed out there after 60 s): what a test
        // reads next it waits for itself (WaitForCircuitAsync, Expect).
        await page.WaitForURLAsync(Url("/"), new() { Timeout = 60_000, WaitUntil = WaitUntilState.Commit });
        return page;
    }

    public async Task<IPage> NewPageAsync()
    {
        var context = await Browser.NewContextAsync(new() { ViewportSize = new() { Width = 1400, Height = 900 }, BaseURL = BaseAddress.ToString() });
        context.SetDefaultTimeout(20_000);
        return await context.NewPageAsync();
    }

    public string Url(string path) => new Uri(BaseAddress, path).ToString();

    /// <summary>Waits until the interactive component inside <paramref name="scope"/> runs in a live circuit.</summary>
    public static Task WaitForCircuitAsync(IPage page, string scope) =>
        page.Locator($"{scope} [data-testid=interactive]").First.WaitForAsync(new() { State = WaitForSelectorState.Attached, Timeout = 60_000 });

    public static Task ScreenshotAsync(IPage page, string name) =>
        page.ScreenshotAsync(new() { Path = Path.Combine(ScreenshotDirectory, name + ".png"), FullPage = true });

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }

        _playwright?.Dispose();
        await Factory.DisposeAsync();
    }
}
