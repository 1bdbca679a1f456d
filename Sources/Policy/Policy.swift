#if canImport(Glibc)
import Glibc
#endif

/// A template's policy: the ceiling on what runs under it may use, what they see, and who may start them.
/// Parsed from `<template>.toml`; see policies/README.md for the format.
public struct Policy: Sendable, Equatable {
    /// The file's base name without ".toml".
    public var template: String
    /// SHA-256 (hex) of the file's exact bytes.
    public var digest: String
    public var description: String
    public var limits: Limits
    /// Absolute host paths bind-mounted read-only at the same place, verbatim (symlinks resolved by the sandbox).
    public var readOnlyPaths: [String]
    /// Variables set in the sandbox.
    public var environment: [String: String]
    /// Variable names a client may pass in explicitly.
    public var passEnvironment: [String]
    /// User names or numeric uids allowed; "*" = everyone. Empty users and groups: nobody but root.
    public var users: [String]
    /// Group names or numeric gids allowed.
    public var groups: [String]
    /// Extra system call names denied (EPERM) on top of the default profile.
    public var seccompDeny: [String]
    /// Where the workspace appears in the sandbox.
    public var workdir: String
    /// What happens to a run whose client goes away: it goes on (the default; `glovebox logs --follow`
    /// attaches again) or it is cancelled. An explicit cancel (Ctrl-C) always cancels.
    public var onDisconnect: DisconnectAction = .continue
    /// Caps on runs of this template, on top of the daemon's global and per-user ones.
    public var caps = TemplateCaps()
    /// How much of a run's stdout and stderr the daemon keeps (`[limits] log`); nil: the daemon's setting.
    public var logBytes: UInt64?

    public init(template: String, digest: String = "", description: String = "", limits: Limits,
                readOnlyPaths: [String] = ["/usr", "/lib", "/lib64", "/bin", "/sbin"],
                environment: [String: String] = [:], passEnvironment: [String] = [],
                users: [String] = [], groups: [String] = [], seccompDeny: [String] = [],
                workdir: String = "/workspace") {
        self.template = template
        self.digest = digest
        self.description = description
        self.limits = limits
        self.readOnlyPaths = readOnlyPaths
        self.environment = environment
        self.passEnvironment = passEnvironment
        self.users = users
        self.groups = groups
        self.seccompDeny = seccompDeny
        self.workdir = workdir
    }

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

    /// "/etc/glovebox/policies/python.toml" -> "python".
    static func templateName(_ path: String) -> String {
        let file = path.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? path
        return file.hasSuffix(".toml") ? String(file.dropLast(5)) : file
    }

    /// The whole of a regular file, refusing anything over the 1 MiB limit.
    private static func readFile(_ path: String) throws(PolicyError) -> [UInt8] {
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

/// `[lifetime] on_disconnect`.
public enum DisconnectAction: String, Sendable, Equatable, CaseIterable {
    case `continue`
    case cancel
}

/// `[caps]` of a policy: how many runs of this template may go at once and start in an hour, in all and
/// per user, and whether a request over a cap waits in the queue or is refused (nil: the daemon's setting).
public struct TemplateCaps: Sendable, Equatable {
    public var concurrentRuns: Int?
    public var runsPerHour: Int?
    public var userConcurrentRuns: Int?
    public var userRunsPerHour: Int?
    public var overCap: OverCapAction?
    public init(concurrentRuns: Int? = nil, runsPerHour: Int? = nil, userConcurrentRuns: Int? = nil, userRunsPerHour: Int? = nil,
                overCap: OverCapAction? = nil) {
        self.concurrentRuns = concurrentRuns
        self.runsPerHour = runsPerHour
        self.userConcurrentRuns = userConcurrentRuns
        self.userRunsPerHour = userRunsPerHour
        self.overCap = overCap
    }
}
