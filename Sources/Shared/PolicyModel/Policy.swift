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

    /// "/etc/glovebox/policies/python.toml" -> "python".
    package static func templateName(_ path: String) -> String {
        let file = path.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? path
        return file.hasSuffix(".toml") ? String(file.dropLast(5)) : file
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
