import CSandbox
import GloveboxSystem
#if canImport(Glibc)
import Glibc
#endif

/// What a prepared root copied of the host, so that it can be told later whether a root built now would
/// differ: for each host path the root binds (read-only paths, device nodes), the file it leads to (device
/// and inode), and every mount at or below it as the daemon's /proc/self/mountinfo describes it (its id,
/// parent, filesystem, root, options and source).
///
/// A filesystem mounted or unmounted below a read-only path, a bound file or directory the host replaced
/// by renaming another over it, a device node made again, a mount's options changed: each makes a view
/// taken afterwards differ. Contents changed in place are not part of it: the root's binds show them as
/// they change. A view that could not be read entirely matches nothing, so the root is built again.
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
        // Mount points in mountinfo are canonical paths: a read-only path with a symlink among its parents
        // is looked for where it leads.
        let tops = sources.compactMap(Self.canonical)
        mounts = (try? FileIO.read("/proc/self/mountinfo", limit: 16 << 20)).map { text in
            text.split(separator: "\n").filter { line in
                guard let point = Self.mountPoint(line) else { return true }  // kept whole: any change shows
                return tops.contains { Self.isAtOrBelow(point, $0) }
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

    private static func canonical(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
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
