using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Dva.Manager.Infrastructure.Migrations
{
    /// <inheritdoc />
    public partial class SuperFrames : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "DvaOffloads",
                columns: table => new
                {
                    DvaId = table.Column<long>(type: "INTEGER", nullable: false),
                    SuperFrames = table.Column<bool>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_DvaOffloads", x => x.DvaId);
                    table.ForeignKey(
                        name: "FK_DvaOffloads_Dvas_DvaId",
                        column: x => x.DvaId,
                        principalTable: "Dvas",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            // Every DVA of the earlier schema gets its row: no super-frames, as its units ran.
            // OR IGNORE keeps db/migrations.sql safe to run again.
            migrationBuilder.Sql("INSERT OR IGNORE INTO \"DvaOffloads\" (\"DvaId\", \"SuperFrames\") SELECT \"Id\", 0 FROM \"Dvas\";");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "DvaOffloads");
        }
    }
}
