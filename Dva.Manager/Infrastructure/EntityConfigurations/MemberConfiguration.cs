using Dva.Manager.Model;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Dva.Manager.Infrastructure.EntityConfigurations;

internal sealed class MemberConfiguration : IEntityTypeConfiguration<Member>
{
    public void Configure(EntityTypeBuilder<Member> builder)
    {
        builder.ToTable("Members");
        builder.ConfigureManaged();
        // The DVA is reached through the pool; DvaId is denormalised for listing and audit only.
        builder.HasIndex(e => new { e.PoolId, e.Address, e.Port }).IsUnique();
        builder.HasIndex(e => e.DvaId);
        builder.Property(e => e.Address).HasMaxLength(45);
    }
}
