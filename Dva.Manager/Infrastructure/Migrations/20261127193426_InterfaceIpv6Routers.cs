using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Dva.Manager.Infrastructure.Migrations
{
    /// <inheritdoc />
    public partial class InterfaceIpv6Routers : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "SharedInterfaceIpv6Routers",
                columns: table => new
                {
                    InterfaceId = table.Column<long>(type: "INTEGER", nullable: false),
                    RouterAdvertisements = table.Column<bool>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_SharedInterfaceIpv6Routers", x => x.InterfaceId);
                    table.ForeignKey(
                        name: "FK_SharedInterfaceIpv6Routers_SharedInterfaces_InterfaceId",
                        column: x => x.InterfaceId,
                        principalTable: "SharedInterfaces",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            // Every interface of the earlier schema gets its row: no advertisements, as its dispatcher ran.
            // OR IGNORE keeps db/migrations.sql safe to run again.
            migrationBuilder.Sql("INSERT OR IGNORE INTO \"SharedInterfaceIpv6Routers\" (\"InterfaceId\", \"RouterAdvertisements\") SELECT \"Id\", 0 FROM \"SharedInterfaces\";");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "SharedInterfaceIpv6Routers");
        }
    }
}
