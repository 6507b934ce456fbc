using Dva.Manager.Services;

namespace Dva.Manager.Tests.Services;

public sealed class NetworkSyntaxTests
{
    [Theory]
    [InlineData("192.0.2.1", true)]
    [InlineData("2001:db8::1", true)]
    [InlineData("::ffff:192.0.2.1", true)]
    [InlineData("10", false)]
    [InlineData("10.1", false)]
    [InlineData("192.0.2.256", false)]
    [InlineData("fe80::1%eth0", false)]
    [InlineData("", false)]
    public void TryParseAddress_Text_AcceptsOnlyFullAddresses(string text, bool expected) =>
        Assert.Equal(expected, NetworkSyntax.TryParseAddress(text, out _));

    [Theory]
    [InlineData("198.51.100.0/24", true)]
    [InlineData("0.0.0.0/0", true)]
    [InlineData("2001:db8::/32", true)]
    [InlineData("203.0.113.5", true)]
    [InlineData("198.51.100.1/24", false)]
    [InlineData("198.51.100.0/33", false)]
    [InlineData("10/8", false)]
    [InlineData("2001:db8::/129", false)]
    public void TryParsePrefix_Text_RejectsHostBitsAndBadLengths(string text, bool expected) =>
        Assert.Equal(expected, NetworkSyntax.TryParsePrefix(text, out _));

    [Theory]
    [InlineData("192.0.2.1/24", true)]
    [InlineData("2001:db8::1/64", true)]
    [InlineData("192.0.2.1", false)]
    [InlineData("192.0.2.1/", false)]
    [InlineData("192.0.2.1/-1", false)]
    [InlineData("192.0.2.1/+8", false)]
    public void TryParseInterfaceAddress_Text_NeedsAPrefixLength(string text, bool expected) =>
        Assert.Equal(expected, NetworkSyntax.TryParseInterfaceAddress(text, out _, out _));

    [Theory]
    [InlineData("02:00:5e:00:00:01", true)]
    [InlineData("02:00:5E:AB:CD:EF", true)]
    [InlineData("01:00:5e:00:00:01", false)]
    [InlineData("ff:ff:ff:ff:ff:ff", false)]
    [InlineData("00:00:00:00:00:00", false)]
    [InlineData("02:00:5e:00:00:1", false)]
    [InlineData("02.00.5e.00.00.01", false)]
    public void IsValidMac_Text_AcceptsUnicastColonNotation(string text, bool expected) =>
        Assert.Equal(expected, NetworkSyntax.IsValidMac(text));

    [Theory]
    [InlineData("", true)]
    [InlineData("443", true)]
    [InlineData("1024-65535", true)]
    [InlineData("80-80", true)]
    [InlineData("0", false)]
    [InlineData("65536", false)]
    [InlineData("90-80", false)]
    [InlineData("80-", false)]
    [InlineData("-80", false)]
    [InlineData("+80", false)]
    public void IsValidPortRange_Text_AcceptsPortOrAscendingRange(string text, bool expected) =>
        Assert.Equal(expected, NetworkSyntax.IsValidPortRange(text));
}
