import GloveboxSystem
#if canImport(Glibc)
import Glibc
#endif

/// fs.suid_dumpable, which the kernel applies to a process's memory when it changes uid. A run's setup
/// child shares gloveboxd's memory until it executes glovebox-init, and changes to the run's uid before
/// that (CSetupChild/privileges.c); it clears the dumpable flag again right after, but at 1 ("debug") the flag is set in
/// between, and a process of the run's uid could attach to the child with ptrace and so write into the
/// daemon's memory. At 0 and 2 the kernel never makes it dumpable by that uid. The daemon refuses to start
/// at 1, and each launch looks again (the setting can change while it runs).
public enum SuidDumpable {
    static let path = "/proc/sys/fs/suid_dumpable"
    private static let descriptor = try? FileDescriptor.open(path, O_RDONLY)

    /// Why no run may be launched with the setting as it is now, or nil.
    public static func problem() -> String? {
        var byte: UInt8 = 0
        guard let descriptor, pread(descriptor.raw, &byte, 1, 0) == 1 else {
            return "cannot read \(path): gloveboxd needs it to know that a run's setup cannot be attached to while it changes uid"
        }
        guard byte == UInt8(ascii: "1") else { return nil }
        return "fs.suid_dumpable is 1: a process of a run's uid could attach to its setup, which shares gloveboxd's memory while it changes to that uid; set it to 0 or 2 (sysctl fs.suid_dumpable=0)"
    }
}
