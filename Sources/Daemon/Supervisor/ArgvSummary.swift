import Digests
import GloveboxSystem

/// What the audit log and the daemon's own log keep of a run's arguments, which may be 512 KiB: a prefix,
/// and the SHA-256 of the whole (each argument followed by a NUL byte, as /proc/PID/cmdline has them), so
/// that a record's full argv can be matched to its audit event.
enum ArgvSummary {
    static let prefixBytes = 1024

    static func text(_ argv: [String]) -> String {
        let whole = "\(argv)"
        let digest = sha256Hex(argv.flatMap { Array($0.utf8) + [0] })
        guard whole.utf8.count > prefixBytes else { return "\(whole) (sha256 \(digest))" }
        let bytes = argv.reduce(0) { $0 + $1.utf8.count + 1 }
        return String(decoding: whole.utf8.prefix(prefixBytes), as: UTF8.self)
            + "… (\(argv.count) arguments, \(bytes) bytes in all, sha256 \(digest))"
    }
}
