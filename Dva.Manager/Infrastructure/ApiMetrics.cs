namespace Dva.Manager.Infrastructure;

/// <summary>Request counters by status class for /metrics; lock-free, one slot per class 1xx..5xx.</summary>
internal sealed class ApiMetrics
{
    private readonly long[] _byClass = new long[6];

    public void CountResponse(int statusCode)
    {
        var statusClass = statusCode / 100;
        if (statusClass is >= 1 and <= 5)
        {
            Interlocked.Increment(ref _byClass[statusClass]);
        }
    }

    public long Requests(int statusClass) => Interlocked.Read(ref _byClass[statusClass]);

    public static IApplicationBuilder UseApiRequestCounting(IApplicationBuilder app, ApiMetrics metrics) =>
        app.Use(async (context, next) =>
        {
            try
            {
                await next(context);
            }
            finally
            {
                if (context.Request.Path.StartsWithSegments("/api", StringComparison.Ordinal))
                {
                    metrics.CountResponse(context.Response.StatusCode);
                }
            }
        });
}
