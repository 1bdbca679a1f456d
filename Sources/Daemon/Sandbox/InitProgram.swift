import CSandbox
import GloveboxSystem
#if canImport(Glibc)
import Glibc
#endif

/// glovebox-init (Sources/InRun/glovebox-init), the small static program each run's setup child executes as
/// the run's pid 1. Found once, beside the running executable (`gloveboxd` in a build directory) or in
/// `../libexec/glovebox/` from it (an installed `gloveboxd` in /usr/local/bin), and kept open (O_PATH) for
/// the daemon's life (gloveboxd locates it at start and hands it to the Supervisor), so that every run
/// executes the file that was checked at start.
///
/// It runs as pid 1 of every run without the seccomp filter, so it must be root's alone: a regular file
/// owned by root that neither its group nor others can write. Anything else is refused, loudly.
public final class InitProgram: Sendable {
    public static let fileName = "glovebox-init"

    public let path: String
    let descriptor: FileDescriptor

    private init(path: String, descriptor: FileDescriptor) {
        self.path = path
        self.descriptor = descriptor
    }

    /// Where glovebox-init is looked for, relative to the executable at `executable`.
    public static func candidates(executable: String = "/proc/self/exe") -> [String] {
        let resolved = FileIO.readLink(executable) ?? executable
        let directory = resolved.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        return [directory + "/" + fileName, directory + "/../libexec/glovebox/" + fileName]
    }

    public static func locate(candidates: [String] = candidates()) throws(SandboxError) -> InitProgram {
        guard let path = candidates.first(where: { access($0, F_OK) == 0 }) else {
            throw .unavailable("\(fileName), the first process of every run, is not in \(candidates.joined(separator: " or ")): install it with gloveboxd (scripts/install.sh)")
        }
        let fd = gb_open_path(path)
        guard fd >= 0 else { throw .unavailable("cannot open \(path): \(String(cString: strerror(errno)))") }
        let descriptor = FileDescriptor(fd)
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let e = errno
            descriptor.close()
            throw .unavailable("cannot stat \(path): \(String(cString: strerror(e)))")
        }
        if let problem = problem(with: info) {
            descriptor.close()
            throw .unavailable("\(path) \(problem); it runs unfiltered as every run's pid 1 and must be root's alone")
        }
        return InitProgram(path: path, descriptor: descriptor)
    }

    /// Why a file with this status must not be executed as a run's init, or nil.
    static func problem(with info: stat) -> String? {
        if info.st_mode & S_IFMT != S_IFREG { return "is not a regular file" }
        if info.st_uid != 0 { return "is owned by uid \(info.st_uid), not root" }
        if info.st_mode & (S_IWGRP | S_IWOTH) != 0 { return "is writable by its group or by others (mode \(String(info.st_mode & 0o7777, radix: 8)))" }
        if info.st_mode & S_IXOTH == 0 { return "is not executable by others (mode \(String(info.st_mode & 0o7777, radix: 8))): runs execute it as their own uid" }
        return nil
    }
}
