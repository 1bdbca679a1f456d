import Synchronization

/// How many refusals of each user are recorded: anyone may be refused as often as they like, and each
/// recorded refusal is a runs row and an audit event on the state disk. At most `perMinute` of one uid's
/// are recorded in any minute; the rest are answered but not recorded, and the next one recorded says
/// how many were not.
final class RefusalLimiter: Sendable {
    private struct Window {
        var start: Double
        var recorded = 0
        /// Refusals not recorded since the last one that was.
        var unrecorded = 0
    }

    private let perMinute: Int
    private let windows = Mutex<[UInt32: Window]>([:])
    /// Windows kept before the finished ones are dropped.
    private static let tidyAbove = 4096

    init(perMinute: Int) { self.perMinute = perMinute }

    /// Whether a refusal of `uid` at `now` (monotonic seconds) is recorded, and if so how many of its
    /// refusals before it were not.
    func admit(_ uid: UInt32, now: Double) -> (record: Bool, unrecorded: Int) {
        windows.withLock { windows in
            if windows.count > Self.tidyAbove { windows = windows.filter { now - $0.value.start < 60 || $0.value.unrecorded > 0 } }
            var w = windows[uid] ?? Window(start: now)
            if now - w.start >= 60 { w.start = now; w.recorded = 0 }
            defer { windows[uid] = w }
            guard w.recorded < perMinute else {
                w.unrecorded += 1
                return (false, 0)
            }
            w.recorded += 1
            defer { w.unrecorded = 0 }
            return (true, w.unrecorded)
        }
    }
}
