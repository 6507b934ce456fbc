namespace Dva.Manager.Model;

/// <summary>An API key. Only the SHA-256 of the secret is stored; the key itself is shown once.</summary>
internal sealed class ApiKey
{
    public long Id { get; set; }

    /// <summary>Public lookup part of the key ("dva_{KeyId}_{secret}").</summary>
    public string KeyId { get; set; } = "";

    public string Name { get; set; } = "";

    public ApiRole Role { get; set; }

    public byte[] SecretHash { get; set; } = [];

    public DateTimeOffset Created { get; set; }
}
