using System.Runtime.InteropServices;

namespace Dva.Manager.Provider;

/// <summary>Where <c>dva-node.dll</c> and the <c>dotnet</c> host that runs it are on this machine.</summary>
internal static class NodeExecutable
{
    public const string AssemblyName = "dva-node.dll";

    /// <summary>The node assembly, or null with <paramref name="searched"/> naming every place looked at.</summary>
    public static string? Find(string configured, out IReadOnlyList<string> searched)
    {
        var candidates = new List<string>();
        if (!string.IsNullOrWhiteSpace(configured))
        {
            candidates.Add(Path.GetFullPath(configured));
        }
        else
        {
            var baseDirectory = AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar);
            candidates.Add(Path.Combine(baseDirectory, AssemblyName));
            // From a checkout: .../Dva.Manager/bin/<Configuration>/<tfm>/ → .../Dva.Node/bin/<Configuration>/<tfm>/.
            var tfm = Path.GetFileName(baseDirectory);
            var configuration = Path.GetFileName(Path.GetDirectoryName(baseDirectory));
            for (var dir = Path.GetDirectoryName(baseDirectory); dir is not null; dir = Path.GetDirectoryName(dir))
            {
                if (File.Exists(Path.Combine(dir, "Dva.Node", "Dva.Node.csproj")) && configuration is not null)
                {
                    candidates.Add(Path.Combine(dir, "Dva.Node", "bin", configuration, tfm, AssemblyName));
                    break;
                }
            }
        }

        searched = candidates;
        return candidates.FirstOrDefault(File.Exists);
    }

    /// <summary>The <c>dotnet</c> host of the runtime this manager runs on (the manager may run from its apphost).</summary>
    public static string DotnetHost()
    {
        if (Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            return self;
        }

        // <root>/shared/Microsoft.NETCore.App/<version>/ → <root>/dotnet
        var runtime = RuntimeEnvironment.GetRuntimeDirectory().TrimEnd(Path.DirectorySeparatorChar);
        var root = Path.GetDirectoryName(Path.GetDirectoryName(Path.GetDirectoryName(runtime)));
        var host = root is null ? null : Path.Combine(root, OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet");
        return host is not null && File.Exists(host) ? host : "dotnet";
    }
}
