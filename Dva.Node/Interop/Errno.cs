using System.Runtime.InteropServices;

namespace Dva.Node.Interop;

/// <summary>Linux errno values the node agent reacts to by name (x86-64 / arm64 generic numbering).</summary>
internal enum Errno
{
    None = 0,
    EPERM = 1,
    ENOENT = 2,
    EINTR = 4,
    EIO = 5,
    ENXIO = 6,
    EBADF = 9,
    EAGAIN = 11,
    ENOMEM = 12,
    EACCES = 13,
    EFAULT = 14,
    EBUSY = 16,
    EEXIST = 17,
    ENODEV = 19,
    EINVAL = 22,
    EMFILE = 24,
    EMSGSIZE = 90,
    EPROTONOSUPPORT = 93,
    EOPNOTSUPP = 95,
    EAFNOSUPPORT = 97,
    EADDRINUSE = 98,
    EADDRNOTAVAIL = 99,
    ENETDOWN = 100,
    ENETUNREACH = 101,
    ENOBUFS = 105,
    ECONNREFUSED = 111,
    EHOSTUNREACH = 113,
}

/// <summary>
/// A failed system call, raised only on the setup path (open, bind, ioctl). The per-packet path never
/// throws: it reads <see cref="Errno"/> from <see cref="Libc.LastErrno"/> and counts a named drop.
/// </summary>
internal sealed class InteropException : IOException
{
    public InteropException(string operation, Errno errno)
        : base(Describe(operation, errno))
    {
        Operation = operation;
        Errno = errno;
    }

    public InteropException(string message)
        : base(message)
    {
        Operation = string.Empty;
    }

    public InteropException()
        : this("system call failed")
    {
    }

    public InteropException(string message, Exception innerException)
        : base(message, innerException)
    {
        Operation = string.Empty;
    }

    /// <summary>The call and its subject, e.g. <c>bind(udp 127.0.0.1:6090)</c>.</summary>
    public string Operation { get; }

    public Errno Errno { get; }

    /// <summary>Throws for the errno of the last P/Invoke; for setup code only.</summary>
    public static InteropException FromLastError(string operation) => new(operation, Libc.LastErrno);

    private static string Describe(string operation, Errno errno)
    {
        var text = Marshal.GetPInvokeErrorMessage((int)errno);
        var hint = errno switch
        {
            Errno.EPERM or Errno.EACCES => " (needs root or CAP_NET_ADMIN/CAP_NET_RAW)",
            Errno.ENODEV => " (no such network interface)",
            Errno.EADDRINUSE => " (another socket is bound to this address and port)",
            Errno.EADDRNOTAVAIL => " (the address is not assigned to a local interface)",
            _ => string.Empty,
        };
        var name = Enum.IsDefined(errno) ? errno.ToString() : "errno " + ((int)errno).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return $"{operation} failed: {name}: {text}{hint}";
    }
}
