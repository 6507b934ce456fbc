namespace Dva.Manager.Hubs;

internal static partial class HubLog
{
    [LoggerMessage(EventId = 4001, Level = LogLevel.Warning, Message = "A heartbeat subscriber failed")]
    public static partial void SubscriberFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Information, Message = "Node {Name} registered as node key {NodeKey}")]
    public static partial void Registered(ILogger logger, string name, long nodeKey);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Warning, Message = "Node hub refused {Remote}: {Reason}")]
    public static partial void Refused(ILogger logger, string remote, string reason);
}
