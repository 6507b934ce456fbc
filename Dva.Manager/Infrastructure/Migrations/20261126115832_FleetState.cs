using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Dva.Manager.Infrastructure.Migrations
{
    /// <inheritdoc />
    public partial class FleetState : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "FleetMarks",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    DvaId = table.Column<long>(type: "INTEGER", nullable: false),
                    NodeKey = table.Column<long>(type: "INTEGER", nullable: true),
                    Kind = table.Column<string>(type: "TEXT", nullable: false),
                    Since = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_FleetMarks", x => x.Id);
                    table.ForeignKey(
                        name: "FK_FleetMarks_Dvas_DvaId",
                        column: x => x.DvaId,
                        principalTable: "Dvas",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                    table.ForeignKey(
                        name: "FK_FleetMarks_Nodes_NodeKey",
                        column: x => x.NodeKey,
                        principalTable: "Nodes",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_FleetMarks_DvaId_Kind_NodeKey",
                table: "FleetMarks",
                columns: new[] { "DvaId", "Kind", "NodeKey" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_FleetMarks_NodeKey",
                table: "FleetMarks",
                column: "NodeKey");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "FleetMarks");
        }
    }
}
