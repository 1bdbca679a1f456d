import GloveboxSystem
import Sandbox
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The finished runs' kept output under `<state>/logs`, within the daemon's limits: each log is deleted
/// once it is older than the retention period, and the oldest go first when all logs together, or one
/// user's, are over their quota ([logs] in gloveboxd.toml). Each deletion is an audit event (log-pruned),
/// which `glovebox logs` reads to say why a run's output is gone.
///
/// An index of the kept logs (run, owner, size, end), oldest first, is read from the directory once at
/// start and kept up to date as runs end: nothing is scanned per run. A thread sleeps on a timer set to
/// when the oldest log passes the retention period, so an idle daemon prunes too.
final class LogStore: Sendable {
    struct Entry: Sendable {
        let run: Int64
        let uid: UInt32
        let bytes: UInt64
        /// When the run ended (Unix time): the file's modification time.
        let ended: Double
    }

    enum Reason: String, Sendable {
        case retention = "older than the retention period"
        case user = "over its user's quota"
        case total = "over the quota of all logs"
    }

    private struct State {
        /// Oldest first (runs end in the order their ids were given only roughly: kept sorted by end).
        var entries: [Entry] = []
        var total: UInt64 = 0
        var byUser: [UInt32: UInt64] = [:]
        var timer = OneShotTimer()
    }

    private let directory: String
    private let retention: Double
    private let totalQuota: UInt64
    private let userQuota: UInt64
    private let state = Mutex(State())
    /// Prunes logs as they pass their retention; started once the kept logs are found.
    private let expirer = ThreadOnNeed()
    /// Records a pruned log (the audit event).
    private let pruned: @Sendable (Entry, Reason) -> Void

    init(directory: String, retention: Double, totalQuota: UInt64, userQuota: UInt64, pruned: @escaping @Sendable (Entry, Reason) -> Void) {
        self.directory = directory
        self.retention = retention
        self.totalQuota = totalQuota
        self.userQuota = userQuota
        self.pruned = pruned
    }

    func path(run: Int64) -> String { directory + "/run-\(run).log" }

    /// Indexes the logs already kept (`owner` gives each run's user; a log of no known run is deleted),
    /// prunes what is over the limits, and starts the retention thread.
    func start(owner: (Int64) -> UInt32?) throws {
        var found: [Entry] = []
        for name in FileIO.entries(of: directory) {
            guard name.hasPrefix("run-"), name.hasSuffix(".log"), let run = Int64(name.dropFirst(4).dropLast(4)) else { continue }
            var st = stat()
            guard lstat(directory + "/" + name, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, let uid = owner(run) else {
                unlink(directory + "/" + name)
                continue
            }
            found.append(Entry(run: run, uid: uid, bytes: UInt64(st.st_size),
                               ended: Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9))
        }
        for entry in found.sorted(by: { $0.ended < $1.ended }) { add(entry, prune: false) }
        prune()
        try expirer.start { [self] in expireForever() }
    }

    /// A finished run's log, if it left one: indexed, then the limits applied.
    func kept(run: Int64, uid: UInt32) {
        var st = stat()
        guard lstat(path(run: run), &st) == 0 else { return }  // the run wrote nothing
        add(Entry(run: run, uid: uid, bytes: UInt64(st.st_size), ended: Monotonic.wallNow()), prune: true)
    }

    /// Bytes kept now: all logs, and one user's.
    var usage: (total: UInt64, byUser: [UInt32: UInt64]) { state.withLock { ($0.total, $0.byUser) } }

    private func add(_ entry: Entry, prune: Bool) {
        state.withLock { s in
            s.entries.append(entry)
            s.total += entry.bytes
            s.byUser[entry.uid, default: 0] += entry.bytes
        }
        if prune { self.prune() }
    }

    /// Deletes what is over the limits, oldest first, and sets the timer for the next log to expire.
    private func prune() {
        let now = Monotonic.wallNow()
        let gone: [(Entry, Reason)] = state.withLock { s in
            var gone: [(Entry, Reason)] = []
            var keep: [Entry] = []
            keep.reserveCapacity(s.entries.count)
            // Whole passes over the index, oldest first; each entry is looked at once per pass.
            for entry in s.entries {
                let reason: Reason?
                if now - entry.ended >= retention {
                    reason = .retention
                } else if s.byUser[entry.uid, default: 0] > userQuota {
                    reason = .user
                } else if s.total > totalQuota {
                    reason = .total
                } else {
                    reason = nil
                }
                if let reason {
                    s.total -= entry.bytes
                    s.byUser[entry.uid, default: 0] -= entry.bytes
                    if s.byUser[entry.uid] == 0 { s.byUser[entry.uid] = nil }
                    gone.append((entry, reason))
                } else {
                    keep.append(entry)
                }
            }
            s.entries = keep
            s.timer.set(s.entries.first.map { Monotonic.now() + max(0, $0.ended + retention - now) })
            return gone
        }
        for (entry, reason) in gone {
            unlink(path(run: entry.run))
            pruned(entry, reason)
        }
    }

    private func expireForever() {
        let timer = state.withLock { $0.timer.descriptor }
        while true {
            OneShotTimer.wait(timer)
            prune()
        }
    }
}
