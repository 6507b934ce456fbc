using Dva.Manager.Model;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Dva.Manager.Infrastructure.EntityConfigurations;

internal sealed class FleetMarkConfiguration : IEntityTypeConfiguration<FleetMark>
{
    public void Configure(EntityTypeBuilder<FleetMark> builder)
    {
        // A table of its own rather than columns on Nodes / Dvas: SQLite cannot add columns idempotently, and
        // db/migrations.sql must stay safe to run on a database at any stage.
        builder.ToTable("FleetMarks");
        builder.HasKey(e => e.Id);
        builder.HasOne<Appliance>().WithMany().HasForeignKey(e => e.DvaId).OnDelete(DeleteBehavior.Cascade);
        builder.HasOne<Node>().WithMany().HasForeignKey(e => e.NodeKey).OnDelete(DeleteBehavior.Cascade);
        builder.HasIndex(e => new { e.DvaId, e.Kind, e.NodeKey }).IsUnique();
    }
}
