namespace Dva.Manager.Model;

internal sealed class SharedInterface : DvaChildEntity<SharedInterfaceSpec>
{
    public int Ifid { get; set; }

    public string Name { get; set; } = "";

    public string Mac { get; set; } = "";

    public List<string> Addresses { get; set; } = [];

    public string AttachmentNodeName { get; set; } = "";

    public string AttachmentFrameSource { get; set; } = "";

    public override SharedInterfaceSpec ToSpec() => new()
    {
        Ifid = Ifid,
        Name = Name,
        Mac = Mac,
        Addresses = [.. Addresses],
        Attachment = new InterfaceAttachment { NodeName = AttachmentNodeName, FrameSource = AttachmentFrameSource },
    };

    public override void Apply(SharedInterfaceSpec spec)
    {
        Ifid = spec.Ifid;
        Name = spec.Name;
        Mac = spec.Mac.ToLowerInvariant();
        Addresses = [.. spec.Addresses];
        AttachmentNodeName = spec.Attachment.NodeName;
        AttachmentFrameSource = spec.Attachment.FrameSource;
    }
}
