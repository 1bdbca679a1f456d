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
        let wake: FileDescriptor
        init(_ constraints: [Constraint]) throws {
            self.constraints = constraints
            wake = FileDescriptor(try syscallValue("eventfd") { gb_eventfd() })
        }
    }

    enum Decision {
        case admitted
        case refused(String)
        /// Not yet: why, the place in the queue (1 = next), and when to look again at the latest (hourly caps).
        case waiting(reason: String, position: Int, retryAt: Double?)
    }

    private struct State {
        var running: [String: Int] = [:]
        var starts: [String: [Double]] = [:]
        var queue: [ObjectIdentifier: (order: Int, waiter: Waiter)] = [:]
        var nextOrder = 0
    }
    private let state = Mutex(State())
    let maxQueued: Int

    init(maxQueued: Int) { self.maxQueued = maxQueued }

    /// Admits now, or refuses (`queue` false, or the queue is full), or enqueues `waiter` and says why.
    /// Called again by a waiter when woken; the earliest admissible waiter always goes first.
    func request(_ waiter: Waiter, queue: Bool, now: Double = Monotonic.now()) -> Decision {
        state.withLock { s in
            let id = ObjectIdentifier(waiter)
            let queued = s.queue[id]
            let ahead = s.queue.values.filter { queued == nil || $0.order < queued!.order }.sorted { $0.order < $1.order }
            let blocker = Self.blocker(waiter.constraints, in: &s, now: now)
            let someoneAheadCanGo = ahead.contains { Self.blocker($0.waiter.constraints, in: &s, now: now) == nil }
            if blocker == nil && !someoneAheadCanGo {
                s.queue[id] = nil
                for c in waiter.constraints {
                    s.running[c.key, default: 0] += 1
                    if c.perHour != nil { s.starts[c.key, default: []].append(now) }
                }
                return .admitted
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

    /// A run admitted with `constraints` has ended: its places free up and the queue looks again.
    func release(_ constraints: [Constraint]) {
        state.withLock { s in
            for c in constraints { s.running[c.key, default: 1] -= 1 }
            Self.wakeAll(s)
        }
    }

    private static func wakeAll(_ s: State) {
        var one: UInt64 = 1
        for entry in s.queue.values { _ = write(entry.waiter.wake.raw, &one, 8) }
    }

    /// The first cap that stops these constraints now, with when an hourly one frees up.
    private static func blocker(_ constraints: [Constraint], in s: inout State, now: Double) -> (reason: String, retryAt: Double?)? {
        for c in constraints {
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
