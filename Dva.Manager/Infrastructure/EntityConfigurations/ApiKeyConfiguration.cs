using Dva.Manager.Model;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Dva.Manager.Infrastructure.EntityConfigurations;

internal sealed class ApiKeyConfiguration : IEntityTypeConfiguration<ApiKey>
{
    public void Configure(EntityTypeBuilder<ApiKey> builder)
    {
        builder.ToTable("ApiKeys");
        builder.HasKey(e => e.Id);
        builder.HasIndex(e => e.KeyId).IsUnique();
        builder.Property(e => e.KeyId).HasMaxLength(16);
        builder.Property(e => e.Name).HasMaxLength(63);
        builder.Property(e => e.SecretHash).HasMaxLength(32);
    }
}
