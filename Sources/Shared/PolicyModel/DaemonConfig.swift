import GloveboxSystem
#if canImport(Glibc)
import Glibc
#endif

/// gloveboxd's own settings, from /etc/glovebox/gloveboxd.toml: where it listens and keeps its state, which GPUs
/// it hands out, who administers it and the global caps on runs. Every key is optional; a missing file at the
/// default path means all defaults. See systemd/gloveboxd.toml for the documented format.
public struct DaemonConfig: Sendable, Equatable {
    /// [socket] path: the Unix socket clients connect to (shorter than 108 bytes).
    public var socketPath: String
    /// [socket] group: a group name or numeric gid to own the socket; nil = root.
    public var socketGroup: String?
    /// [socket] mode, written as an octal string ("0660"): between 0600 and 0777.
    public var socketMode: UInt32
    /// [paths] state: the run database and the runs' scratch space.
    public var stateDirectory: String
    /// [paths] policies: one `<template>.toml` per template.
    public var policyDirectory: String
    /// [access] admin_group: a group name or numeric gid whose members see and kill all runs; nil = only root.
    public var adminGroup: String?
    /// [sandbox] uid_base: the first of the uids given to runs (one per concurrent run).
    public var sandboxUIDBase: UInt32
    /// [sandbox] uid_count: how many uids from `sandboxUIDBase` on.
    public var sandboxUIDCount: UInt32
    /// The uid (and gid) every run's init runs as: the one after the runs' range, so that a run's own
    /// processes can neither signal, renice, prlimit nor trace their init.
    public var initID: UInt32 { sandboxUIDBase + sandboxUIDCount }
    /// [sandbox] keep_idle: how long a prepared root, and a warm sandbox made from it, wait for a run
    /// before they are let go (1 s to 1 h).
    public var keepIdleSeconds: Double
    /// [gpus] devices: the GPU device nodes runs may be given; nil = discover /dev/nvidia[0-9]+ at start.
    public var gpus: [String]?
    /// [caps] concurrent_runs: runs at once, all users together.
    public var maxConcurrentRuns: Int
    /// [caps] runs_per_hour: runs started in any hour, all users together.
    public var maxRunsPerHour: Int
    /// [caps] user_concurrent_runs: runs at once for one user.
    public var perUserConcurrentRuns: Int
    /// [caps] user_runs_per_hour: runs started in any hour by one user.
    public var perUserRunsPerHour: Int
    /// [caps] over_cap: what happens to a run request over a cap.
    public var overCap: OverCapAction
    /// [caps] max_queued: requests waiting at most (with `overCap == .queue`); 0 = none wait.
    public var maxQueued: Int
    /// [shutdown] runs: what a stopping daemon does with the runs in flight.
    public var shutdown: ShutdownAction
    /// [shutdown] grace: the most seconds a stop waits on the runs before killing what is left (0 to 1 h).
    public var shutdownGraceSeconds: Double
    /// [logs] max_bytes: the most of one run's stdout and stderr together that is kept.
    public var logOutputBytes: UInt64
    /// [logs] retention: how long a run's kept output stays (from the run's end); older logs are pruned.
    public var logRetentionSeconds: Double
    /// [logs] total_bytes: the most kept output of all runs together; the oldest logs are pruned first.
    public var logTotalBytes: UInt64
    /// [logs] user_bytes: the most kept output of one user's runs; that user's oldest logs are pruned first.
    public var logUserBytes: UInt64
    /// [paths] state_min_free: the least free space the state directory's filesystem must keep; below it
    /// runs are refused until space is freed.
    public var stateMinFree: FreeSpace
    /// [caps] refusals_per_minute: refusals of one user recorded (in the runs table and the audit log) per
    /// minute; past it they are answered but not recorded, and the next recorded one says how many were not.
    public var refusalsPerMinute: Int

    public static let defaultPath = "/etc/glovebox/gloveboxd.toml"

    /// All defaults.
    public init() {
        socketPath = "/run/glovebox/glovebox.sock"
        socketGroup = nil
        socketMode = 0o666
        stateDirectory = "/var/lib/glovebox"
        policyDirectory = "/etc/glovebox/policies"
        adminGroup = nil
        sandboxUIDBase = 1_900_000_000
        sandboxUIDCount = 65_536
        keepIdleSeconds = 60
        gpus = nil
        maxConcurrentRuns = 64
        maxRunsPerHour = 3600
        perUserConcurrentRuns = 8
        perUserRunsPerHour = 600
        overCap = .queue
        maxQueued = 256
        shutdown = .cancel
        shutdownGraceSeconds = 30
        logOutputBytes = 64 << 20
        logRetentionSeconds = 30 * 86400
        logTotalBytes = 20 << 30
        logUserBytes = 4 << 30
        stateMinFree = .percent(2)
        refusalsPerMinute = 60
    }
}

/// An amount of free space: bytes, or a share of the filesystem's size.
public enum FreeSpace: Sendable, Equatable, CustomStringConvertible {
    case bytes(UInt64)
    case percent(Double)

    /// The bytes it stands for on a filesystem of `size` bytes.
    public func bytes(of size: UInt64) -> UInt64 {
        switch self {
        case .bytes(let b): return b
        case .percent(let p): return UInt64(Double(size) * p / 100)
        }
    }

    public var description: String {
        switch self {
        case .bytes(let b): return ByteSize.format(b)
        case .percent(let p): return (p == p.rounded() ? String(Int(p)) : String(p)) + "%"
        }
    }
}

/// What happens to a run request that would go over a cap.
public enum OverCapAction: String, Sendable, Equatable, CaseIterable {
    /// It waits (up to `DaemonConfig.maxQueued` requests) until the run fits.
    case queue
    /// It is refused at once.
    case refuse
}

/// What a stopping gloveboxd does with the runs in flight.
public enum ShutdownAction: String, Sendable, Equatable, CaseIterable {
    /// Cancels them at once and records them.
    case cancel
    /// Lets them finish, for up to the grace period, then cancels the rest.
    case wait
}
