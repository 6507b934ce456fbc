using Dva.Manager.Model;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Dva.Manager.Infrastructure.EntityConfigurations;

internal sealed class TableVersionRecordConfiguration : IEntityTypeConfiguration<TableVersionRecord>
{
    public void Configure(EntityTypeBuilder<TableVersionRecord> builder)
    {
        builder.ToTable("TableVersions");
        builder.HasKey(e => e.Id);
        builder.HasOne<Appliance>().WithMany().HasForeignKey(e => e.DvaId).OnDelete(DeleteBehavior.Cascade);
        builder.HasIndex(e => new { e.DvaId, e.TableVersion }).IsUnique();
        builder.Property(e => e.Cause).HasMaxLength(256);
        builder.Property(e => e.Actor).HasMaxLength(128);
    }
}
