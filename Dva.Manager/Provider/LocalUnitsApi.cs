using Dva.Manager.Apis;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Dva.Manager.Provider;

/// <summary>
/// <c>/api/v1/local-units</c>: the units this manager runs on its own machine. POST adds one ("add local unit");
/// it registers through the node hub and joins the pool the fleet reconciler allocates from.
/// </summary>
internal static class LocalUnitsApi
{
    public const int MaxFrameSources = 16;

    public static IEndpointRouteBuilder MapLocalUnitsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapApiGroup("/local-units", "Local units");
        group.MapGet("/", List);
        // Not marked RunAgainOnLostRace: it starts a process; run again, it would start another.
        group.MapPost("/", Start);
        return app;
    }

    public static Ok<IReadOnlyList<LocalUnitView>> List(LocalComputeUnitProvider provider) => TypedResults.Ok(provider.Units);

    public static async Task<Results<Created<LocalUnitView>, ValidationProblem, ProblemHttpResult>> Start(
        LocalUnitRequest? body, LocalComputeUnitProvider provider, CancellationToken ct)
    {
        body ??= new LocalUnitRequest();
        var errors = new Dictionary<string, string[]>();
        if (body.Name is { } name && (name.Length is 0 or > 63 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
        {
            errors["name"] = ["1..63 letters, digits, '-', '_' or '.'."];
        }

        if (body.FrameSources is { Count: > MaxFrameSources })
        {
            errors["frameSources"] = [$"At most {MaxFrameSources}."];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        try
        {
            var unit = await provider.StartUnitAsync(body, ct);
            return TypedResults.Created($"{ApiGroups.Prefix}/local-units", unit);
        }
        catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException or System.ComponentModel.Win32Exception)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Cannot start a local unit", detail: e.Message);
        }
    }
}
