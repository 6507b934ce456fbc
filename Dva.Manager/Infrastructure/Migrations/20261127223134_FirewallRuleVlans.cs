using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Dva.Manager.Infrastructure.Migrations
{
    /// <inheritdoc />
    public partial class FirewallRuleVlans : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "FirewallRuleVlans",
                columns: table => new
                {
                    RuleId = table.Column<long>(type: "INTEGER", nullable: false),
                    IngressVlan = table.Column<int>(type: "INTEGER", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_FirewallRuleVlans", x => x.RuleId);
                    table.ForeignKey(
                        name: "FK_FirewallRuleVlans_FirewallRules_RuleId",
                        column: x => x.RuleId,
                        principalTable: "FirewallRules",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            // Every rule has a row (a required owned entity): those from before match any VLAN.
            migrationBuilder.Sql("INSERT OR IGNORE INTO \"FirewallRuleVlans\" (\"RuleId\", \"IngressVlan\") SELECT \"Id\", NULL FROM \"FirewallRules\";");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "FirewallRuleVlans");
        }
    }
}
