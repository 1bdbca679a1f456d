/// Why a request produced no usable response. Descriptions name the request ("POST https://…") and never
/// contain header values, so API keys cannot leak through them.
public enum HTTPError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The request could not be made at all (bad URL, unsupported scheme, libcurl refused an option).
    case invalidRequest(request: String, reason: String)
    /// libcurl failed: connection refused, timeout, body shorter than Content-Length, TLS failure, ...
    /// `requestSent`: the request had gone out, so the server may have acted on it.
    case transport(request: String, curlCode: Int32, message: String, attempts: Int, requestSent: Bool)
    /// The server answered with a status that is not 2xx (after retries, where the status is retryable).
    case status(request: String, status: Int, body: String, attempts: Int)
    /// The response body exceeded the configured cap; the transfer was aborted.
    case responseTooLarge(request: String, limit: Int)
    /// The server asked to wait longer (Retry-After) than the retry policy allows.
    case retryAfterTooLong(request: String, seconds: Double, limit: Double)

    public var description: String {
        switch self {
        case let .invalidRequest(request, reason):
            return "\(request): invalid request: \(reason)"
        case let .transport(request, _, message, attempts, _):
            return "\(request): \(message)\(Self.after(attempts))"
        case let .status(request, status, body, attempts):
            let detail = body.isEmpty ? "" : ": \(body)"
            return "\(request): HTTP \(status)\(Self.after(attempts))\(detail)"
        case let .responseTooLarge(request, limit):
            return "\(request): response larger than \(limit) bytes, transfer aborted"
        case let .retryAfterTooLong(request, seconds, limit):
            return "\(request): server asked to retry after \(Int(seconds.rounded())) s, more than the \(Int(limit)) s allowed; giving up"
        }
    }

    private static func after(_ attempts: Int) -> String {
        attempts > 1 ? " (after \(attempts) attempts)" : ""
    }

    /// The HTTP status, when the failure was one.
    public var httpStatus: Int? {
        if case let .status(_, status, _, _) = self { return status }
        return nil
    }
}
