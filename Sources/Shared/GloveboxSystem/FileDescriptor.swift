import CSystem
#if canImport(Glibc)
import Glibc
#endif

/// A descriptor this process owns: closed exactly once, when the owner is released or `close()` is called.
public final class FileDescriptor: @unchecked Sendable {
    // Safe to share: `raw` changes only in close(), which owners call from the one thread using the
    // descriptor at the end of its life.
    public private(set) var raw: Int32

    public init(_ raw: Int32) { self.raw = raw }
    deinit { close() }

    public func close() {
        if raw >= 0 { _ = Glibc.close(raw) }
        raw = -1
    }

    /// Gives up ownership without closing (the caller now owns the number).
    public func release() -> Int32 {
        defer { raw = -1 }
        return raw
    }

    public static func open(_ path: String, _ flags: Int32, mode: mode_t = 0) throws -> FileDescriptor {
        let fd = try syscallValue("open", path) { Glibc.open(path, flags | O_CLOEXEC, mode) }
        return FileDescriptor(fd)
    }

    /// A pipe whose both ends are close-on-exec: (read, write).
    public static func pipe() throws -> (read: FileDescriptor, write: FileDescriptor) {
        var fds: [Int32] = [-1, -1]
        try syscallValue("pipe") { gb_pipe_cloexec(&fds) }
        return (FileDescriptor(fds[0]), FileDescriptor(fds[1]))
    }

    /// Writes every byte, retrying short writes and EINTR.
    public func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        try GloveboxSystem.writeAll(raw, bytes)
    }

    public func writeAll(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { (buffer) in try writeAll(buffer) }
    }

    /// Reads up to `count` bytes; an empty result means end of file.
    public func read(upTo count: Int) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        let n = try buffer.withUnsafeMutableBytes { (b) in
            try syscallValue("read") { Glibc.read(raw, b.baseAddress, count) }
        }
        buffer.removeSubrange(n...)
        return buffer
    }

    /// Reads to end of file, failing with EFBIG past `limit` bytes.
    public func readToEnd(limit: Int = 1 << 20) throws -> [UInt8] {
        var out: [UInt8] = []
        while true {
            let chunk = try read(upTo: 65536)
            if chunk.isEmpty { return out }
            out += chunk
            if out.count > limit { throw SystemError("read", errno: EFBIG) }
        }
    }
}

/// Writes every byte to `fd`, a descriptor the caller does not own (its stdout, say), retrying short writes
/// and EINTR.
public func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws {
    var offset = 0
    while offset < bytes.count {
        let n = try syscallValue("write") { Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset) }
        if n == 0 { throw SystemError("write", errno: EIO) }
        offset += n
    }
}

public func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws {
    try bytes.withUnsafeBytes { try writeAll(fd, $0) }
}
