using Dva.Manager.Model;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Dva.Manager.Infrastructure.EntityConfigurations;

internal sealed class VipConfiguration : IEntityTypeConfiguration<Vip>
{
    public void Configure(EntityTypeBuilder<Vip> builder)
    {
        builder.ToTable("Vips");
        builder.ConfigureManaged();
        builder.HasOne<Appliance>().WithMany().HasForeignKey(e => e.DvaId).OnDelete(DeleteBehavior.Cascade);
        // A pool in use by a VIP cannot be deleted; the service reports that as a conflict first.
        builder.HasOne<Pool>().WithMany().HasForeignKey(e => e.PoolId).OnDelete(DeleteBehavior.Restrict);
        builder.HasIndex(e => new { e.DvaId, e.Address, e.Port, e.Protocol }).IsUnique();
        builder.HasIndex(e => new { e.DvaId, e.Name }).IsUnique();
        builder.Property(e => e.Name).HasMaxLength(63);
        builder.Property(e => e.Address).HasMaxLength(45);
    }
}
