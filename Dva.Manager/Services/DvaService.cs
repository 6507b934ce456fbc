using System.Numerics;
using System.Security.Cryptography;
using Dva.Manager.Infrastructure;
using Dva.Manager.Model;
using Microsoft.EntityFrameworkCore;

namespace Dva.Manager.Services;

internal sealed class DvaService(ManagerDbContext db, AuditLog audit)
{
    public const int MinBucketCount = 256;
    public const int MaxBucketCount = 65536;
    public const int MaxDataPlanesLimit = Node.MaxNodeId;

    /// <summary>The node's own limit on engines (docs/node.md "Engines").</summary>
    public const int MaxDataPlaneEngines = 64;

    public async Task<IReadOnlyList<DvaView>> ListAsync(CancellationToken ct) =>
        (await db.Dvas.AsNoTracking().OrderBy(d => d.Id).ToListAsync(ct)).Select(d => d.ToView()).ToList();

    public async Task<ServiceResult<DvaView>> GetAsync(long id, CancellationToken ct) =>
        await db.Dvas.AsNoTracking().FirstOrDefaultAsync(d => d.Id == id, ct) is { } dva
            ? dva.ToView()
            : ServiceFailure.NotFound("DVA", id);

    public async Task<ServiceResult<DvaView>> CreateAsync(DvaSpec spec, CancellationToken ct)
    {
        var errors = new ValidationErrors();
        await ValidateAsync(null, spec, errors, ct);
        if (!errors.IsValid)
        {
            return ServiceFailure.Invalid(errors);
        }

        var dva = new Appliance
        {
            Seed = BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(sizeof(ulong))),
            DesiredDataPlanes = spec.Scaling.MinDataPlanes,
        };
        dva.Apply(spec);
        db.Dvas.Add(dva);
        await audit.SaveAsync("create", AuditLog.DvaTargetType, null, null, () => dva.Id, dva.ToView, ct);
        return dva.ToView();
    }

    public async Task<ServiceResult<DvaView>> ReplaceAsync(long id, DvaSpec spec, long? ifMatch, CancellationToken ct)
    {
        var dva = await db.Dvas.FindAsync([id], ct);
        if (ServiceFailure.Refuses(dva, "DVA", id, ifMatch, out var failure))
        {
            return failure;
        }

        var errors = new ValidationErrors();
        await ValidateAsync(id, spec, errors, ct);
        if (!errors.IsValid)
        {
            return ServiceFailure.Invalid(errors);
        }

        var before = dva.ToView();
        dva.Apply(spec);
        dva.TouchSpec();
        await audit.SaveAsync("replace", AuditLog.DvaTargetType, id, before, () => id, dva.ToView, ct);
        return dva.ToView();
    }

    /// <summary>Deletes a DVA with all its configuration; its nodes go back to the unallocated pool.</summary>
    public async Task<ServiceResult<bool>> DeleteAsync(long id, long? ifMatch, CancellationToken ct)
    {
        var dva = await db.Dvas.FindAsync([id], ct);
        if (ServiceFailure.Refuses(dva, "DVA", id, ifMatch, out var failure))
        {
            return failure;
        }

        foreach (var node in await db.Nodes.Where(n => n.DvaId == id).ToListAsync(ct))
        {
            node.Unallocate();
        }

        var before = dva.ToView();
        db.Dvas.Remove(dva);
        await audit.SaveAsync("delete", AuditLog.DvaTargetType, id, before, () => id, () => null, ct);
        return true;
    }

    /// <summary>
    /// Records the number of data planes wanted. The elasticity controller (not yet written) brings nodes
    /// in or out to match; until then the DVA shows PENDING_UPDATE.
    /// </summary>
    public async Task<ServiceResult<ScaleView>> ScaleAsync(long id, ScaleRequest request, long? ifMatch, CancellationToken ct)
    {
        var dva = await db.Dvas.FindAsync([id], ct);
        if (ServiceFailure.Refuses(dva, "DVA", id, ifMatch, out var failure))
        {
            return failure;
        }

        if (request.DataPlanes < dva.MinDataPlanes || request.DataPlanes > dva.MaxDataPlanes)
        {
            var errors = new ValidationErrors();
            errors.Add("dataPlanes", $"Must be within the scaling policy, {dva.MinDataPlanes}..{dva.MaxDataPlanes}.");
            return ServiceFailure.Invalid(errors);
        }

        var before = ScaleViewOf(dva, await CurrentDataPlanesAsync(id, ct));
        if (dva.DesiredDataPlanes != request.DataPlanes)
        {
            dva.DesiredDataPlanes = request.DataPlanes;
            dva.TouchSpec();
        }

        await audit.SaveAsync("scale", AuditLog.DvaTargetType, id, before, () => id, () => ScaleViewOf(dva, before.CurrentDataPlanes), ct);
        return ScaleViewOf(dva, before.CurrentDataPlanes);
    }

    private Task<int> CurrentDataPlanesAsync(long id, CancellationToken ct) =>
        db.Nodes.CountAsync(n => n.DvaId == id && n.Role == NodeRole.DataPlane, ct);

    private static ScaleView ScaleViewOf(Appliance dva, int current) =>
        new(dva.Id, dva.DesiredDataPlanes, current, dva.ToSpec().Scaling, dva.GetStatus(), dva.Version);

    private async Task ValidateAsync(long? id, DvaSpec spec, ValidationErrors errors, CancellationToken ct)
    {
        errors.RequireName(spec.Name, "name");
        errors.Require(spec.Description.Length <= 1024, "description", "At most 1024 characters.");
        errors.Require(Enum.IsDefined(spec.ServiceKind), "serviceKind", "Must be firewall, loadBalancer or firewallAndLoadBalancer.");
        errors.Require(
            spec.BucketCount is >= MinBucketCount and <= MaxBucketCount && BitOperations.IsPow2(spec.BucketCount),
            "bucketCount", $"Must be a power of two from {MinBucketCount} to {MaxBucketCount}.");
        errors.Require(NetworkSyntax.IsValidPort(spec.TunnelPort), "tunnelPort", "Must be 1..65535.");
        errors.Require(Enum.IsDefined(spec.FirewallDefaultPolicy), "firewallDefaultPolicy", "Must be accept or drop.");
        errors.Require(Enum.IsDefined(spec.MidStreamPolicy), "midStreamPolicy", "Must be strict or loose.");
        errors.Require(Enum.IsDefined(spec.TunnelSecurity), "tunnelSecurity", "Must be plain, authenticated or encrypted.");
        errors.Require(Enum.IsDefined(spec.TunnelCipher), "tunnelCipher", "Must be aesGcm or chaCha20.");
        errors.Require(spec.DataPlaneEngines is >= 1 and <= MaxDataPlaneEngines, "dataPlaneEngines", $"Must be 1..{MaxDataPlaneEngines}.");
        errors.Require(
            spec.DataPlaneEngines <= 1 || spec.TunnelSecurity == TunnelSecurity.Plain,
            "dataPlaneEngines", "More than 1 engine needs tunnelSecurity plain: a secure tunnel keeps one replay window per sender, which engines cannot share.");
        errors.Require(spec.DispatcherEngines is >= 1 and <= MaxDataPlaneEngines, "dispatcherEngines", $"Must be 1..{MaxDataPlaneEngines}.");
        errors.Require(
            spec.DispatcherEngines <= 1 || spec.TunnelSecurity == TunnelSecurity.Plain,
            "dispatcherEngines", "More than 1 engine needs tunnelSecurity plain: a secure tunnel keeps one replay window per sender, which engines cannot share.");
        errors.Require(
            !spec.SuperFrames || spec.TunnelSecurity == TunnelSecurity.Plain,
            "superFrames", "Super-frames need tunnelSecurity plain: a sealed super-frame is not supported yet.");
        if (spec.SuperFrames && id is not null)
        {
            var sources = await db.Interfaces.Where(i => i.DvaId == id).Select(i => new { i.Ifid, i.AttachmentFrameSource }).ToListAsync(ct);
            foreach (var blocked in sources.Where(i => !Rollout.NodeConfigDocument.CarriesSuperFrames(i.AttachmentFrameSource)))
            {
                errors.Add("superFrames", $"Interface {blocked.Ifid} is attached through '{blocked.AttachmentFrameSource}', which cannot send super-frames (only afpacket:IF can, opened with ?gso=1); attach it through afpacket: first.");
            }
        }

        var scaling = spec.Scaling;
        if (scaling is null)
        {
            errors.Add("scaling", "Required.");
        }
        else
        {
            errors.Require(scaling.MinDataPlanes is >= 1 and <= MaxDataPlanesLimit, "scaling.minDataPlanes", $"Must be 1..{MaxDataPlanesLimit}.");
            errors.Require(scaling.MaxDataPlanes is >= 1 and <= MaxDataPlanesLimit, "scaling.maxDataPlanes", $"Must be 1..{MaxDataPlanesLimit}.");
            errors.Require(scaling.MaxDataPlanes >= scaling.MinDataPlanes, "scaling.maxDataPlanes", "Must not be less than minDataPlanes.");
            errors.Require(scaling.TargetUtilizationPercent is >= 1 and <= 100, "scaling.targetUtilizationPercent", "Must be 1..100.");
        }

        if (!string.IsNullOrWhiteSpace(spec.Name) && await db.Dvas.AnyAsync(d => d.Name == spec.Name && d.Id != id, ct))
        {
            errors.Add("name", $"A DVA named '{spec.Name}' already exists.");
        }
    }
}
