using Bunit;
using Dva.Manager.Model;
using Dva.Manager.Services;
using Dva.Web.Backend;
using Dva.Web.Components;

namespace Dva.Web.Tests.Components;

public sealed class LoadBalancerPanelTests(ManagerHost host) : BackendComponentTest(host, DashboardRoles.Operator)
{
    [Fact]
    public async Task Panel_PoolMembersAndVip_AddedWithFieldErrorsFirstThenWeightAndDrainChangeTheStoredMembers()
    {
        var dva = await Host.Factory.CreateDvaAsync("lb-forms");
        var panel = Render<LoadBalancerPanel>(p => p.Add(l => l.DvaId, dva.Id));
        Assert.Empty(panel.FindAll("[data-testid=vip-form]"));

        panel.Find("#pool-name").Input("web");
        panel.Find("[data-testid=pool-form]").Submit();
        panel.WaitForAssertion(() => Assert.Single(panel.FindAll("section[data-pool]")));
        var poolId = long.Parse(panel.Find("section[data-pool]").GetAttribute("data-pool")!, System.Globalization.CultureInfo.InvariantCulture);

        panel.Find($"#member-{poolId}-address").Input("192.0.2.500");
        panel.Find($"[data-testid=member-form-{poolId}]").Submit();
        panel.WaitForAssertion(() => Assert.NotEmpty(panel.FindAll($"[data-testid=member-form-{poolId}] .field-error[data-field=address]")));
        foreach (var (address, weight) in new[] { ("192.0.2.21", "3"), ("192.0.2.22", "1") })
        {
            panel.Find($"#member-{poolId}-address").Input(address);
            panel.Find($"#member-{poolId}-weight").Input(weight);
            panel.Find($"[data-testid=member-form-{poolId}]").Submit();
            panel.WaitForAssertion(() => Assert.Contains($"{address}:8443", panel.Find("section[data-pool]").TextContent, StringComparison.Ordinal));
        }

        Assert.Contains("75", panel.FindAll("section[data-pool] tbody tr")[0].TextContent, StringComparison.Ordinal);
        var second = (await MembersAsync(dva.Id, poolId)).Single(m => m.Spec.Address == "192.0.2.22");
        panel.Find($"#weight-{second.Id}").Input("3");
        panel.Find($"#weight-{second.Id}").ParentElement!.Submit();
        panel.WaitForAssertion(() => Assert.Contains("50", panel.FindAll("section[data-pool] tbody tr")[0].TextContent, StringComparison.Ordinal));
        Assert.Equal(3, (await MembersAsync(dva.Id, poolId)).Single(m => m.Id == second.Id).Spec.Weight);

        panel.FindAll("section[data-pool] tbody tr")[1].QuerySelectorAll("button").First(b => b.TextContent == "Drain").Click();
        panel.WaitForAssertion(() => Assert.Contains("100", panel.FindAll("section[data-pool] tbody tr")[0].TextContent, StringComparison.Ordinal));
        Assert.Equal(MemberAdminState.Draining, (await MembersAsync(dva.Id, poolId)).Single(m => m.Id == second.Id).Spec.AdminState);

        panel.Find("#vip-name").Input("www");
        panel.Find("#vip-address").Input("203.0.113.10");
        panel.Find("#vip-port").Input("70000");
        panel.Find("[data-testid=vip-form]").Submit();
        panel.WaitForAssertion(() => Assert.NotEmpty(panel.FindAll("[data-testid=vip-form] .field-error[data-field=port]")));
        panel.Find("#vip-port").Input("443");
        panel.Find("[data-testid=vip-form]").Submit();
        panel.WaitForAssertion(() => Assert.Contains("203.0.113.10:443", panel.Find("[data-testid=load-balancer] table").TextContent, StringComparison.Ordinal));
        var vip = Assert.Single((await Host.Factory.WithServiceAsync<VipService, ServiceResult<IReadOnlyList<ResourceView<VipSpec>>>>(v => v.ListAsync(dva.Id, CancellationToken.None))).Value!);
        Assert.Equal(poolId, vip.Spec.PoolId);
    }

    private Task<IReadOnlyList<MemberView>> MembersAsync(long dvaId, long poolId) =>
        Host.Factory.WithServiceAsync<MemberService, IReadOnlyList<MemberView>>(async m => (await m.ListAsync(dvaId, poolId, CancellationToken.None)).Value!.Members);
}
