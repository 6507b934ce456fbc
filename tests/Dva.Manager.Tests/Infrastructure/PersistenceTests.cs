using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Dva.Manager.Infrastructure;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.Extensions.DependencyInjection;

namespace Dva.Manager.Tests.Infrastructure;

public sealed partial class PersistenceTests : IDisposable
{
    private readonly TempDatabase _database = new();

    public void Dispose() => _database.Delete();

    [Fact]
    public async Task Start_EmptyDatabase_AppliesEveryMigration()
    {
        await using var factory = new ManagerFactory(_database.Path);
        factory.CreateClient().Dispose();

        await using var scope = factory.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ManagerDbContext>();
        Assert.Empty(await db.Database.GetPendingMigrationsAsync());
        Assert.Equal(db.Database.GetMigrations(), await db.Database.GetAppliedMigrationsAsync());
        Assert.False(db.Database.HasPendingModelChanges(), "the model has changes without a migration: run dotnet ef migrations add");
        var tables = await TablesAsync(_database.Path);
        Assert.Superset(new HashSet<string> { "Dvas", "SharedInterfaces", "StaticRoutes", "FirewallRules", "Vips", "Pools", "Members", "Nodes", "TableVersions", "AuditEntries", "ApiKeys" }, tables);
    }

    [Fact]
    public async Task Restart_SameDatabaseFile_KeepsConfigurationAndKeys()
    {
        long dvaId;
        string operatorKey;
        await using (var first = new ManagerFactory(_database.Path))
        {
            var admin = first.Admin();
            var created = await admin.PostAsJsonAsync("/api/v1/dvas", new { name = "durable", bucketCount = 512 });
            dvaId = (await created.Content.ReadFromJsonAsync<System.Text.Json.Nodes.JsonObject>())!["id"]!.GetValue<long>();
            (await admin.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/interfaces", new { ifid = 1, name = "outside", mac = "02:00:00:00:00:01", addresses = new[] { "192.0.2.1/24" } })).EnsureSuccessStatusCode();
            var key = await admin.PostAsJsonAsync("/api/v1/keys", new { name = "survivor", role = "operator" });
            operatorKey = (await key.Content.ReadFromJsonAsync<System.Text.Json.Nodes.JsonObject>())!["secret"]!.GetValue<string>();
        }

        await using var second = new ManagerFactory(_database.Path);
        var client = second.CreateClient(operatorKey);
        var dva = await client.GetFromJsonAsync<System.Text.Json.Nodes.JsonObject>($"/api/v1/dvas/{dvaId}");
        var interfaces = await client.GetFromJsonAsync<System.Text.Json.Nodes.JsonArray>($"/api/v1/dvas/{dvaId}/interfaces");

        Assert.Equal(512, dva!["spec"]!["bucketCount"]!.GetValue<int>());
        Assert.Equal("outside", Assert.Single(interfaces!)!["spec"]!["name"]!.GetValue<string>());
    }

    /// <summary>
    /// A database from before the trunk VLANs (the InterfaceTrunks migration undone by hand: its table dropped, its
    /// history row removed) with an interface in it: the manager's start migrates it, the interface gets its row with no
    /// VLANs, and it reads and changes as any other.
    /// </summary>
    [Fact]
    public async Task Start_DatabaseFromBeforeTrunkVlans_ExistingInterfaceMigratedWithNone()
    {
        long dvaId;
        await using (var first = new ManagerFactory(_database.Path))
        {
            var admin = first.Admin();
            var created = await admin.PostAsJsonAsync("/api/v1/dvas", new { name = "older" });
            dvaId = (await created.Content.ReadFromJsonAsync<System.Text.Json.Nodes.JsonObject>())!["id"]!.GetValue<long>();
            (await admin.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/interfaces", new { ifid = 1, name = "outside", mac = "02:00:00:00:00:01", vlans = new[] { 7 } })).EnsureSuccessStatusCode();
        }

        await ExecuteAsync(_database.Path, """
            DROP TABLE "SharedInterfaceTrunks";
            DELETE FROM "__EFMigrationsHistory" WHERE "MigrationId" LIKE '%_InterfaceTrunks';
            """);
        Assert.DoesNotContain("SharedInterfaceTrunks", await TablesAsync(_database.Path));

        await using var second = new ManagerFactory(_database.Path);
        var client = second.Admin();
        var interfaces = await client.GetFromJsonAsync<System.Text.Json.Nodes.JsonArray>($"/api/v1/dvas/{dvaId}/interfaces");
        var shown = Assert.Single(interfaces!)!;
        Assert.Empty(shown["spec"]!["vlans"]!.AsArray());

        var spec = shown["spec"]!.AsObject();
        spec["vlans"] = new System.Text.Json.Nodes.JsonArray(20);
        using var put = new HttpRequestMessage(HttpMethod.Put, $"/api/v1/dvas/{dvaId}/interfaces/{(long)shown["id"]!}") { Content = JsonContent.Create(spec) };
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(put)).StatusCode);
        var after = await client.GetFromJsonAsync<System.Text.Json.Nodes.JsonArray>($"/api/v1/dvas/{dvaId}/interfaces");
        Assert.Equal(20, Assert.Single(after!)!["spec"]!["vlans"]![0]!.GetValue<int>());
    }

    /// <summary>
    /// A database from before IPv6 router advertisements (the InterfaceIpv6Routers migration undone by hand) with an
    /// interface in it: the manager's start migrates it, the interface gets its row with advertisements off, and they can
    /// be turned on. Without the migration's fill-in, reading the interface fails.
    /// </summary>
    [Fact]
    public async Task Start_DatabaseFromBeforeRouterAdvertisements_ExistingInterfaceMigratedWithThemOff()
    {
        var dvaId = await InterfaceInADatabaseFromBeforeAsync(
            new { ifid = 1, name = "outside", mac = "02:00:00:00:00:01", addresses = new[] { "2001:db8:1::1/64" }, routerAdvertisements = true },
            "InterfaceIpv6Routers", "SharedInterfaceIpv6Routers");

        await using var second = new ManagerFactory(_database.Path);
        var shown = await ChangeTheInterfaceAsync(second.Admin(), dvaId, spec => Assert.False(spec["routerAdvertisements"]!.GetValue<bool>()),
            spec => spec["routerAdvertisements"] = true);
        Assert.True(shown["routerAdvertisements"]!.GetValue<bool>());
    }

    /// <summary>
    /// A database from before VLAN sub-interfaces and the advertisements' DHCPv6 and DNS options (both migrations undone
    /// by hand): the interface comes back with none of either, and both can be set. Without the fill-in of the host
    /// configuration's rows, reading the interface fails.
    /// </summary>
    [Fact]
    public async Task Start_DatabaseFromBeforeSubInterfacesAndDns_ExistingInterfaceMigratedWithoutThem()
    {
        var dvaId = await InterfaceInADatabaseFromBeforeAsync(
            new { ifid = 1, name = "outside", mac = "02:00:00:00:00:01", addresses = new[] { "2001:db8:1::1/64" }, routerAdvertisements = true },
            "InterfaceHostConfigurations", "SharedInterfaceHostConfigurations", "InterfaceSubInterfaces", "SharedInterfaceSubInterfaces");

        await using var second = new ManagerFactory(_database.Path);
        var shown = await ChangeTheInterfaceAsync(second.Admin(), dvaId,
            spec => Assert.Equal(("none", "[]", "[]"), ((string)spec["dhcpv6"]!, spec["dnsServers"]!.ToJsonString(), spec["subInterfaces"]!.ToJsonString())),
            spec =>
            {
                spec["dhcpv6"] = "other";
                spec["dnsServers"] = new System.Text.Json.Nodes.JsonArray("2001:db8::53");
                spec["subInterfaces"] = System.Text.Json.Nodes.JsonNode.Parse("""[{"vlan":20,"addresses":["203.0.113.1/24"]}]""");
            });
        Assert.Equal(("other", """["2001:db8::53"]""", """[{"vlan":20,"addresses":["203.0.113.1/24"]}]"""),
            ((string)shown["dhcpv6"]!, shown["dnsServers"]!.ToJsonString(), shown["subInterfaces"]!.ToJsonString()));
    }

    /// <summary>
    /// A database from before firewall rules matched a VLAN (FirewallRuleVlans undone by hand) with a rule in it: the rule
    /// comes back matching any VLAN, and a VLAN can be set. Without the fill-in, reading the rule fails.
    /// </summary>
    [Fact]
    public async Task Start_DatabaseFromBeforeRuleVlans_ExistingRuleMatchesAnyVlan()
    {
        var dvaId = await ChildInADatabaseFromBeforeAsync("firewall-rules", new { action = "drop", source = "198.51.100.0/24" },
            "FirewallRuleVlans", "FirewallRuleVlans");

        await using var second = new ManagerFactory(_database.Path);
        var client = second.Admin();
        var rule = Assert.Single((await client.GetFromJsonAsync<System.Text.Json.Nodes.JsonObject>($"/api/v1/dvas/{dvaId}/firewall-rules"))!["rules"]!.AsArray())!;
        Assert.Null(rule["spec"]!["ingressVlan"]);
        var patched = await client.PatchAsJsonAsync($"/api/v1/dvas/{dvaId}/firewall-rules/{(long)rule["id"]!}", new { ingressVlan = 20 });
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        var after = Assert.Single((await client.GetFromJsonAsync<System.Text.Json.Nodes.JsonObject>($"/api/v1/dvas/{dvaId}/firewall-rules"))!["rules"]!.AsArray())!;
        Assert.Equal(20, (int)after["spec"]!["ingressVlan"]!);
    }

    /// <summary>
    /// A database from before the kernel shortcut (DvaShortcuts undone by hand) with a DVA in it: the DVA comes back with
    /// shortcuts off, and they can be turned on. Without the migration's fill-in, reading the DVA fails.
    /// </summary>
    [Fact]
    public async Task Start_DatabaseFromBeforeShortcuts_ExistingDvaMigratedWithThemOff()
    {
        var dvaId = await InterfaceInADatabaseFromBeforeAsync(
            new { ifid = 1, name = "outside", mac = "02:00:00:00:00:01", attachment = new { nodeName = "disp-1", frameSource = "afpacket:eth1" } },
            "DvaShortcuts", "DvaShortcuts");

        await using var second = new ManagerFactory(_database.Path);
        var client = second.Admin();
        var shown = (await client.GetFromJsonAsync<System.Text.Json.Nodes.JsonObject>($"/api/v1/dvas/{dvaId}"))!;
        var spec = shown["spec"]!.AsObject();
        Assert.False(spec["shortcuts"]!.GetValue<bool>());
        spec["shortcuts"] = true;
        using var put = new HttpRequestMessage(HttpMethod.Put, $"/api/v1/dvas/{dvaId}") { Content = JsonContent.Create(spec) };
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(put)).StatusCode);
        var after = await client.GetFromJsonAsync<System.Text.Json.Nodes.JsonObject>($"/api/v1/dvas/{dvaId}");
        Assert.True(after!["spec"]!["shortcuts"]!.GetValue<bool>());
    }

    /// <summary>
    /// Makes a DVA with <paramref name="iface"/>, then undoes migrations by hand as a database from before them would be:
    /// each (migration, table) pair of <paramref name="undo"/> drops the table and forgets the migration. Returns the DVA's id.
    /// </summary>
    private async Task<long> InterfaceInADatabaseFromBeforeAsync(object iface, params string[] undo) =>
        await ChildInADatabaseFromBeforeAsync("interfaces", iface, undo);

    /// <summary>As <see cref="InterfaceInADatabaseFromBeforeAsync"/>, with <paramref name="child"/> posted to the DVA's <paramref name="collection"/>.</summary>
    private async Task<long> ChildInADatabaseFromBeforeAsync(string collection, object child, params string[] undo)
    {
        long dvaId;
        await using (var first = new ManagerFactory(_database.Path))
        {
            var admin = first.Admin();
            var created = await admin.PostAsJsonAsync("/api/v1/dvas", new { name = "older" });
            dvaId = (await created.Content.ReadFromJsonAsync<System.Text.Json.Nodes.JsonObject>())!["id"]!.GetValue<long>();
            (await admin.PostAsJsonAsync($"/api/v1/dvas/{dvaId}/{collection}", child)).EnsureSuccessStatusCode();
        }

        for (var i = 0; i < undo.Length; i += 2)
        {
            await ExecuteAsync(_database.Path, $"""
                DROP TABLE "{undo[i + 1]}";
                DELETE FROM "__EFMigrationsHistory" WHERE "MigrationId" LIKE '%_{undo[i]}';
                """);
            Assert.DoesNotContain(undo[i + 1], await TablesAsync(_database.Path));
        }

        return dvaId;
    }

    /// <summary>Reads the DVA's one interface, checks its spec, changes it with a PUT, and returns the spec read back.</summary>
    private static async Task<System.Text.Json.Nodes.JsonObject> ChangeTheInterfaceAsync(HttpClient client, long dvaId,
        Action<System.Text.Json.Nodes.JsonObject> before, Action<System.Text.Json.Nodes.JsonObject> change)
    {
        var shown = Assert.Single((await client.GetFromJsonAsync<System.Text.Json.Nodes.JsonArray>($"/api/v1/dvas/{dvaId}/interfaces"))!)!;
        var spec = shown["spec"]!.AsObject();
        before(spec);
        change(spec);
        using var put = new HttpRequestMessage(HttpMethod.Put, $"/api/v1/dvas/{dvaId}/interfaces/{(long)shown["id"]!}") { Content = JsonContent.Create(spec) };
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(put)).StatusCode);
        var after = await client.GetFromJsonAsync<System.Text.Json.Nodes.JsonArray>($"/api/v1/dvas/{dvaId}/interfaces");
        return Assert.Single(after!)!["spec"]!.AsObject();
    }

    [Fact]
    public async Task Start_WithoutConfiguredKey_CreatesOneAdminKeyThatWorks()
    {
        await using var factory = new KeylessFactory(_database.Path);
        factory.CreateClient().Dispose();
        var printed = factory.Console.ToString();

        var key = Assert.Single(ApiKeyPattern().Matches(printed)).Value;
        var response = await factory.CreateClient(key).GetAsync("/api/v1/keys");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    /// <summary>
    /// db/migrations.sql is the idempotent schema script for operators who manage the database by hand.
    /// dotnet-ef cannot write idempotent scripts for SQLite, so it is derived here from the migrations
    /// (set DVA_WRITE_DB_SCRIPT=1 to rewrite it after adding a migration).
    /// </summary>
    [Fact]
    public async Task MigrationsScript_MatchesTheMigrationsAndIsIdempotent()
    {
        await using var factory = new ManagerFactory(_database.Path);
        factory.CreateClient().Dispose();
        string script;
        await using (var scope = factory.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<ManagerDbContext>();
            script = IdempotentSqliteScript.From(db.GetService<IMigrator>().GenerateScript());
        }

        var path = Path.Combine(RepositoryRoot(), "db", "migrations.sql");
        if (Environment.GetEnvironmentVariable("DVA_WRITE_DB_SCRIPT") == "1")
        {
            await File.WriteAllTextAsync(path, script);
        }

        Assert.Equal(script, (await File.ReadAllTextAsync(path)).ReplaceLineEndings("\n"));
        // __EFMigrationsLock is created by MigrateAsync to serialise concurrent migrators; it is not schema.
        var scripted = new TempDatabase();
        try
        {
            await ExecuteAsync(scripted.Path, script);
            await ExecuteAsync(scripted.Path, script);
            Assert.Equal(await SchemaAsync(_database.Path), await SchemaAsync(scripted.Path));
        }
        finally
        {
            scripted.Delete();
        }
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Dva.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("Dva.sln not found above the test binaries.");
    }

    private static async Task ExecuteAsync(string path, string sql)
    {
        await using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<HashSet<string>> TablesAsync(string path) =>
        [.. (await SchemaAsync(path)).Where(s => s.Type == "table").Select(s => s.Name)];

    private static async Task<List<(string Type, string Name, string Sql)>> SchemaAsync(string path)
    {
        await using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' AND name <> '__EFMigrationsLock' ORDER BY name";
        var rows = new List<(string, string, string)>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            // "IF NOT EXISTS" is kept verbatim by SQLite; compare the definitions, not that wording.
            rows.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2).Replace(" IF NOT EXISTS", "", StringComparison.Ordinal)));
        }

        return rows;
    }

    [GeneratedRegex(@"dva_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")]
    private static partial Regex ApiKeyPattern();

    /// <summary>A manager without Dva:AdminKey, whose console output is captured.</summary>
    private sealed class KeylessFactory(string databasePath) : Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactory<Program>
    {
        public StringWriter Console { get; } = new();

        public HttpClient CreateClient(string key)
        {
            var client = CreateClient();
            client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
            return client;
        }

        protected override void ConfigureWebHost(Microsoft.AspNetCore.Hosting.IWebHostBuilder builder)
        {
            builder.UseSetting("Dva:Database", databasePath);
            builder.ConfigureTestServices(services => services.AddSingleton(new FirstRunConsole(Console)));
        }
    }
}
