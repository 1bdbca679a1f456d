import CSandbox
import CSetupChild
import GloveboxSystem
#if canImport(Glibc)
import Glibc
#endif

/// The mounts of a run's root, in the order they are made, in two parts: `shared`, the same for every run of
/// a policy (its read-only paths, /dev with the standard device nodes and any leased GPU's), made once in a
/// prepared root (PreparedRoots) that many runs copy; and `run`, each run's own (its workspace, /tmp,
/// /dev/shm), made by its setup child on the mount points the prepared root has. Host paths are looked at
/// here, in the daemon, before the clone: a symlink in the policy's read-only list (/bin → usr/bin on
/// merged-/usr systems) becomes the same symlink inside, a missing path is left out.
public struct MountPlan: Sendable {
    public struct Entry: Sendable, Hashable {
        public var kind: Int32
        public var source: String
        public var target: String
        public var data: String = ""
        public var isDirectory: Bool = true
    }

    public var shared: [Entry] = []
    public var run: [Entry] = []
    /// Policy paths that do not exist on this host (reported, not fatal).
    public var missing: [String] = []

    /// Device nodes every run gets, with their numbers for the device cgroup.
    public static let devices: [(name: String, number: DeviceNumber)] = [
        ("null", DeviceNumber(major: 1, minor: 3)), ("zero", DeviceNumber(major: 1, minor: 5)),
        ("full", DeviceNumber(major: 1, minor: 7)), ("random", DeviceNumber(major: 1, minor: 8)),
        ("urandom", DeviceNumber(major: 1, minor: 9)),
    ]

    /// Pseudo-terminals: /dev/ptmx (5:2) and the slaves of the run's own devpts instance (majors 136 to 143,
    /// the kernel's UNIX98 pty slaves), which the setup child mounts at /dev/pts.
    public static let ptyDevices: [DeviceNumber] = [DeviceNumber(major: 5, minor: 2)] + (136...143).map { DeviceNumber.all(major: $0) }

    /// What every run's device cgroup allows: the standard nodes and the ptys.
    public static let standardDevices: [DeviceNumber] = devices.map(\.number) + ptyDevices

    /// The run's /etc/hosts, where the policy does not show the host's: localhost and the run's hostname
    /// resolve (torch.distributed's MASTER_ADDR=localhost, Dask), to the run's own loopback.
    static let hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t\(SandboxLauncher.hostname)\n"

    /// Whether the policy's read-only paths show the host's `path` (the path or a directory above it).
    static func shows(_ readOnlyPaths: [String], _ path: String) -> Bool {
        readOnlyPaths.contains { path == $0 || path.hasPrefix($0 + "/") }
    }

    /// `etc`: the run's own passwd and group (RunIdentity), bound at /etc/passwd and /etc/group where the
    /// policy does not show the host's.
    public init(readOnlyPaths: [String], workdir: String, workspace: String, tmp: String, shm: String, etc: RunIdentity.Files? = nil,
                extraDevices: [DeviceNode] = []) {
        for path in readOnlyPaths.sorted(by: { $0.count < $1.count }) {
            var st = stat()
            guard lstat(path, &st) == 0 else {
                missing.append(path)
                continue
            }
            if (st.st_mode & S_IFMT) == S_IFLNK {
                guard let target = FileIO.readLink(path) else { missing.append(path); continue }
                shared.append(Entry(kind: Int32(GB_MOUNT_SYMLINK.rawValue), source: target, target: path))
            } else {
                shared.append(Entry(kind: Int32(GB_MOUNT_BIND_RO.rawValue), source: path, target: path,
                                     isDirectory: (st.st_mode & S_IFMT) == S_IFDIR))
            }
        }
        run.append(Entry(kind: Int32(GB_MOUNT_BIND_RW.rawValue), source: workspace, target: workdir))
        run.append(Entry(kind: Int32(GB_MOUNT_BIND_RW.rawValue), source: tmp, target: "/tmp"))
        shared.append(Entry(kind: Int32(GB_MOUNT_TMPFS.rawValue), source: "tmpfs", target: "/dev", data: "size=64k,nr_inodes=256,mode=0755"))
        for device in Self.devices {
            shared.append(Entry(kind: Int32(GB_MOUNT_DEVICE.rawValue), source: "/dev/" + device.name, target: "/dev/" + device.name, isDirectory: false))
        }
        for device in extraDevices {
            shared.append(Entry(kind: Int32(GB_MOUNT_DEVICE.rawValue), source: device.hostPath, target: "/dev/" + device.name, isDirectory: false))
        }
        for (name, target) in [("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2"),
                               ("ptmx", "pts/ptmx")] {
            shared.append(Entry(kind: Int32(GB_MOUNT_SYMLINK.rawValue), source: target, target: "/dev/" + name))
        }
        run.append(Entry(kind: Int32(GB_MOUNT_BIND_RW.rawValue), source: shm, target: "/dev/shm"))
        if !Self.shows(readOnlyPaths, "/etc/hosts") {
            shared.append(Entry(kind: Int32(GB_MOUNT_FILE.rawValue), source: "", target: "/etc/hosts", data: Self.hosts))
        }
        if let etc {
            for (file, target) in [(etc.passwd, "/etc/passwd"), (etc.group, "/etc/group")] where !Self.shows(readOnlyPaths, target) {
                run.append(Entry(kind: Int32(GB_MOUNT_BIND_RO.rawValue), source: file, target: target, isDirectory: false))
            }
        }
    }

    /// What a prepared root for this plan is made of: the shared mounts, and the kinds and targets of the
    /// run's own (their mount points).
    public var rootKey: RootKey {
        RootKey(shared: shared, mountPoints: run.map { Entry(kind: $0.kind, source: "", target: $0.target, isDirectory: $0.isDirectory) })
    }

    public struct RootKey: Hashable, Sendable {
        public var shared: [Entry]
        public var mountPoints: [Entry]
    }
}
