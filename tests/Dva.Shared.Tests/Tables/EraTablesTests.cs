using Dva.Shared.Tables;
using static Dva.Shared.Tests.Tables.TableFixtures;

namespace Dva.Shared.Tests.Tables;

public class EraTablesTests
{
    private static readonly Guid DvaId = Guid.Parse("0b7e1f3c-5a2d-4e6f-8a9b-0c1d2e3f4a5b");

    private static (TableVersion V1, TableVersion V2, TableVersion V3) ThreeVersions()
    {
        TableVersion v1 = TableVersion.CreateFirst(DvaId, 1, 256, [DataPlane(1), DataPlane(2)], "first");
        TableVersion v2 = v1.Next([DataPlane(1), DataPlane(2), DataPlane(3)], T0, "3 joined", out int _);
        TableVersion v3 = v2.Next([DataPlane(1), DataPlane(3)], T0, "2 left", out int _);
        return (v1, v2, v3);
    }

    [Fact]
    public void ForEra_AfterRollingToNextVersion_PacketsOfEitherEraFindTheirTable()
    {
        (TableVersion v1, TableVersion v2, _) = ThreeVersions();

        Assert.Equal(InstallResult.Installed, EraTables.None.TryInstall(v1, out EraTables tables));
        Assert.Equal(InstallResult.Installed, tables.TryInstall(v2, out tables));

        Assert.Same(v2, tables.ForEra(v2.Era));
        Assert.Same(v1, tables.ForEra(v1.Era));
        Assert.Null(tables.DropPrevious().ForEra(v1.Era));
        Assert.Same(v2, tables.DropPrevious().ForEra(v2.Era));
    }

    [Fact]
    public void ForEra_JustJoinedWithOneTable_OtherEraHasNoTable()
    {
        (_, TableVersion v2, _) = ThreeVersions();

        EraTables.None.TryInstall(v2, out EraTables tables);

        Assert.Same(v2, tables.ForEra(v2.Era));
        Assert.Null(tables.ForEra(1 - v2.Era));
        Assert.Null(EraTables.None.ForEra(0));
    }

    [Fact]
    public void TryInstall_VersionSkipped_PreviousIsNotKept()
    {
        (TableVersion v1, _, TableVersion v3) = ThreeVersions();
        EraTables.None.TryInstall(v1, out EraTables tables);

        Assert.Equal(InstallResult.Installed, tables.TryInstall(v3, out tables));

        // v1 has v3's era; a packet of the other era must not be routed with a table two steps old.
        Assert.Null(tables.Previous);
        Assert.Null(tables.ForEra(1 - v3.Era));
    }

    [Fact]
    public void TryInstall_ResentStaleOrForeignTables_LeaveTablesUnchanged()
    {
        (TableVersion v1, TableVersion v2, _) = ThreeVersions();
        EraTables.None.TryInstall(v1, out EraTables tables);
        tables.TryInstall(v2, out tables);
        TableVersion foreign = TableVersion.CreateFirst(Guid.NewGuid(), 1, 256, [DataPlane(1)], "other", 3);

        Assert.Equal(InstallResult.AlreadyCurrent, tables.TryInstall(v2, out EraTables same));
        Assert.Same(tables, same);
        Assert.Equal(InstallResult.Stale, tables.TryInstall(v1, out same));
        Assert.Same(tables, same);
        Assert.Equal(InstallResult.OtherDva, tables.TryInstall(foreign, out same));
        Assert.Same(tables, same);
    }
}
