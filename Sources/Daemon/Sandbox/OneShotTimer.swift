import CSandbox
#if canImport(Glibc)
import Glibc
#endif

/// A timerfd that goes off once at a monotonic time, for a thread that sleeps on it (LaunchWatchdog,
/// PreparedRoots). It lives in its owner's locked state: setting it to a later time than it has never wakes
/// the thread, and the thread sets it again, under the lock, each time it wakes.
public struct OneShotTimer: Sendable {
    public let descriptor: Int32
    /// When it goes off next (monotonic), or nil when it is disarmed.
    public private(set) var time: Double?

    public init() {
        descriptor = gb_timerfd()
        precondition(descriptor >= 0, "timerfd_create: \(String(cString: strerror(errno)))")
    }

    /// Sets it to go off at `time` (absolute; a time already past goes off at once), or disarms it.
    public mutating func set(_ time: Double?) {
        let rc = gb_timerfd_set(descriptor, time ?? 0)
        precondition(rc == 0, "timerfd_settime: \(String(cString: strerror(errno)))")
        self.time = time
    }

    /// Sets it to `time` unless it goes off sooner already.
    public mutating func setIfSooner(_ time: Double) {
        if self.time.map({ time < $0 }) ?? true { set(time) }
    }

    /// Sleeps until the timer behind `descriptor` goes off; outside the owner's lock.
    public static func wait(_ descriptor: Int32) {
        var expirations: UInt64 = 0
        while read(descriptor, &expirations, 8) < 0 && errno == EINTR {}
    }
}
