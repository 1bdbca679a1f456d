import CSandbox
import GloveboxSystem
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A run in flight, as the rest of the daemon sees it: who owns it, its log, and the way to end it.
final class ActiveRun: Sendable {
    let id: Int64
    let ownerUID: uid_t
    let template: String
    let argv: [String]
    let startedAt: Double
    let log: RunLog
    /// Readable when someone asks the run to end; `reason` says who and why.
    let cancelEvent: FileDescriptor
    private let cancelReason = Mutex<String?>(nil)

    init(id: Int64, ownerUID: uid_t, template: String, argv: [String], startedAt: Double, log: RunLog) throws {
        self.id = id
        self.ownerUID = ownerUID
        self.template = template
        self.argv = argv
        self.startedAt = startedAt
        self.log = log
        cancelEvent = FileDescriptor(try syscallValue("eventfd") { gb_eventfd() })
    }

    /// The first reason given wins.
    func cancel(reason: String) {
        cancelReason.withLock { if $0 == nil { $0 = reason } }
        var one: UInt64 = 1
        _ = write(cancelEvent.raw, &one, 8)
    }

    var reason: String? { cancelReason.withLock { $0 } }
}
