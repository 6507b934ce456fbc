using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Dva.Manager.Infrastructure.Migrations
{
    /// <inheritdoc />
    public partial class DispatcherEngines : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "DvaDispatchers",
                columns: table => new
                {
                    DvaId = table.Column<long>(type: "INTEGER", nullable: false),
                    Engines = table.Column<int>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_DvaDispatchers", x => x.DvaId);
                    table.ForeignKey(
                        name: "FK_DvaDispatchers_Dvas_DvaId",
                        column: x => x.DvaId,
                        principalTable: "Dvas",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            // Every DVA of the earlier schema gets its row: one engine, as its dispatchers ran.
            // OR IGNORE keeps db/migrations.sql safe to run again.
            migrationBuilder.Sql("INSERT OR IGNORE INTO \"DvaDispatchers\" (\"DvaId\", \"Engines\") SELECT \"Id\", 1 FROM \"Dvas\";");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "DvaDispatchers");
        }
    }
}
