using System.Text.Json;
using Dva.Manager.Model;
using Dva.Shared.Security;
using Microsoft.AspNetCore.DataProtection;

namespace Dva.Manager.Security.Keys;

/// <summary>One key of a DVA's tunnel as the manager keeps it (inside <see cref="TunnelKeyState"/>, encrypted at rest).</summary>
internal sealed record StoredTunnelKey(uint Id, string Cipher, byte[] Material)
{
    /// <summary>Id and cipher only.</summary>
    public override string ToString() => $"key {Id:x8} ({Cipher})";
}

/// <summary>
/// A DVA's tunnel keys by phase and the phase its units send with. Stored in <see cref="ApplianceTunnel.ProtectedKeys"/>
/// as JSON protected by ASP.NET Data Protection, so a copy of the database alone does not reveal the keys.
/// </summary>
internal sealed record TunnelKeyState(int SendPhase, StoredTunnelKey? Phase0, StoredTunnelKey? Phase1)
{
    private const string Purpose = "Dva.Manager.TunnelKeys.v1";

    public StoredTunnelKey? KeyOf(int phase) => phase == 0 ? Phase0 : Phase1;

    public TunnelKeyState With(int phase, StoredTunnelKey? key) => phase == 0 ? this with { Phase0 = key } : this with { Phase1 = key };

    /// <summary>A first key (phase 0, sent with) from the system CSPRNG.</summary>
    public static TunnelKeyState First(TunnelCipher cipher) => new(0, NewKey(cipher), null);

    /// <summary>A new key from the system CSPRNG (<see cref="TunnelKey.Generate"/>).</summary>
    public static StoredTunnelKey NewKey(TunnelCipher cipher)
    {
        var algorithm = cipher == TunnelCipher.ChaCha20 ? AeadAlgorithm.ChaCha20Poly1305 : AeadAlgorithm.Aes256Gcm;
        var key = TunnelKey.Generate(algorithm);
        return new StoredTunnelKey(key.Id, TunnelSecurityNames.Name(algorithm), key.Material.ToArray());
    }

    public string Protect(IDataProtectionProvider protection) =>
        protection.CreateProtector(Purpose).Protect(JsonSerializer.Serialize(this));

    public static TunnelKeyState? Unprotect(IDataProtectionProvider protection, string? stored) =>
        stored is null ? null : JsonSerializer.Deserialize<TunnelKeyState>(protection.CreateProtector(Purpose).Unprotect(stored));
}
