using Bunit;
using Dva.Web.Backend;
using Dva.Web.Components;

namespace Dva.Web.Tests.Components;

public sealed class ApiKeysEditorTests(ManagerHost host) : BackendComponentTest(host, DashboardRoles.Admin)
{
    [Fact]
    public async Task Create_OperatorKey_ShowsTheSecretOnceAndItSignsInAsOperatorUntilRevoked()
    {
        var editor = Render<ApiKeysEditor>();
        var backend = Host.Factory.BackendAs(DashboardRoles.Admin);

        editor.Find("#key-name").Input("ci-pipeline");
        editor.Find("#key-role").Change("operator");
        editor.Find("form").Submit();

        editor.WaitForAssertion(() => Assert.NotEmpty(editor.FindAll("[data-testid=new-secret] code.secret")));
        var secret = editor.Find("[data-testid=new-secret] code.secret").TextContent;
        var user = await backend.AuthenticateAsync(secret, CancellationToken.None);
        Assert.Equal(("key:ci-pipeline", DashboardRoles.Operator), (user?.Name, user?.Role));
        Assert.Single(editor.FindAll("tr.key-row"), r => r.TextContent.Contains("ci-pipeline", StringComparison.Ordinal));
        Assert.DoesNotContain(secret, editor.Find("table").TextContent, StringComparison.Ordinal);

        editor.Find("[data-testid=new-secret] button").Click();
        Assert.DoesNotContain(secret, editor.Markup, StringComparison.Ordinal);

        editor.FindAll("tr.key-row").Single(r => r.TextContent.Contains("ci-pipeline", StringComparison.Ordinal)).QuerySelector("button")!.Click();
        editor.WaitForAssertion(() => Assert.DoesNotContain("ci-pipeline", editor.Find("table").TextContent, StringComparison.Ordinal));
        Assert.Null(await backend.AuthenticateAsync(secret, CancellationToken.None));
    }

    [Fact]
    public void Create_DuplicateName_ShowsTheErrorAtTheNameField()
    {
        var editor = Render<ApiKeysEditor>();
        foreach (var _ in new[] { 1, 2 })
        {
            editor.Find("#key-name").Input("twice");
            editor.Find("form").Submit();
        }

        editor.WaitForAssertion(() => Assert.Contains("already exists", editor.Find(".field-error[data-field=name]").TextContent, StringComparison.Ordinal));
    }
}

public sealed class ApiKeysEditorOperatorTests(ManagerHost host) : BackendComponentTest(host, DashboardRoles.Operator)
{
    [Fact]
    public async Task Editor_OperatorKey_ListsNothingAndTheBackendRefusesToCreate()
    {
        var editor = Render<ApiKeysEditor>();

        Assert.Contains("admin keys only", editor.Markup, StringComparison.Ordinal);
        Assert.Empty(editor.FindAll("tr.key-row"));
        var created = await Host.Factory.BackendAs(DashboardRoles.Operator).CreateApiKeyAsync(new ApiKeyForm { Name = "sneaky", Role = "admin" }, CancellationToken.None);
        Assert.False(created.Result.Succeeded);
        Assert.Null(created.Secret);
        Assert.Contains("admin role", created.Result.Message, StringComparison.Ordinal);
    }
}
