using Microsoft.AspNetCore.Http.Features;

namespace Dva.Manager.Infrastructure;

internal sealed class RequestLimitOptions
{
    /// <summary>Largest accepted request body. A full 10 000-rule firewall list is about 3 MiB of JSON.</summary>
    public long MaxRequestBodyBytes { get; set; } = 4 * 1024 * 1024;
}

internal static class RequestLimits
{
    /// <summary>
    /// Rejects declared-too-large bodies before any handler reads them (413 problem+json) and caps
    /// streamed bodies where the server supports it (Kestrel; a chunked body over the cap then fails as a bad request).
    /// </summary>
    public static IApplicationBuilder UseRequestBodyLimit(this IApplicationBuilder app, long maxBytes) =>
        app.Use(async (context, next) =>
        {
            if (context.Request.ContentLength > maxBytes)
            {
                throw new BadHttpRequestException($"The request body is larger than {maxBytes} bytes.", StatusCodes.Status413PayloadTooLarge);
            }

            if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature)
            {
                feature.MaxRequestBodySize = maxBytes;
            }

            await next(context);
        });
}
