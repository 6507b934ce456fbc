using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Dva.Manager.Infrastructure.Migrations
{
    /// <inheritdoc />
    public partial class Initial : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "ApiKeys",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    KeyId = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    Name = table.Column<string>(type: "TEXT", maxLength: 63, nullable: false),
                    Role = table.Column<string>(type: "TEXT", nullable: false),
                    SecretHash = table.Column<byte[]>(type: "BLOB", maxLength: 32, nullable: false),
                    Created = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_ApiKeys", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "AuditEntries",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    Actor = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    Time = table.Column<long>(type: "INTEGER", nullable: false),
                    Operation = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    TargetType = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    TargetId = table.Column<long>(type: "INTEGER", nullable: true),
                    DvaId = table.Column<long>(type: "INTEGER", nullable: true),
                    Before = table.Column<string>(type: "TEXT", nullable: true),
                    After = table.Column<string>(type: "TEXT", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_AuditEntries", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "Dvas",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    Name = table.Column<string>(type: "TEXT", maxLength: 63, nullable: false),
                    Description = table.Column<string>(type: "TEXT", maxLength: 1024, nullable: false),
                    ServiceKind = table.Column<string>(type: "TEXT", nullable: false),
                    BucketCount = table.Column<int>(type: "INTEGER", nullable: false),
                    Seed = table.Column<long>(type: "INTEGER", nullable: false),
                    TunnelPort = table.Column<int>(type: "INTEGER", nullable: false),
                    SecureTunnel = table.Column<bool>(type: "INTEGER", nullable: false),
                    FirewallDefaultPolicy = table.Column<string>(type: "TEXT", nullable: false),
                    MidStreamPolicy = table.Column<string>(type: "TEXT", nullable: false),
                    MinDataPlanes = table.Column<int>(type: "INTEGER", nullable: false),
                    MaxDataPlanes = table.Column<int>(type: "INTEGER", nullable: false),
                    TargetUtilizationPercent = table.Column<int>(type: "INTEGER", nullable: false),
                    DesiredDataPlanes = table.Column<int>(type: "INTEGER", nullable: false),
                    FirewallRulesVersion = table.Column<long>(type: "INTEGER", nullable: false),
                    Version = table.Column<long>(type: "INTEGER", nullable: false),
                    Generation = table.Column<long>(type: "INTEGER", nullable: false),
                    ObservedGeneration = table.Column<long>(type: "INTEGER", nullable: false),
                    OperatingStatus = table.Column<string>(type: "TEXT", nullable: false),
                    ConditionsJson = table.Column<string>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_Dvas", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "FirewallRules",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    Priority = table.Column<int>(type: "INTEGER", nullable: false),
                    Action = table.Column<string>(type: "TEXT", nullable: false),
                    Protocol = table.Column<string>(type: "TEXT", nullable: false),
                    Source = table.Column<string>(type: "TEXT", maxLength: 49, nullable: false),
                    Destination = table.Column<string>(type: "TEXT", maxLength: 49, nullable: false),
                    SourcePorts = table.Column<string>(type: "TEXT", maxLength: 11, nullable: false),
                    DestinationPorts = table.Column<string>(type: "TEXT", maxLength: 11, nullable: false),
                    IngressIfid = table.Column<int>(type: "INTEGER", nullable: true),
                    IcmpType = table.Column<int>(type: "INTEGER", nullable: true),
                    Enabled = table.Column<bool>(type: "INTEGER", nullable: false),
                    Description = table.Column<string>(type: "TEXT", maxLength: 1024, nullable: false),
                    Version = table.Column<long>(type: "INTEGER", nullable: false),
                    Generation = table.Column<long>(type: "INTEGER", nullable: false),
                    ObservedGeneration = table.Column<long>(type: "INTEGER", nullable: false),
                    OperatingStatus = table.Column<string>(type: "TEXT", nullable: false),
                    ConditionsJson = table.Column<string>(type: "TEXT", nullable: false),
                    DvaId = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_FirewallRules", x => x.Id);
                    table.ForeignKey(
                        name: "FK_FirewallRules_Dvas_DvaId",
                        column: x => x.DvaId,
                        principalTable: "Dvas",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "Nodes",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    Name = table.Column<string>(type: "TEXT", maxLength: 63, nullable: false),
                    DvaId = table.Column<long>(type: "INTEGER", nullable: true),
                    Role = table.Column<string>(type: "TEXT", nullable: false),
                    NodeId = table.Column<int>(type: "INTEGER", nullable: false),
                    TunnelEndpoint = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    State = table.Column<string>(type: "TEXT", nullable: false),
                    LastHeartbeat = table.Column<long>(type: "INTEGER", nullable: true),
                    MeasuredCapacity = table.Column<double>(type: "REAL", nullable: false),
                    Weight = table.Column<int>(type: "INTEGER", nullable: false),
                    Version = table.Column<long>(type: "INTEGER", nullable: false),
                    Generation = table.Column<long>(type: "INTEGER", nullable: false),
                    ObservedGeneration = table.Column<long>(type: "INTEGER", nullable: false),
                    OperatingStatus = table.Column<string>(type: "TEXT", nullable: false),
                    ConditionsJson = table.Column<string>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_Nodes", x => x.Id);
                    table.ForeignKey(
                        name: "FK_Nodes_Dvas_DvaId",
                        column: x => x.DvaId,
                        principalTable: "Dvas",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.SetNull);
                });

            migrationBuilder.CreateTable(
                name: "Pools",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    Name = table.Column<string>(type: "TEXT", maxLength: 63, nullable: false),
                    Method = table.Column<string>(type: "TEXT", nullable: false),
                    Version = table.Column<long>(type: "INTEGER", nullable: false),
                    Generation = table.Column<long>(type: "INTEGER", nullable: false),
                    ObservedGeneration = table.Column<long>(type: "INTEGER", nullable: false),
                    OperatingStatus = table.Column<string>(type: "TEXT", nullable: false),
                    ConditionsJson = table.Column<string>(type: "TEXT", nullable: false),
                    DvaId = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_Pools", x => x.Id);
                    table.ForeignKey(
                        name: "FK_Pools_Dvas_DvaId",
                        column: x => x.DvaId,
                        principalTable: "Dvas",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "SharedInterfaces",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    Ifid = table.Column<int>(type: "INTEGER", nullable: false),
                    Name = table.Column<string>(type: "TEXT", maxLength: 63, nullable: false),
                    Mac = table.Column<string>(type: "TEXT", maxLength: 17, nullable: false),
                    Addresses = table.Column<string>(type: "TEXT", nullable: false),
                    AttachmentNodeName = table.Column<string>(type: "TEXT", nullable: false),
                    AttachmentFrameSource = table.Column<string>(type: "TEXT", nullable: false),
                    Version = table.Column<long>(type: "INTEGER", nullable: false),
                    Generation = table.Column<long>(type: "INTEGER", nullable: false),
                    ObservedGeneration = table.Column<long>(type: "INTEGER", nullable: false),
                    OperatingStatus = table.Column<string>(type: "TEXT", nullable: false),
                    ConditionsJson = table.Column<string>(type: "TEXT", nullable: false),
                    DvaId = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_SharedInterfaces", x => x.Id);
                    table.ForeignKey(
                        name: "FK_SharedInterfaces_Dvas_DvaId",
                        column: x => x.DvaId,
                        principalTable: "Dvas",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "StaticRoutes",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    Prefix = table.Column<string>(type: "TEXT", maxLength: 49, nullable: false),
                    NextHop = table.Column<string>(type: "TEXT", maxLength: 45, nullable: false),
                    Ifid = table.Column<int>(type: "INTEGER", nullable: false),
                    Version = table.Column<long>(type: "INTEGER", nullable: false),
                    Generation = table.Column<long>(type: "INTEGER", nullable: false),
                    ObservedGeneration = table.Column<long>(type: "INTEGER", nullable: false),
                    OperatingStatus = table.Column<string>(type: "TEXT", nullable: false),
                    ConditionsJson = table.Column<string>(type: "TEXT", nullable: false),
                    DvaId = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_StaticRoutes", x => x.Id);
                    table.ForeignKey(
                        name: "FK_StaticRoutes_Dvas_DvaId",
                        column: x => x.DvaId,
                        principalTable: "Dvas",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "TableVersions",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    DvaId = table.Column<long>(type: "INTEGER", nullable: false),
                    TableVersion = table.Column<long>(type: "INTEGER", nullable: false),
                    Era = table.Column<int>(type: "INTEGER", nullable: false),
                    Cause = table.Column<string>(type: "TEXT", maxLength: 256, nullable: false),
                    Actor = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    Created = table.Column<long>(type: "INTEGER", nullable: false),
                    RolledOut = table.Column<long>(type: "INTEGER", nullable: true),
                    Snapshot = table.Column<byte[]>(type: "BLOB", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_TableVersions", x => x.Id);
                    table.ForeignKey(
                        name: "FK_TableVersions_Dvas_DvaId",
                        column: x => x.DvaId,
                        principalTable: "Dvas",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "Members",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    PoolId = table.Column<long>(type: "INTEGER", nullable: false),
                    Address = table.Column<string>(type: "TEXT", maxLength: 45, nullable: false),
                    Port = table.Column<int>(type: "INTEGER", nullable: false),
                    Weight = table.Column<int>(type: "INTEGER", nullable: false),
                    AdminState = table.Column<string>(type: "TEXT", nullable: false),
                    Health = table.Column<string>(type: "TEXT", nullable: false),
                    Version = table.Column<long>(type: "INTEGER", nullable: false),
                    Generation = table.Column<long>(type: "INTEGER", nullable: false),
                    ObservedGeneration = table.Column<long>(type: "INTEGER", nullable: false),
                    OperatingStatus = table.Column<string>(type: "TEXT", nullable: false),
                    ConditionsJson = table.Column<string>(type: "TEXT", nullable: false),
                    DvaId = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_Members", x => x.Id);
                    table.ForeignKey(
                        name: "FK_Members_Pools_PoolId",
                        column: x => x.PoolId,
                        principalTable: "Pools",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "Vips",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    Name = table.Column<string>(type: "TEXT", maxLength: 63, nullable: false),
                    Address = table.Column<string>(type: "TEXT", maxLength: 45, nullable: false),
                    Port = table.Column<int>(type: "INTEGER", nullable: false),
                    Protocol = table.Column<string>(type: "TEXT", nullable: false),
                    PoolId = table.Column<long>(type: "INTEGER", nullable: false),
                    Version = table.Column<long>(type: "INTEGER", nullable: false),
                    Generation = table.Column<long>(type: "INTEGER", nullable: false),
                    ObservedGeneration = table.Column<long>(type: "INTEGER", nullable: false),
                    OperatingStatus = table.Column<string>(type: "TEXT", nullable: false),
                    ConditionsJson = table.Column<string>(type: "TEXT", nullable: false),
                    DvaId = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_Vips", x => x.Id);
                    table.ForeignKey(
                        name: "FK_Vips_Dvas_DvaId",
                        column: x => x.DvaId,
                        principalTable: "Dvas",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                    table.ForeignKey(
                        name: "FK_Vips_Pools_PoolId",
                        column: x => x.PoolId,
                        principalTable: "Pools",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Restrict);
                });

            migrationBuilder.CreateIndex(
                name: "IX_ApiKeys_KeyId",
                table: "ApiKeys",
                column: "KeyId",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_AuditEntries_DvaId_Id",
                table: "AuditEntries",
                columns: new[] { "DvaId", "Id" });

            migrationBuilder.CreateIndex(
                name: "IX_Dvas_Name",
                table: "Dvas",
                column: "Name",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_FirewallRules_DvaId_Priority",
                table: "FirewallRules",
                columns: new[] { "DvaId", "Priority" });

            migrationBuilder.CreateIndex(
                name: "IX_Members_DvaId",
                table: "Members",
                column: "DvaId");

            migrationBuilder.CreateIndex(
                name: "IX_Members_PoolId_Address_Port",
                table: "Members",
                columns: new[] { "PoolId", "Address", "Port" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_Nodes_DvaId_NodeId",
                table: "Nodes",
                columns: new[] { "DvaId", "NodeId" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_Nodes_Name",
                table: "Nodes",
                column: "Name",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_Pools_DvaId_Name",
                table: "Pools",
                columns: new[] { "DvaId", "Name" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_SharedInterfaces_DvaId_Ifid",
                table: "SharedInterfaces",
                columns: new[] { "DvaId", "Ifid" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_SharedInterfaces_DvaId_Name",
                table: "SharedInterfaces",
                columns: new[] { "DvaId", "Name" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_StaticRoutes_DvaId_Prefix",
                table: "StaticRoutes",
                columns: new[] { "DvaId", "Prefix" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_TableVersions_DvaId_TableVersion",
                table: "TableVersions",
                columns: new[] { "DvaId", "TableVersion" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_Vips_DvaId_Address_Port_Protocol",
                table: "Vips",
                columns: new[] { "DvaId", "Address", "Port", "Protocol" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_Vips_DvaId_Name",
                table: "Vips",
                columns: new[] { "DvaId", "Name" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_Vips_PoolId",
                table: "Vips",
                column: "PoolId");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "ApiKeys");

            migrationBuilder.DropTable(
                name: "AuditEntries");

            migrationBuilder.DropTable(
                name: "FirewallRules");

            migrationBuilder.DropTable(
                name: "Members");

            migrationBuilder.DropTable(
                name: "Nodes");

            migrationBuilder.DropTable(
                name: "SharedInterfaces");

            migrationBuilder.DropTable(
                name: "StaticRoutes");

            migrationBuilder.DropTable(
                name: "TableVersions");

            migrationBuilder.DropTable(
                name: "Vips");

            migrationBuilder.DropTable(
                name: "Pools");

            migrationBuilder.DropTable(
                name: "Dvas");
        }
    }
}
