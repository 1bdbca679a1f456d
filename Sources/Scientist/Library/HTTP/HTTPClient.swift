import Foundation
import Logging

/// HTTP over libcurl with timeouts and retries. Synchronous: each call blocks its thread until the final
/// response or error (the scientist's stages are sequential).
public struct HTTPClient: Sendable {
    public struct Configuration: Sendable {
        public var connectTimeout: Duration
        public var totalTimeout: Duration
        /// Responses larger than this are aborted (a model reply is a few hundred KiB at most).
        public var maxResponseBytes: Int
        public var retry: RetryPolicy
        public var userAgent: String

        public init(connectTimeout: Duration = .seconds(10), totalTimeout: Duration = .seconds(300),
                    maxResponseBytes: Int = 16 << 20, retry: RetryPolicy = RetryPolicy(),
                    userAgent: String = "glovebox-scientist/0.1") {
            self.connectTimeout = connectTimeout
            self.totalTimeout = totalTimeout
            self.maxResponseBytes = maxResponseBytes
            self.retry = retry
            self.userAgent = userAgent
        }
    }

    public let configuration: Configuration
    private let logger: Logger

    public init(configuration: Configuration = Configuration(), logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Sends `request`, retrying as `configuration.retry` says. Returns only 2xx responses; anything else is an
    /// `HTTPError` naming the request, never its headers.
    public func send(_ request: HTTPRequest) throws(HTTPError) -> HTTPResponse {
        guard request.url.hasPrefix("http://") || request.url.hasPrefix("https://") else {
            throw .invalidRequest(request: request.summary, reason: "only http:// and https:// URLs are allowed")
        }
        let transport = CurlTransport(
            connectTimeoutMilliseconds: Self.milliseconds(configuration.connectTimeout),
            totalTimeoutMilliseconds: Self.milliseconds(configuration.totalTimeout),
            maxResponseBytes: configuration.maxResponseBytes,
            userAgent: configuration.userAgent)
        let policy = configuration.retry
        var attempt = 0
        while true {
            attempt += 1
            let started = ContinuousClock.now
            let outcome = transport.perform(request)
            let elapsed = ContinuousClock.now - started
            let wait: Duration
            switch outcome {
            case let .success(response):
                logger.debug("http exchange", metadata: ["request": "\(request.summary)", "status": "\(response.status)",
                                                          "attempt": "\(attempt)", "elapsed": "\(elapsed)"])
                if response.isSuccess { return response }
                let failure = HTTPError.status(request: request.summary, status: response.status,
                                               body: response.bodyExcerpt(), attempts: attempt)
                guard RetryPolicy.isRetryable(status: response.status), attempt < policy.maxAttempts else { throw failure }
                wait = try delay(after: response, attempt: attempt, request: request)
            case let .failure(.curl(code, message, sent)):
                let failure = HTTPError.transport(request: request.summary, curlCode: Int32(code.rawValue),
                                                  message: message, attempts: attempt, requestSent: sent)
                guard CurlTransport.isTransient(code), !sent || policy.retriesAfterSending, attempt < policy.maxAttempts else {
                    throw failure
                }
                wait = policy.backoff(afterAttempt: attempt)
            case .failure(.tooLarge):
                throw .responseTooLarge(request: request.summary, limit: configuration.maxResponseBytes)
            case let .failure(.invalid(reason)):
                throw .invalidRequest(request: request.summary, reason: reason)
            }
            logger.warning("retrying http request", metadata: ["request": "\(request.summary)", "attempt": "\(attempt)",
                                                               "wait": "\(wait)"])
            policy.sleep(wait)
        }
    }

    /// The wait before the next attempt after a retryable status: Retry-After when the server sent a usable
    /// one, else exponential backoff.
    private func delay(after response: HTTPResponse, attempt: Int, request: HTTPRequest) throws(HTTPError) -> Duration {
        let policy = configuration.retry
        guard let value = response.header("Retry-After"), let asked = RetryPolicy.retryAfter(value) else {
            return policy.backoff(afterAttempt: attempt)
        }
        guard asked <= policy.maxRetryAfter else {
            throw .retryAfterTooLong(request: request.summary, seconds: Self.seconds(asked),
                                     limit: Self.seconds(policy.maxRetryAfter))
        }
        return asked
    }

    static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }

    static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
