using System.Net;
using Dva.Shared.Packets;

namespace Dva.Shared.Tests.Packets;

public class IpAddrTests
{
    [Theory]
    [InlineData("192.0.2.1")]
    [InlineData("2001:db8::1")]
    [InlineData("::ffff:192.0.2.1")]
    public void From_RoundTripsThroughIPAddress(string text)
    {
        IpAddr address = IpAddr.From(IPAddress.Parse(text));

        Assert.Equal(IPAddress.Parse(text), address.ToIPAddress());
        Assert.Equal(IPAddress.Parse(text).ToString(), address.ToString());
    }

    [Fact]
    public void CompareTo_OrdersLikeNetworkBytes()
    {
        IpAddr low = IpAddr.From(IPAddress.Parse("192.0.2.9"));
        IpAddr high = IpAddr.From(IPAddress.Parse("192.0.10.1"));
        IpAddr low6 = IpAddr.From(IPAddress.Parse("2001:db8::ffff"));
        IpAddr high6 = IpAddr.From(IPAddress.Parse("2001:db8:0:1::"));

        Assert.True(low < high);
        Assert.True(low6 < high6);
        Assert.Equal(0xC0000209u, low.V4);
        Assert.Equal(0u, low6.V4);
    }

    [Fact]
    public void Equals_SameBitsDifferentFamily_AreDifferent()
    {
        Assert.NotEqual(IpAddr.FromV4(1), IpAddr.FromV6(1));
        Assert.Equal(IpAddr.FromV6(1), IpAddr.From(IPAddress.Parse("::1")));
    }

    [Fact]
    public void WriteTo_ShortBuffer_WritesNothing()
    {
        Span<byte> buffer = stackalloc byte[8];

        Assert.Equal(0, IpAddr.FromV6(1).WriteTo(buffer));
        Assert.Equal(4, IpAddr.FromV4(0xC0000201).WriteTo(buffer));
        Assert.Equal(new byte[] { 192, 0, 2, 1 }, buffer[..4].ToArray());
    }
}
