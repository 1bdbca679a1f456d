import GloveboxSystem
#if canImport(Glibc)
import Glibc
#endif
@_exported import PolicyModel

// Reading policy and configuration files: the TOML side of the model in PolicyModel. Kept apart so that
// the unprivileged client, which only needs the model, links no TOML parser.

extension Policy {
    /// Parses and validates policy text. `template` names the policy; `source` (a path) is used in messages.
    public static func parse(_ text: String, template: String, source: String) throws(PolicyError) -> Policy {
        try PolicyParser.parse(text, template: template, source: source)
    }

    /// Reads and parses one file; the template is its base name without ".toml".
    public static func load(path: String) throws(PolicyError) -> Policy {
        let bytes = try readFile(path)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw PolicyError(file: path, message: "not valid UTF-8")
        }
        return try parse(text, template: templateName(path), source: path)
    }

    /// Loads every `*.toml` in `dir`, in name order. A bad file is reported in `errors` and does not
    /// stop the others. Policies are keyed by template.
    public static func loadDirectory(_ dir: String) -> (policies: [String: Policy], errors: [PolicyError]) {
        guard let handle = opendir(dir) else {
            return ([:], [PolicyError(file: dir, message: "cannot open directory: \(String(cString: strerror(errno)))")])
        }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name.hasSuffix(".toml") { names.append(name) }
        }
        closedir(handle)

        var policies: [String: Policy] = [:]
        var errors: [PolicyError] = []
        let base = dir.hasSuffix("/") ? dir : dir + "/"
        for name in names.sorted() {
            do {
                let policy = try load(path: base + name)
                policies[policy.template] = policy
            } catch {
                errors.append(error)
            }
        }
        return (policies, errors)
    }

    /// The whole of a regular file, refusing anything over the 1 MiB limit.
    static func readFile(_ path: String) throws(PolicyError) -> [UInt8] {
        func failure(_ what: String) -> PolicyError {
            PolicyError(file: path, message: "\(what): \(String(cString: strerror(errno)))")
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw failure("cannot open") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw failure("cannot stat") }
        guard info.st_mode & S_IFMT == S_IFREG else { throw PolicyError(file: path, message: "not a regular file") }

        let limit = PolicyRules.maximumFileBytes
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while bytes.count <= limit {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n == 0 { break }
            if n < 0 {
                if errno == EINTR { continue }
                throw failure("cannot read")
            }
            bytes.append(contentsOf: chunk[0..<n])
        }
        guard bytes.count <= limit else { throw PolicyError(file: path, message: "file is larger than 1 MiB") }
        return bytes
    }
}

extension DaemonConfig {
    /// Parses and validates configuration text; `source` (a path) is used in messages.
    public static func parse(_ text: String, source: String) throws(PolicyError) -> DaemonConfig {
        try DaemonConfigParser.parse(text, source: source)
    }

    /// Reads and parses; a missing file at the DEFAULT path means all defaults (returns DaemonConfig()), a missing
    /// file at any other (explicitly given) path is an error.
    ///
    /// `explicit` says whether the path was given (`--config`); when it was not, a file that does not exist
    /// (ENOENT, not a dangling symbolic link) gives the defaults.
    public static func load(path: String, explicit: Bool) throws(PolicyError) -> DaemonConfig {
        func failure(_ what: String, _ code: Int32) -> PolicyError {
            PolicyError(file: path, message: "\(what): \(String(cString: strerror(code)))")
        }
        let fd: FileDescriptor
        do {
            // O_NONBLOCK: opening a FIFO must not hang; regular files ignore it.
            fd = try FileDescriptor.open(path, O_RDONLY | O_NONBLOCK)
        } catch {
            let code = (error as? SystemError)?.errno ?? EIO
            var info = stat()
            if code == ENOENT, !explicit, lstat(path, &info) != 0 { return DaemonConfig() }
            throw failure("cannot open", code)
        }
        var info = stat()
        guard fstat(fd.raw, &info) == 0 else { throw failure("cannot stat", errno) }
        guard info.st_mode & S_IFMT == S_IFREG else { throw PolicyError(file: path, message: "not a regular file") }
        let bytes: [UInt8]
        do {
            bytes = try fd.readToEnd(limit: PolicyRules.maximumFileBytes)
        } catch {
            let code = (error as? SystemError)?.errno ?? EIO
            if code == EFBIG { throw PolicyError(file: path, message: "file is larger than 1 MiB") }
            throw failure("cannot read", code)
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw PolicyError(file: path, message: "not valid UTF-8")
        }
        return try parse(text, source: path)
    }
}
