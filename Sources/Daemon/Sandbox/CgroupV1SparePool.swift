import CSandbox
import GloveboxSystem
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A run's v1 cgroups made ahead of need, `spare-N`: a directory in each hierarchy, the device list, the
/// OOM eventfd and the `tasks` descriptors, everything but the run's own limits. Making them is most of a
/// run's preparation on cgroup v1 (BENCHMARKS.md), so once started a thread keeps `capacity` of them ready;
/// a run or a warm sandbox takes one (CgroupV1Driver), and the thread makes the next.
final class CgroupV1SparePool: Sendable {
    private struct State {
        var ready: [CgroupV1Run] = []
        var next = 0
        var stopped = false
    }
    private let state = Mutex(State())
    private let maker = ThreadOnNeed()
    /// Held while a spare is being made: stop() waits out a maker caught mid-way.
    private let making = Mutex(())
    /// Wakes the maker when a spare was taken, or at stop().
    private let wake: FileDescriptor
    /// A run's cgroups of the given name, not yet made (CgroupV1Driver.newRun).
    private let newRun: @Sendable (String) -> CgroupV1Run

    init(newRun: @escaping @Sendable (String) -> CgroupV1Run) throws {
        self.newRun = newRun
        wake = FileDescriptor(try syscallValue("eventfd") { gb_eventfd() })
    }

    /// A spare set made now, for a caller that found none ready.
    func makeOne() throws -> CgroupV1Run {
        let spare = newRun(nextName())
        do { try spare.createSpare(devices: MountPlan.standardDevices) } catch {
            try? spare.remove()
            throw error
        }
        return spare
    }

    /// A ready spare, or nil; the maker is woken to make the next.
    func take() -> CgroupV1Run? {
        let spare: CgroupV1Run? = state.withLock { $0.ready.isEmpty ? nil : $0.ready.removeFirst() }
        if spare != nil { signal() }
        return spare
    }

    /// Starts the thread that keeps `capacity` spares ready (called once leftovers are removed).
    func start(capacity: Int, logger: Logger) throws {
        guard !state.withLock({ $0.stopped }) else { return }
        try maker.start { [self] in makeSpares(capacity: capacity, logger: logger) }
    }

    /// Stops making spares and removes those made (at shutdown, before the instance goes).
    func stop() {
        let ready: [CgroupV1Run] = state.withLock { s in
            s.stopped = true
            defer { s.ready = [] }
            return s.ready
        }
        signal()
        making.withLock { _ in }  // a spare being made is kept by nobody: its maker removes it
        for spare in ready { try? spare.remove() }
    }

    private func nextName() -> String {
        state.withLock { s in
            defer { s.next += 1 }
            return CgroupHierarchy.sparePrefix + String(s.next)
        }
    }

    private func signal() {
        var one: UInt64 = 1
        _ = write(wake.raw, &one, 8)
    }

    private func makeSpares(capacity: Int, logger: Logger) {
        while true {
            while true {
                let wanted = state.withLock { s in !s.stopped && s.ready.count < capacity }
                guard wanted else { break }
                let made: Bool = making.withLock { _ in
                    // stop() may have passed already: then no spare must be made behind its back.
                    if state.withLock({ $0.stopped }) { return false }
                    let spare: CgroupV1Run
                    do { spare = try makeOne() } catch {
                        // Runs still make their own cgroups; this only loses the head start.
                        logger.error("cannot make cgroups ahead of need; runs make their own", metadata: ["error": "\(error)"])
                        return false
                    }
                    let kept = state.withLock { s in
                        if s.stopped { return false }
                        s.ready.append(spare)
                        return true
                    }
                    if !kept { try? spare.remove() }
                    return kept
                }
                if !made { break }
            }
            if state.withLock({ $0.stopped }) { return }
            var counter: UInt64 = 0
            while read(wake.raw, &counter, 8) < 0 && errno == EINTR {}
        }
    }
}
