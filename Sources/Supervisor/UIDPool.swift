import Synchronization

/// Hands out a distinct sandbox uid to each concurrent run.
final class UIDPool: Sendable {
    private let base: UInt32
    private let count: UInt32
    private let used = Mutex<Set<UInt32>>([])

    init(base: UInt32, count: UInt32) {
        self.base = base
        self.count = count
    }

    func acquire() -> UInt32? {
        used.withLock { used in
            for offset in 0..<count where !used.contains(base + offset) {
                used.insert(base + offset)
                return base + offset
            }
            return nil
        }
    }

    func release(_ uid: UInt32) { _ = used.withLock { $0.remove(uid) } }
}
