using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Dva.Manager.Infrastructure.Migrations
{
    /// <inheritdoc />
    public partial class InterfaceHostConfigurations : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "SharedInterfaceHostConfigurations",
                columns: table => new
                {
                    InterfaceId = table.Column<long>(type: "INTEGER", nullable: false),
                    Dhcpv6 = table.Column<string>(type: "TEXT", maxLength: 8, nullable: false),
                    DnsServers = table.Column<string>(type: "TEXT", nullable: false),
                    DnsSearch = table.Column<string>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_SharedInterfaceHostConfigurations", x => x.InterfaceId);
                    table.ForeignKey(
                        name: "FK_SharedInterfaceHostConfigurations_SharedInterfaces_InterfaceId",
                        column: x => x.InterfaceId,
                        principalTable: "SharedInterfaces",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            // Every interface has a row (a required owned entity): those from before get none and no DNS.
            migrationBuilder.Sql("INSERT OR IGNORE INTO \"SharedInterfaceHostConfigurations\" (\"InterfaceId\", \"Dhcpv6\", \"DnsServers\", \"DnsSearch\") SELECT \"Id\", 'none', '[]', '[]' FROM \"SharedInterfaces\";");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "SharedInterfaceHostConfigurations");
        }
    }
}
