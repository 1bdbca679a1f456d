#if canImport(Glibc)
import Glibc
#endif

/// Whole-file reads and writes for small control files (cgroupfs, procfs).
public enum FileIO {
    public static func read(_ path: String, limit: Int = 1 << 20) throws -> String {
        let fd = try FileDescriptor.open(path, O_RDONLY)
        do {
            return String(decoding: try fd.readToEnd(limit: limit), as: UTF8.self)
        } catch let error {
            throw SystemError("read", path, errno: (error as? SystemError)?.errno ?? EIO)
        }
    }

    public static func readIfPresent(_ path: String) -> String? { try? read(path) }

    /// One write(2) of the whole string, as cgroupfs expects.
    public static func write(_ path: String, _ text: String, create: Bool = false, mode: mode_t = 0o644) throws {
        let flags = O_WRONLY | (create ? O_CREAT | O_TRUNC : 0)
        let fd = try FileDescriptor.open(path, flags, mode: mode)
        let bytes = Array(text.utf8)
        let n = try bytes.withUnsafeBytes { (b) in
            try syscallValue("write", path) { Glibc.write(fd.raw, b.baseAddress, b.count) }
        }
        if n != bytes.count { throw SystemError("short write to", path, errno: EIO) }
    }

    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// The target of the symbolic link at `path` (as readlink(2) gives it), or nil with errno set.
    public static func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = Glibc.readlink(path, &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public static func mkdir(_ path: String, mode: mode_t = 0o755, existOK: Bool = true) throws {
        if Glibc.mkdir(path, mode) == 0 { return }
        let e = errno
        if e == EEXIST && existOK { return }
        throw SystemError("mkdir", path, errno: e)
    }

    /// Parses "key value" lines (cgroup stat files) into a dictionary of integers.
    public static func keyedIntegers(_ text: String) -> [String: UInt64] {
        var out: [String: UInt64] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let v = UInt64(parts[1]) { out[String(parts[0])] = v }
        }
        return out
    }

    /// The names in a directory (without "." and ".."), sorted; `directoriesOnly` keeps subdirectories.
    /// An unreadable or missing directory has none.
    public static func entries(of path: String, directoriesOnly: Bool = false) -> [String] {
        guard let d = opendir(path) else { return [] }
        defer { closedir(d) }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafePointer(to: e.pointee.d_name) { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
            if name == "." || name == ".." { continue }
            if directoriesOnly && e.pointee.d_type != UInt8(DT_DIR) { continue }
            names.append(name)
        }
        return names.sorted()
    }
}

extension String {
    /// The text in a C buffer up to its first NUL (or all of it), as UTF-8 with invalid bytes repaired.
    public init(nulTerminated buffer: [CChar]) {
        self = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
