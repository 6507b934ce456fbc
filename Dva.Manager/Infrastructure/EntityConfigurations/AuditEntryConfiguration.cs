using Dva.Manager.Model;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Dva.Manager.Infrastructure.EntityConfigurations;

internal sealed class AuditEntryConfiguration : IEntityTypeConfiguration<AuditEntry>
{
    public void Configure(EntityTypeBuilder<AuditEntry> builder)
    {
        builder.ToTable("AuditEntries");
        builder.HasKey(e => e.Id);
        // No foreign key to the DVA: the audit trail must outlive the objects it describes.
        builder.HasIndex(e => new { e.DvaId, e.Id });
        builder.Property(e => e.Actor).HasMaxLength(128);
        builder.Property(e => e.Operation).HasMaxLength(32);
        builder.Property(e => e.TargetType).HasMaxLength(32);
    }
}
