using System.Diagnostics.CodeAnalysis;

// "Shared" is a Visual Basic keyword; this assembly is consumed from C# only and the namespace follows the folder rule.
[assembly: SuppressMessage("Naming", "CA1716:Identifiers should not match keywords", Scope = "namespace", Target = "~N:Dva.Shared.Wire",
    Justification = "C#-only consumers; namespaces follow folders.")]
