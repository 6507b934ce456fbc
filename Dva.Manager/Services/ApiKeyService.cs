using System.Security.Cryptography;
using System.Text;
using Dva.Manager.Infrastructure;
using Dva.Manager.Model;
using Microsoft.EntityFrameworkCore;

namespace Dva.Manager.Services;

/// <summary>
/// API keys: "dva_{keyId}_{secret}" where secret is 32 random bytes in base64url. Only SHA-256 of the
/// whole key is stored; a presented key is found by its key id and compared in constant time.
/// </summary>
internal sealed class ApiKeyService(ManagerDbContext db, AuditLog audit, TimeProvider time)
{
    /// <summary>Key id of the admin key taken from configuration (Dva:AdminKey), which may have any form.</summary>
    public const string ConfiguredKeyId = "configured";

    private const string Prefix = "dva_";
    private const int KeyIdBytes = 6;
    private const int SecretBytes = 32;
    private const int MinConfiguredKeyLength = 32;

    public async Task<IReadOnlyList<ApiKeyView>> ListAsync(CancellationToken ct) =>
        (await db.ApiKeys.AsNoTracking().OrderBy(k => k.Id).ToListAsync(ct)).Select(k => k.ToView()).ToList();

    public async Task<ServiceResult<CreatedApiKey>> CreateAsync(ApiKeySpec spec, CancellationToken ct)
    {
        var errors = new ValidationErrors();
        errors.RequireName(spec.Name, "name");
        errors.Require(Enum.IsDefined(spec.Role), "role", "Must be viewer, operator or admin.");
        if (await db.ApiKeys.AnyAsync(k => k.Name == spec.Name, ct))
        {
            errors.Add("name", $"A key named '{spec.Name}' already exists.");
        }

        if (!errors.IsValid)
        {
            return ServiceFailure.Invalid(errors);
        }

        var (entity, secret) = NewKey(spec.Name, spec.Role);
        db.ApiKeys.Add(entity);
        await audit.SaveAsync("create", "apiKey", null, null, () => entity.Id, entity.ToView, ct);
        return new CreatedApiKey(entity.ToView(), secret);
    }

    public async Task<ServiceResult<bool>> DeleteAsync(long id, CancellationToken ct)
    {
        var key = await db.ApiKeys.FindAsync([id], ct);
        if (key is null)
        {
            return ServiceFailure.NotFound("API key", id);
        }

        if (key.Role == ApiRole.Admin && await db.ApiKeys.CountAsync(k => k.Role == ApiRole.Admin, ct) == 1)
        {
            return ServiceFailure.Conflict("This is the last admin key; create another admin key first.");
        }

        var before = key.ToView();
        db.ApiKeys.Remove(key);
        await audit.SaveAsync("delete", "apiKey", null, before, () => id, () => null, ct);
        return true;
    }

    /// <summary>The key record matching <paramref name="presented"/>, or null.</summary>
    public async Task<ApiKey?> AuthenticateAsync(string presented, CancellationToken ct)
    {
        var keyId = KeyIdOf(presented);
        var key = await db.ApiKeys.AsNoTracking().FirstOrDefaultAsync(k => k.KeyId == keyId, ct);
        var hash = Hash(presented);
        // Compare even when no key was found, so a missing key id costs the same time as a wrong secret.
        var match = CryptographicOperations.FixedTimeEquals(hash, key?.SecretHash ?? new byte[hash.Length]);
        return match ? key : null;
    }

    /// <summary>
    /// At start: installs the configured admin key, or on a database without keys creates one and
    /// returns its secret (to be printed once). Returns null when nothing new must be shown.
    /// </summary>
    public async Task<string?> EnsureAdminKeyAsync(string? configuredKey, CancellationToken ct)
    {
        if (!string.IsNullOrEmpty(configuredKey))
        {
            if (configuredKey.Length < MinConfiguredKeyLength)
            {
                throw new InvalidOperationException($"Dva:AdminKey must be at least {MinConfiguredKeyLength} characters long.");
            }

            var existing = await db.ApiKeys.FirstOrDefaultAsync(k => k.KeyId == ConfiguredKeyId, ct);
            if (existing is null)
            {
                db.ApiKeys.Add(new ApiKey
                {
                    KeyId = ConfiguredKeyId, Name = "admin (configured)", Role = ApiRole.Admin,
                    SecretHash = Hash(configuredKey), Created = time.GetUtcNow(),
                });
            }
            else
            {
                existing.SecretHash = Hash(configuredKey);
                existing.Role = ApiRole.Admin;
            }

            await db.SaveChangesAsync(ct);
            return null;
        }

        if (await db.ApiKeys.AnyAsync(ct))
        {
            return null;
        }

        var (entity, secret) = NewKey("admin", ApiRole.Admin);
        db.ApiKeys.Add(entity);
        await db.SaveChangesAsync(ct);
        return secret;
    }

    private (ApiKey Entity, string Secret) NewKey(string name, ApiRole role)
    {
        var keyId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(KeyIdBytes));
        var secret = $"{Prefix}{keyId}_{Base64UrlEncode(RandomNumberGenerator.GetBytes(SecretBytes))}";
        var entity = new ApiKey { KeyId = keyId, Name = name, Role = role, SecretHash = Hash(secret), Created = time.GetUtcNow() };
        return (entity, secret);
    }

    private static string KeyIdOf(string presented)
    {
        if (presented.StartsWith(Prefix, StringComparison.Ordinal))
        {
            var end = presented.IndexOf('_', Prefix.Length);
            if (end == Prefix.Length + (KeyIdBytes * 2))
            {
                return presented[Prefix.Length..end];
            }
        }

        return ConfiguredKeyId;
    }

    private static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    private static string Base64UrlEncode(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
