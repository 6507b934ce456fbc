using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Dva.Manager.Infrastructure.Migrations
{
    /// <inheritdoc />
    public partial class InterfaceTrunks : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "SharedInterfaceTrunks",
                columns: table => new
                {
                    InterfaceId = table.Column<long>(type: "INTEGER", nullable: false),
                    Vlans = table.Column<string>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_SharedInterfaceTrunks", x => x.InterfaceId);
                    table.ForeignKey(
                        name: "FK_SharedInterfaceTrunks_SharedInterfaces_InterfaceId",
                        column: x => x.InterfaceId,
                        principalTable: "SharedInterfaces",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            // Every interface of the earlier schema gets its row: no VLANs, as its dispatcher ran.
            // OR IGNORE keeps db/migrations.sql safe to run again.
            migrationBuilder.Sql("INSERT OR IGNORE INTO \"SharedInterfaceTrunks\" (\"InterfaceId\", \"Vlans\") SELECT \"Id\", '[]' FROM \"SharedInterfaces\";");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "SharedInterfaceTrunks");
        }
    }
}
