import Foundation
import GloveboxSystem

/// kernel.core_pattern. Where it pipes core dumps to a program on the host ("|/usr/lib/systemd/
/// systemd-coredump ...", apport), the kernel runs that program as root on the core of any crashing
/// process, and does not apply RLIMIT_CORE 0 to it. A run's RLIMIT_CORE is 1, which the kernel reads as
/// "no core dump" for pipes too, and seccomp refuses to change it (SeccompProfile); the daemon says at start
/// that a pipe is set, since a crash inside a run then leaves no core anywhere.
public enum CorePattern {
    static let path = "/proc/sys/kernel/core_pattern"

    /// The program cores are piped to, or nil when core_pattern names a file (or cannot be read).
    public static func pipeHandler() -> String? {
        guard let pattern = FileIO.readIfPresent(path)?.trimmingCharacters(in: .whitespacesAndNewlines), pattern.hasPrefix("|") else { return nil }
        return String(pattern.dropFirst())
    }
}
