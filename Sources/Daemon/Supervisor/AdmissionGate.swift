import CSandbox
import GloveboxSystem
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The caps on how many runs may go at once and how many may start in an hour: globally, per user, per
/// template and per user within a template. All of them are operator settings (daemon config and policy
/// files); a client can only wait or give up. Requests over a cap wait in one FIFO queue, or are refused
/// naming the cap, as the policy says.
final class AdmissionGate: Sendable {
    /// One cap a request counts against.
    struct Constraint: Sendable, Hashable {
        let key: String          // "global", "user:1000", "template:python", "template-user:python:1000"
        let concurrent: Int?
        let perHour: Int?
        let name: String         // for messages: "runs of uid 1000"
    }

    /// A request that had to wait; it holds its place until admitted or withdrawn.
    final class Waiter: Sendable {
        let constraints: [Constraint]
        /// Whole GPUs the run needs, leased exclusively from the pool.
        let gpus: Int
        let wake: FileDescriptor
        init(_ constraints: [Constraint], gpus: Int = 0) throws {
            self.constraints = constraints
            self.gpus = gpus
            wake = FileDescriptor(try syscallValue("eventfd") { gb_eventfd() })
        }
    }

    enum Decision {
        /// Through every cap, holding these GPUs (indices into the pool) until `release`.
        case admitted(gpus: [Int])
        case refused(String)
        /// Not yet: why, the place in the queue (1 = next), and when to look again at the latest (hourly caps).
        case waiting(reason: String, position: Int, retryAt: Double?)
    }

    private struct State {
        var running: [String: Int] = [:]
        var starts: [String: [Double]] = [:]
        var queue: [ObjectIdentifier: (order: Int, waiter: Waiter)] = [:]
        var nextOrder = 0
        var freeGPUs: [Int]
    }
    private let state: Mutex<State>
    let maxQueued: Int

    init(maxQueued: Int, gpus: Int) {
        self.maxQueued = maxQueued
        state = Mutex(State(freeGPUs: Array(0..<gpus)))
    }

    /// Admits now, or refuses (`queue` false, or the queue is full), or enqueues `waiter` and says why.
    /// Called again by a waiter when woken; the earliest admissible waiter always goes first.
    func request(_ waiter: Waiter, queue: Bool, now: Double = Monotonic.now()) -> Decision {
        state.withLock { s in
            let id = ObjectIdentifier(waiter)
            let queued = s.queue[id]
            let ahead = s.queue.values.filter { queued == nil || $0.order < queued!.order }.sorted { $0.order < $1.order }
            let blocker = Self.blocker(waiter, in: &s, now: now)
            let someoneAheadCanGo = ahead.contains { Self.blocker($0.waiter, in: &s, now: now) == nil }
            if blocker == nil && !someoneAheadCanGo {
                s.queue[id] = nil
                for c in waiter.constraints {
                    s.running[c.key, default: 0] += 1
                    if c.perHour != nil { s.starts[c.key, default: []].append(now) }
                }
                let leased = Array(s.freeGPUs.prefix(waiter.gpus))
                s.freeGPUs.removeFirst(leased.count)
                return .admitted(gpus: leased)
            }
            let reason = blocker.map(\.reason) ?? "others are ahead in the queue"
            guard queue else { return .refused(reason) }
            if queued == nil {
                guard s.queue.count < maxQueued else { return .refused("\(reason), and the queue is full (\(maxQueued) waiting)") }
                s.queue[id] = (s.nextOrder, waiter)
                s.nextOrder += 1
            }
            let position = s.queue.values.filter { $0.order <= s.queue[id]!.order }.count
            return .waiting(reason: reason, position: position, retryAt: blocker?.retryAt)
        }
    }

    /// A waiter that gave up.
    func withdraw(_ waiter: Waiter) {
        state.withLock { s in
            s.queue[ObjectIdentifier(waiter)] = nil
            Self.wakeAll(s)
        }
    }

    /// A run admitted with `constraints` has ended: its places and GPUs free up and the queue looks again.
    func release(_ constraints: [Constraint], gpus: [Int]) {
        state.withLock { s in
            for c in constraints { s.running[c.key, default: 1] -= 1 }
            s.freeGPUs = (s.freeGPUs + gpus).sorted()
            Self.wakeAll(s)
        }
    }

    private static func wakeAll(_ s: State) {
        var one: UInt64 = 1
        for entry in s.queue.values { _ = write(entry.waiter.wake.raw, &one, 8) }
    }

    /// The first cap that stops this request now, with when an hourly one frees up.
    private static func blocker(_ waiter: Waiter, in s: inout State, now: Double) -> (reason: String, retryAt: Double?)? {
        if waiter.gpus > s.freeGPUs.count {
            return ("\(waiter.gpus) GPU(s) asked for and \(s.freeGPUs.count) free (the others are leased to runs in flight)", nil)
        }
        for c in waiter.constraints {
            if let cap = c.concurrent, s.running[c.key, default: 0] >= cap {
                return ("at the cap of \(cap) concurrent \(c.name)", nil)
            }
            if let cap = c.perHour {
                let recent = s.starts[c.key, default: []].filter { $0 > now - 3600 }
                s.starts[c.key] = recent
                if recent.count >= cap {
                    return ("at the cap of \(cap) \(c.name) an hour", recent.min()! + 3600)
                }
            }
        }
        return nil
    }
}
