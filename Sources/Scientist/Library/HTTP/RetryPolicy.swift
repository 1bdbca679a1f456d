import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// When and how long to wait before trying a request again.
///
/// Retried: HTTP 429 and every 5xx, and transport failures that may be transient (connection refused or reset,
/// timeouts, a body cut short, nothing received). Not retried: other 4xx, TLS and certificate failures, an
/// oversized response. With `retriesAfterSending` false, a transport failure after the request went out
/// (a timeout or a connection lost mid-reply) is not retried either: a model call is not idempotent — the
/// provider may have run and billed it — so it is reported and charged once instead of repeated unseen by the
/// budget. A Retry-After header (delta-seconds or HTTP-date) sets the wait; otherwise the wait
/// doubles from `baseDelay` up to `maxDelay`, with up to 25% jitter added. A Retry-After longer than
/// `maxRetryAfter` ends the request at once with a clear error instead of sleeping for it.
public struct RetryPolicy: Sendable {
    /// Attempts in all, the first included (1 = no retries).
    public var maxAttempts: Int
    public var baseDelay: Duration
    public var maxDelay: Duration
    public var maxRetryAfter: Duration
    /// Whether a transport failure after the request was sent is retried (true for searches, false for model calls).
    public var retriesAfterSending: Bool
    /// How the client waits; tests substitute one that records the waits.
    public var sleep: @Sendable (Duration) -> Void

    public init(maxAttempts: Int = 5, baseDelay: Duration = .seconds(1), maxDelay: Duration = .seconds(60),
                maxRetryAfter: Duration = .seconds(300), retriesAfterSending: Bool = true, sleep: @escaping @Sendable (Duration) -> Void = RetryPolicy.threadSleep) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxRetryAfter = maxRetryAfter
        self.retriesAfterSending = retriesAfterSending
        self.sleep = sleep
    }

    public static let threadSleep: @Sendable (Duration) -> Void = { duration in
        let (seconds, attoseconds) = duration.components
        guard seconds > 0 || attoseconds > 0 else { return }
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) == -1 && errno == EINTR { request = remaining }
    }

    public static func isRetryable(status: Int) -> Bool {
        status == 429 || (500...599).contains(status)
    }

    /// The exponential backoff before attempt `attempt + 1` (attempt counts from 1), jitter included.
    public func backoff(afterAttempt attempt: Int) -> Duration {
        let exponent = min(max(attempt - 1, 0), 30)
        let raw = baseDelay * (1 << exponent)
        let capped = min(raw, maxDelay)
        let jitter = capped * Double.random(in: 0...0.25)
        return capped + jitter
    }

    /// The wait a Retry-After value asks for: delta-seconds ("120") or an HTTP-date
    /// ("Wed, 21 Oct 2015 07:28:00 GMT", relative to `now`, never negative). Nil when the value is neither.
    public static func retryAfter(_ value: String, now: Double = Date().timeIntervalSince1970) -> Duration? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if let seconds = UInt64(trimmed) { return .seconds(seconds) }
        guard let date = HTTPDate.parse(trimmed) else { return nil }
        return .milliseconds(Int64((max(0, date - now) * 1000).rounded(.up)))
    }
}
