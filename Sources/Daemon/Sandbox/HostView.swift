import CSandbox
import CSetupChild
import GloveboxSystem
#if canImport(Glibc)
import Glibc
#endif

/// What a prepared root copied of the host, so that it can be told later whether a root built now would
/// differ: for each host path the root binds (read-only paths, device nodes), the file it leads to (device
/// and inode), and every mount at, below or above it as the daemon's /proc/self/mountinfo describes it (its
/// id, parent, filesystem, root, options and source; the mounts above because a bind copies the flags of
/// the mount it is taken from, such as noexec).
///
/// A filesystem mounted or unmounted below a read-only path, a bound file or directory the host replaced
/// by renaming another over it, a device node made again, the options of a mount a path lies on changed:
/// each makes a view taken afterwards differ. Contents changed in place are not part of it: the root's
/// binds show them as they change. A view that could not be read entirely matches nothing, so the root is
/// built again. A change made and undone between two views shows in neither: MountWatch covers the one
/// window where that matters, a root's build.
struct HostView: Sendable {
    private struct FileIdentity: Equatable {
        let device: UInt64
        let inode: UInt64
    }

    private let files: [FileIdentity?]
    /// nil: /proc/self/mountinfo could not be read.
    private let mounts: [String]?

    /// The host now, for a root of `entries` (a root key's shared mounts).
    init(of entries: [MountPlan.Entry]) {
        let sources = entries.filter { Self.isBound($0) }.map(\.source)
        files = sources.map { path in
            var st = stat()
            return stat(path, &st) == 0 ? FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino)) : nil
        }
        // Mount points in mountinfo are canonical paths, as a bound path is: BindSource refuses any with a
        // symlink on its way.
        let tops = sources
        mounts = (try? FileIO.read("/proc/self/mountinfo", limit: 16 << 20)).map { text in
            text.split(separator: "\n").filter { line in
                guard let point = Self.mountPoint(line) else { return true }  // kept whole: any change shows
                return tops.contains { Self.isAtOrBelow(point, $0) || Self.isAtOrBelow($0, point) }
            }.map(String.init)
        }
    }

    /// Whether the host looks as it did in `earlier` under the root's paths.
    func matches(_ earlier: HostView) -> Bool {
        guard let mounts, let before = earlier.mounts else { return false }
        return files == earlier.files && mounts == before
    }

    private static func isBound(_ entry: MountPlan.Entry) -> Bool {
        entry.kind == Int32(GB_MOUNT_BIND_RO.rawValue) || entry.kind == Int32(GB_MOUNT_DEVICE.rawValue)
    }

    static func isAtOrBelow(_ point: String, _ top: String) -> Bool {
        point == top || point.hasPrefix(top == "/" ? "/" : top + "/")
    }

    /// The fifth field of a mountinfo line, with the kernel's octal escapes (space, tab, newline,
    /// backslash) undone.
    static func mountPoint(_ line: Substring) -> String? {
        let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: false)
        guard fields.count > 4 else { return nil }
        var bytes: [UInt8] = []
        var rest = Array(fields[4].utf8)[...]
        while let byte = rest.popFirst() {
            let digits = rest.prefix(3)
            if byte == UInt8(ascii: "\\"), digits.count == 3, digits.allSatisfy({ (48...55).contains($0) }) {
                bytes.append(digits.reduce(0) { $0 &* 8 &+ ($1 - 48) })
                rest = rest.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Whether the daemon's mount namespace changed while a root was being built: poll on /proc/self/mountinfo
/// reports POLLPRI once the namespace has had a mount, an unmount or a change of a mount's options since
/// the file was opened. A change made and undone during the build would be in the root and in no view of
/// the host, so such a root serves only as long as a root serves without a look at the host. The daemon's
/// own mounts (each run's volume) count too: under load a root built then is simply built again sooner.
struct MountWatch {
    /// nil: mountinfo could not be opened, and whether anything changed cannot be known.
    private let mountinfo = try? FileDescriptor.open("/proc/self/mountinfo", O_RDONLY)

    /// Whether anything was mounted, unmounted or changed since the watch was made; true when that cannot
    /// be known.
    func changed() -> Bool {
        guard let mountinfo else { return true }
        var p = pollfd(fd: mountinfo.raw, events: Int16(POLLPRI), revents: 0)
        while true {
            let n = poll(&p, 1, 0)
            if n >= 0 { return n > 0 && p.revents & Int16(POLLPRI | POLLERR) != 0 }
            if errno != EINTR { return true }
        }
    }
}
