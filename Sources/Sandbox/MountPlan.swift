import CSandbox
import GloveboxSystem
#if canImport(Glibc)
import Glibc
#endif

/// The mounts of a run's root, in the order the launcher makes them. Host paths are looked at here, in
/// the daemon, before the clone: a symlink in the policy's read-only list (/bin → usr/bin on merged-/usr
/// systems) becomes the same symlink inside, a missing path is left out.
public struct MountPlan: Sendable {
    public struct Entry: Sendable, Equatable {
        public var kind: Int32
        public var source: String
        public var target: String
        public var data: String = ""
        public var isDirectory: Bool = true
    }

    public var entries: [Entry] = []
    /// Policy paths that do not exist on this host (reported, not fatal).
    public var missing: [String] = []

    /// Device nodes every run gets, with their numbers for the device cgroup.
    public static let devices: [(name: String, number: DeviceNumber)] = [
        ("null", DeviceNumber(major: 1, minor: 3)), ("zero", DeviceNumber(major: 1, minor: 5)),
        ("full", DeviceNumber(major: 1, minor: 7)), ("random", DeviceNumber(major: 1, minor: 8)),
        ("urandom", DeviceNumber(major: 1, minor: 9)),
    ]

    public init(readOnlyPaths: [String], workdir: String, workspace: String, tmp: String, shmBytes: UInt64, extraDevices: [DeviceNode] = []) {
        for path in readOnlyPaths.sorted(by: { $0.count < $1.count }) {
            var st = stat()
            guard lstat(path, &st) == 0 else {
                missing.append(path)
                continue
            }
            if (st.st_mode & S_IFMT) == S_IFLNK {
                guard let target = FileIO.readLink(path) else { missing.append(path); continue }
                entries.append(Entry(kind: Int32(GB_MOUNT_SYMLINK.rawValue), source: target, target: path))
            } else {
                entries.append(Entry(kind: Int32(GB_MOUNT_BIND_RO.rawValue), source: path, target: path,
                                     isDirectory: (st.st_mode & S_IFMT) == S_IFDIR))
            }
        }
        entries.append(Entry(kind: Int32(GB_MOUNT_BIND_RW.rawValue), source: workspace, target: workdir))
        entries.append(Entry(kind: Int32(GB_MOUNT_BIND_RW.rawValue), source: tmp, target: "/tmp"))
        entries.append(Entry(kind: Int32(GB_MOUNT_TMPFS.rawValue), source: "tmpfs", target: "/dev", data: "size=64k,nr_inodes=256,mode=0755"))
        for device in Self.devices {
            entries.append(Entry(kind: Int32(GB_MOUNT_DEVICE.rawValue), source: "/dev/" + device.name, target: "/dev/" + device.name, isDirectory: false))
        }
        for device in extraDevices {
            entries.append(Entry(kind: Int32(GB_MOUNT_DEVICE.rawValue), source: device.hostPath, target: "/dev/" + device.name, isDirectory: false))
        }
        for (name, target) in [("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")] {
            entries.append(Entry(kind: Int32(GB_MOUNT_SYMLINK.rawValue), source: target, target: "/dev/" + name))
        }
        entries.append(Entry(kind: Int32(GB_MOUNT_TMPFS.rawValue), source: "tmpfs", target: "/dev/shm", data: "size=\(shmBytes),mode=1777"))
    }
}
