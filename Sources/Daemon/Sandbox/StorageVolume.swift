import CSandbox
import GloveboxSystem
#if canImport(Glibc)
import Glibc
#endif

/// The only writable space of a run: a size-capped filesystem holding the workspace's upper layer,
/// the overlay's work directory and the run's /tmp. Writes past the cap fail with ENOSPC here, never on
/// the host's disk. Mounted in the daemon's private mount namespace, so the host never sees it, and it
/// goes away with the daemon whatever happens.
///
/// Small caps are a tmpfs (its pages are charged to the run's memory cgroup, so storage cannot be used
/// to escape the memory limit). Caps above `tmpfsLimit` are an ext4 image on a loop device: disk, not
/// RAM. The image file is unlinked as soon as the loop device holds it and the device clears itself
/// when unmounted, so neither can outlive the run, or the daemon.
public final class StorageVolume: @unchecked Sendable {
    // Mutable state (`mounted`) is touched only by the thread that owns the run.
    public static let tmpfsLimit: UInt64 = 256 << 20

    public enum Backing: String, Sendable { case tmpfs, loop }

    public let path: String
    public let capacityBytes: UInt64
    public let backing: Backing
    private var mounted = false

    public var upper: String { path + "/upper" }
    public var overlayWork: String { path + "/work" }
    public var tmp: String { path + "/tmp" }

    /// Where a loop volume's image file is made (and unlinked at once): a directory on disk, since the
    /// volume's own directory may be on a tmpfs.
    private let image: String

    /// `image`: where the image of a volume over `tmpfsLimit` is made (default: beside `path`).
    public init(path: String, capacityBytes: UInt64, owner: uid_t, group: gid_t, image: String? = nil) throws {
        self.path = path
        self.image = image ?? path + ".img"
        self.capacityBytes = capacityBytes
        backing = capacityBytes > Self.tmpfsLimit ? .loop : .tmpfs
        try FileIO.mkdir(path, mode: 0o700, existOK: false)
        // One inode per 4 KiB on tmpfs (inodes cost nothing there); one per 16 KiB on ext4, where inode
        // tables take space from the cap.
        let inodes = max(1024, min(1_048_576, capacityBytes / (capacityBytes > Self.tmpfsLimit ? 16384 : 4096)))
        do {
            switch backing {
            case .tmpfs:
                try syscallValue("mount the storage volume at", path) { gb_mount_tmpfs(path, "size=\(capacityBytes),nr_inodes=\(inodes),mode=0755") }
            case .loop:
                try mountImage(inodes: inodes)
            }
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

    private func mountImage(inodes: UInt64) throws {
        let file = try FileDescriptor.open(image, O_RDWR | O_CREAT | O_EXCL, mode: 0o600)
        defer { unlink(image) }
        try syscallValue("size the storage image", image) { ftruncate(file.raw, off_t(capacityBytes)) }
        try Self.makeFilesystem(image, inodes: inodes)
        var name = [CChar](repeating: 0, count: 64)
        let device = FileDescriptor(try syscallValue("attach a loop device to", image) { gb_loop_attach(file.raw, &name, name.count) })
        defer { device.close() }
        let devicePath = String(nulTerminated: name)
        try syscallValue("mount the storage volume \(devicePath) at", path) { gb_mount_ext4(devicePath, path, "") }
    }

    /// mkfs.ext4 without a journal or reserved blocks: the run gets exactly its cap, and the filesystem
    /// is thrown away after the run, so there is nothing to recover.
    static func makeFilesystem(_ image: String, inodes: UInt64) throws {
        let argv = ["/sbin/mkfs.ext4", "-q", "-F", "-m", "0", "-O", "^has_journal", "-N", String(inodes),
                    "-E", "lazy_itable_init=1,nodiscard", image]
        let status = try Spawn.run(argv)
        if status != 0 { throw SandboxError.unavailable("mkfs.ext4 failed (status \(status)) for \(image); is e2fsprogs installed?") }
    }

    /// True when the volume has no free space or inodes left (the run hit its storage cap).
    public var isFull: Bool {
        var s = statvfs()
        guard statvfs(path, &s) == 0 else { return false }
        let freeBytes = UInt64(s.f_bavail) * UInt64(s.f_frsize)
        return freeBytes < max(1 << 20, capacityBytes / 100) || s.f_favail == 0
    }

    public func remove() {
        if mounted {
            // A plain unmount first: it is synchronous, so a loop device is released now, not later.
            if umount(path) != 0 { _ = gb_umount(path) }
            mounted = false
        }
        unlink(image)
        _ = rmdir(path)
    }
}

/// posix_spawn and wait: safe in a multithreaded daemon, unlike fork.
enum Spawn {
    static func run(_ argv: [String]) throws -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd in Int32(0)...2 { posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0) }
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv: [UnsafeMutablePointer<CChar>?] = [strdup("PATH=/usr/sbin:/usr/bin:/sbin:/bin"), nil]
        defer { cArgs.forEach { free($0) }; cEnv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, nil, cArgs, cEnv)
        if rc != 0 { throw SystemError("run", argv[0], errno: rc) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { throw SystemError("wait for", argv[0], errno: errno) }
        }
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }
}
