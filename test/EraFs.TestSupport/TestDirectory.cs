namespace EraFs.TestSupport;

/// <summary>A fresh directory under /tmp for one test, removed (with anything mounted in it unmounted first) on dispose.</summary>
public sealed class TestDirectory : IDisposable
{
    public TestDirectory(string? name = null)
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"erafs-{name ?? "test"}-{Guid.NewGuid():N}"[..40]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public string Subdirectory(string name)
    {
        var p = File(name);
        Directory.CreateDirectory(p);
        return p;
    }

    /// <summary>Creates a sparse file of <paramref name="size"/> bytes.</summary>
    public string SparseFile(string name, long size)
    {
        var p = File(name);
        using var fs = new FileStream(p, FileMode.Create);
        fs.SetLength(size);
        return p;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A mount a failed test left behind; the host's /tmp cleaning takes it later.
        }
    }
}
