using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Dva.Manager.Infrastructure.Migrations
{
    /// <inheritdoc />
    public partial class DvaShortcuts : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "DvaShortcuts",
                columns: table => new
                {
                    DvaId = table.Column<long>(type: "INTEGER", nullable: false),
                    Enabled = table.Column<bool>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_DvaShortcuts", x => x.DvaId);
                    table.ForeignKey(
                        name: "FK_DvaShortcuts_Dvas_DvaId",
                        column: x => x.DvaId,
                        principalTable: "Dvas",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            // Every DVA of the earlier schema gets its row: no kernel shortcut, as its units ran.
            // OR IGNORE keeps db/migrations.sql safe to run again.
            migrationBuilder.Sql("INSERT OR IGNORE INTO \"DvaShortcuts\" (\"DvaId\", \"Enabled\") SELECT \"Id\", 0 FROM \"Dvas\";");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "DvaShortcuts");
        }
    }
}
