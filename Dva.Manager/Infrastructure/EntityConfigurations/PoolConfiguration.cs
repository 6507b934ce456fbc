using Dva.Manager.Model;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Dva.Manager.Infrastructure.EntityConfigurations;

internal sealed class PoolConfiguration : IEntityTypeConfiguration<Pool>
{
    public void Configure(EntityTypeBuilder<Pool> builder)
    {
        builder.ToTable("Pools");
        builder.ConfigureManaged();
        builder.HasOne<Appliance>().WithMany().HasForeignKey(e => e.DvaId).OnDelete(DeleteBehavior.Cascade);
        builder.HasIndex(e => new { e.DvaId, e.Name }).IsUnique();
        builder.Property(e => e.Name).HasMaxLength(63);
        builder.HasMany(e => e.Members).WithOne().HasForeignKey(m => m.PoolId).OnDelete(DeleteBehavior.Cascade);
    }
}
