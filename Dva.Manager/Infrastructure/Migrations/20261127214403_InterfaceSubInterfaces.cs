using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Dva.Manager.Infrastructure.Migrations
{
    /// <inheritdoc />
    public partial class InterfaceSubInterfaces : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "SharedInterfaceSubInterfaces",
                columns: table => new
                {
                    Vlan = table.Column<int>(type: "INTEGER", nullable: false),
                    InterfaceId = table.Column<long>(type: "INTEGER", nullable: false),
                    Addresses = table.Column<string>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_SharedInterfaceSubInterfaces", x => new { x.InterfaceId, x.Vlan });
                    table.ForeignKey(
                        name: "FK_SharedInterfaceSubInterfaces_SharedInterfaces_InterfaceId",
                        column: x => x.InterfaceId,
                        principalTable: "SharedInterfaces",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "SharedInterfaceSubInterfaces");
        }
    }
}
