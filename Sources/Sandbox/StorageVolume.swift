import CSandbox
import GloveboxSystem
#if canImport(Glibc)
import Glibc
#endif

/// The only writable space of a run: a size-capped filesystem holding the workspace's upper layer,
/// the overlay's work directory and the run's /tmp. Writes past the cap fail with ENOSPC here, never on
/// the host's disk. Mounted in the daemon's private mount namespace, so the host never sees it, and
/// it disappears with the daemon whatever happens.
public final class StorageVolume: @unchecked Sendable {
    // Mutable state (`mounted`) is touched only by the thread that owns the run.
    public let path: String
    public let capacityBytes: UInt64
    private var mounted = false

    public var upper: String { path + "/upper" }
    public var overlayWork: String { path + "/work" }
    public var tmp: String { path + "/tmp" }

    /// tmpfs with size= and nr_inodes= caps. Pages are charged to the writer's memory cgroup, so a run
    /// cannot use its storage to escape its memory limit.
    public init(path: String, capacityBytes: UInt64, owner: uid_t, group: gid_t) throws {
        self.path = path
        self.capacityBytes = capacityBytes
        try FileIO.mkdir(path, mode: 0o700, existOK: false)
        let inodes = max(1024, min(1_048_576, capacityBytes / 4096))
        do {
            try syscallValue("mount the storage volume at", path) { gb_mount_tmpfs(path, "size=\(capacityBytes),nr_inodes=\(inodes),mode=0755") }
            mounted = true
            try FileIO.mkdir(upper, mode: 0o755)
            try syscallValue("chown", upper) { chown(upper, owner, group) }
            try FileIO.mkdir(overlayWork, mode: 0o700)
            try FileIO.mkdir(tmp, mode: 0o1777)
            try syscallValue("chmod", tmp) { chmod(tmp, 0o1777) }
        } catch {
            remove()
            throw error
        }
    }

    /// True when the volume has no free space or inodes left (the run hit its storage cap).
    public var isFull: Bool {
        var s = statvfs()
        guard statvfs(path, &s) == 0 else { return false }
        let freeBytes = UInt64(s.f_bavail) * UInt64(s.f_frsize)
        return freeBytes < 64 * 1024 || s.f_favail == 0
    }

    public func remove() {
        if mounted {
            _ = gb_umount(path)
            mounted = false
        }
        _ = rmdir(path)
    }
}
