import CSandbox
import GloveboxSystem
#if canImport(Glibc)
import Glibc
#endif

/// A run's /dev/shm: a tmpfs of its own (nosuid, nodev, noexec) of the policy's size (Limits.shm, half the
/// memory limit by default; Docker's fixed 64 MiB is what breaks PyTorch's DataLoader). Its pages are
/// charged to the run's memory cgroup, as the run writes them. Mounted by the daemon, like the storage
/// volume, so that it can tell afterwards whether it was full.
public final class SharedMemoryVolume: @unchecked Sendable {
    // `mounted` is touched only by the thread that owns the run.
    public let path: String
    public let capacityBytes: UInt64
    private var mounted = false

    public init(path: String, capacityBytes: UInt64) throws {
        self.path = path
        self.capacityBytes = capacityBytes
        try FileIO.mkdir(path, mode: 0o700, existOK: false)
        do {
            try syscallValue("mount the run's /dev/shm at", path) { gb_mount_tmpfs_noexec(path, "size=\(capacityBytes),mode=1777") }
            mounted = true
        } catch {
            _ = rmdir(path)
            throw error
        }
    }

    /// Whether it was full, or nearly (a page short of what was asked last fails): read at the run's end.
    /// A program that frees its segments before it exits leaves no trace here.
    public var isFull: Bool {
        var s = statvfs()
        guard statvfs(path, &s) == 0 else { return false }
        return UInt64(s.f_bavail) * UInt64(s.f_frsize) < max(1 << 20, capacityBytes / 100)
    }

    public func remove() {
        if mounted, umount(path) != 0 { _ = gb_umount(path) }
        mounted = false
        _ = rmdir(path)
    }
}
