import Synchronization

/// Hands out a distinct sandbox uid to each concurrent run, least recently used first.
///
/// A uid goes back to the pool only once nothing of its run is left: a run whose processes would not die
/// (stuck in the kernel, SIGKILL pending) keeps its uid in quarantine, since per-uid kernel state (process
/// and signal counts, inotify instances, POSIX message queues) and the processes themselves would
/// otherwise be shared with the next run given that uid. Each hand-out first asks the quarantined runs
/// whether they are gone now.
final class UIDPool: Sendable {
    /// A quarantined run's question: is everything of it gone now (and removed)?
    typealias Gone = @Sendable () -> Bool

    private struct State {
        /// Free uids, least recently released first.
        var free: [UInt32]
        var quarantined: [(uid: UInt32, gone: Gone)] = []
    }

    private let state: Mutex<State>

    init(base: UInt32, count: UInt32) {
        state = Mutex(State(free: (0..<count).map { base + $0 }))
    }

    func acquire() -> UInt32? {
        state.withLock { s in
            var still: [(uid: UInt32, gone: Gone)] = []
            for entry in s.quarantined {
                if entry.gone() { s.free.append(entry.uid) } else { still.append(entry) }
            }
            s.quarantined = still
            return s.free.isEmpty ? nil : s.free.removeFirst()
        }
    }

    /// `uid` is free again, its run entirely gone.
    func release(_ uid: UInt32) { state.withLock { $0.free.append(uid) } }

    /// `uid` stays out of use until `gone` says its run is entirely gone.
    func quarantine(_ uid: UInt32, until gone: @escaping Gone) {
        state.withLock { $0.quarantined.append((uid, gone)) }
    }

    /// The uids in quarantine now.
    var quarantined: [UInt32] { state.withLock { $0.quarantined.map(\.uid) } }
}
