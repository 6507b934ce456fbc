using Bunit;
using Dva.Manager.Services;
using Dva.Web.Backend;
using Dva.Web.Components;
using Microsoft.Extensions.DependencyInjection;

namespace Dva.Web.Tests.Components;

public sealed class DvaCreateFormTests(ManagerHost host) : BackendComponentTest(host, DashboardRoles.Operator)
{
    [Fact]
    public async Task Submit_BadBucketCountAndDataPlanes_ShowsTheServicesErrorsNextToThoseFields()
    {
        var form = Render<DvaCreateForm>();

        form.Find("#dva-name").Input("form-errors");
        form.Find("#dva-buckets").Input("1000");
        form.Find("#dva-initial").Input("0");
        form.Find("form").Submit();

        form.WaitForAssertion(() => Assert.NotEmpty(form.FindAll(".field-error")));
        Assert.Contains("power of two", form.Find(".field-error[data-field=bucketCount]").TextContent, StringComparison.Ordinal);
        Assert.Contains("1..4094", form.Find(".field-error[data-field='scaling.minDataPlanes']").TextContent, StringComparison.Ordinal);
        Assert.Empty(form.FindAll(".field-error[data-field=name]"));
        Assert.Null(await NamedAsync("form-errors"));
    }

    [Fact]
    public async Task Submit_BadInterfaceMac_ShowsTheErrorAtThatInterfaceAndLeavesNoDvaBehind()
    {
        var form = Render<DvaCreateForm>();

        form.Find("#dva-name").Input("bad-mac");
        AddInterface(form, "outside", "ff:ff:ff:ff:ff:ff", "192.0.2.1/24");
        form.Find("form").Submit();

        form.WaitForAssertion(() => Assert.Contains("unicast", form.Find(".field-error[data-field='interfaces[0].mac']").TextContent, StringComparison.Ordinal));
        Assert.Null(await NamedAsync("bad-mac"));
    }

    [Fact]
    public async Task Submit_ValidForm_CreatesTheDvaWithItsInterfaceAndOpensIt()
    {
        var form = Render<DvaCreateForm>();

        form.Find("#dva-name").Input("good-one");
        form.Find("#dva-kind").Change("LoadBalancer");
        AddInterface(form, "outside", "02:00:5e:00:00:01", "192.0.2.1/24, 2001:db8::1/64");
        form.Find("form").Submit();

        var navigation = Services.GetRequiredService<Bunit.TestDoubles.BunitNavigationManager>();
        form.WaitForAssertion(() => Assert.Contains("/dvas/", navigation.Uri, StringComparison.Ordinal));
        var dva = (await NamedAsync("good-one"))!;
        Assert.EndsWith($"/dvas/{dva.Id}", navigation.Uri, StringComparison.Ordinal);
        Assert.Equal(Manager.Model.ServiceKind.LoadBalancer, dva.Spec.ServiceKind);
        var interfaces = (await Host.Factory.WithServiceAsync<SharedInterfaceService, ServiceResult<IReadOnlyList<ResourceView<Manager.Model.SharedInterfaceSpec>>>>(
            s => s.ListAsync(dva.Id, CancellationToken.None))).Value!;
        Assert.Equal(["192.0.2.1/24", "2001:db8::1/64"], Assert.Single(interfaces).Spec.Addresses);
    }

    [Fact]
    public async Task Submit_EnginesSuperFramesAndShortcuts_CreatesTheDvaWithThemAndATapAttachmentIsRefusedAtItsField()
    {
        var form = Render<DvaCreateForm>();

        form.Find("#dva-name").Input("engines-sf");
        form.Find("#dva-dp-engines").Input("2");
        form.Find("#dva-disp-engines").Input("3");
        form.Find("#dva-super-frames").Change(true);
        form.Find("#dva-shortcuts").Change(true);
        AddInterface(form, "outside", "02:00:5e:00:00:01", "192.0.2.1/24");
        form.Find("#if-0-source").Input("tap:dva0");
        form.Find("form").Submit();

        // Super-frames cannot leave through a TAP device: the interface's field says so and no DVA is left behind.
        form.WaitForAssertion(() => Assert.Contains("cannot send them", form.Find(".field-error[data-field='interfaces[0].attachment.frameSource']").TextContent, StringComparison.Ordinal));
        Assert.Null(await NamedAsync("engines-sf"));

        form.Find("#if-0-source").Input("afpacket:eth1");
        form.Find("form").Submit();

        var navigation = Services.GetRequiredService<Bunit.TestDoubles.BunitNavigationManager>();
        form.WaitForAssertion(() => Assert.Contains("/dvas/", navigation.Uri, StringComparison.Ordinal));
        var dva = (await NamedAsync("engines-sf"))!;
        Assert.Equal((2, 3, true, true), (dva.Spec.DataPlaneEngines, dva.Spec.DispatcherEngines, dva.Spec.SuperFrames, dva.Spec.Shortcuts));

        // The DVA's page says so.
        var page = Render<Dva.Web.Pages.DvaOverview>(p => p.Add(o => o.DvaId, dva.Id));
        page.WaitForAssertion(() => Assert.Equal("2 per data plane, 3 per dispatcher", page.Find("[data-testid=engines]").TextContent));
        Assert.StartsWith("on", page.Find("[data-testid=super-frames]").TextContent, StringComparison.Ordinal);
        Assert.Equal("on (the kernel forwards established flows)", page.Find("[data-testid=shortcuts]").TextContent);
    }

    private static void AddInterface(IRenderedComponent<DvaCreateForm> form, string name, string mac, string addresses)
    {
        form.Find("#add-interface").Click();
        form.Find("#if-0-name").Input(name);
        form.Find("#if-0-mac").Input(mac);
        form.Find("#if-0-addresses").Input(addresses);
    }

    private async Task<DvaView?> NamedAsync(string name) =>
        (await Host.Factory.WithServiceAsync<DvaService, IReadOnlyList<DvaView>>(s => s.ListAsync(CancellationToken.None)))
            .FirstOrDefault(d => d.Spec.Name == name);
}
