using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Dva.Manager.Infrastructure.Migrations
{
    /// <inheritdoc />
    public partial class TunnelSecurity : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "DvaTunnels",
                columns: table => new
                {
                    DvaId = table.Column<long>(type: "INTEGER", nullable: false),
                    Security = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    Cipher = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    ProtectedKeys = table.Column<string>(type: "TEXT", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_DvaTunnels", x => x.DvaId);
                    table.ForeignKey(
                        name: "FK_DvaTunnels_Dvas_DvaId",
                        column: x => x.DvaId,
                        principalTable: "Dvas",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            // Every DVA of the first schema gets its row: plain, or authenticated when it asked for a secure tunnel.
            // OR IGNORE keeps db/migrations.sql safe to run again.
            migrationBuilder.Sql(
                "INSERT OR IGNORE INTO \"DvaTunnels\" (\"DvaId\", \"Security\", \"Cipher\") "
                + "SELECT \"Id\", CASE WHEN \"SecureTunnel\" <> 0 THEN 'Authenticated' ELSE 'Plain' END, 'AesGcm' FROM \"Dvas\";");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "DvaTunnels");
        }
    }
}
