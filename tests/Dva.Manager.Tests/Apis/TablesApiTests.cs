using System.Net;
using Dva.Manager.Services;

namespace Dva.Manager.Tests.Apis;

public sealed class TablesApiTests(ManagerFixture fixture) : ApiTestBase(fixture)
{
    private Task<ServiceResult<TableVersionView>> RecordAsync(long dvaId, long version, byte[] snapshot) =>
        Factory.WithServiceAsync<TableHistoryService, ServiceResult<TableVersionView>>(t => t.RecordAsync(dvaId, version, "node joined", snapshot, CancellationToken.None));

    [Fact]
    public async Task History_RecordedVersions_AreListedNewestFirstWithEra()
    {
        var dvaId = await CreateDvaAsync();
        await RecordAsync(dvaId, 1, [1, 2, 3]);
        await RecordAsync(dvaId, 2, [4, 5]);
        await Factory.WithServiceAsync<TableHistoryService, ServiceResult<TableVersionView>>(t => t.MarkRolledOutAsync(dvaId, 1, CancellationToken.None));

        var page = await ExpectAsync(await Client.GetAsync($"/api/v1/dvas/{dvaId}/tables"), HttpStatusCode.OK);

        var items = page["items"]!.AsArray();
        Assert.Equal([2L, 1L], items.Select(i => (long)i!["version"]!));
        Assert.Equal([0, 1], items.Select(i => (int)i!["era"]!));
        Assert.Equal(2, (int)items[0]!["snapshotBytes"]!);
        Assert.Null(items[0]!["rolledOut"]);
        Assert.NotNull(items[1]!["rolledOut"]);
        Assert.Equal("node joined", (string)items[0]!["cause"]!);
    }

    [Fact]
    public async Task Get_Version_ReturnsSnapshot()
    {
        var dvaId = await CreateDvaAsync();
        await RecordAsync(dvaId, 7, [9, 8, 7, 6]);

        var detail = await ExpectAsync(await Client.GetAsync($"/api/v1/dvas/{dvaId}/tables/7"), HttpStatusCode.OK);

        Assert.Equal(Convert.ToBase64String([9, 8, 7, 6]), (string)detail["snapshot"]!);
        Assert.Equal(1, (int)detail["summary"]!["era"]!);
    }

    [Fact]
    public async Task Record_OlderVersion_IsRefused()
    {
        var dvaId = await CreateDvaAsync();
        await RecordAsync(dvaId, 5, [1]);

        var result = await RecordAsync(dvaId, 5, [2]);

        Assert.Equal(ServiceStatus.Conflict, result.Failure!.Status);
    }

    [Fact]
    public async Task Get_UnknownVersionOrDva_Returns404()
    {
        var dvaId = await CreateDvaAsync();

        await ExpectProblemAsync(await Client.GetAsync($"/api/v1/dvas/{dvaId}/tables/3"), HttpStatusCode.NotFound);
        await ExpectProblemAsync(await Client.GetAsync("/api/v1/dvas/8888888/tables"), HttpStatusCode.NotFound);
    }
}
