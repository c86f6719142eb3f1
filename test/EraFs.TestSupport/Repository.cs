using NUnit.Framework;

namespace EraFs.TestSupport;

/// <summary>The checkout the tests were built from, for tests that run its scripts or read its docs.</summary>
public static class Repository
{
    /// <summary>The directory holding EraFs.sln, found upward from the test binaries.</summary>
    public static string Root()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "EraFs.sln"))) return dir.FullName;
        throw new InvalidOperationException("EraFs.sln not found above the test directory");
    }
}
