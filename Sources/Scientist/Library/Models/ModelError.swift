/// Why a model call produced no usable text. Every message is passed through the key's redaction before it is
/// built, so an API key echoed by a server never reaches a log or the terminal.
public enum ModelError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The HTTP exchange failed (after retries where they apply); the text is the redacted `HTTPError`.
    case request(model: String, detail: String)
    /// The request went out but no complete reply came back (timeout, connection lost, body cut short): the
    /// provider may have run, and billed, the call. Not retried.
    case noReply(model: String, detail: String)
    /// The provider answered 2xx with a body that is not its documented reply format.
    case malformedReply(model: String, detail: String)
    /// The reply was well formed but held no text (refusal, empty content).
    case emptyReply(model: String, stopReason: String?)

    public var description: String {
        switch self {
        case let .request(model, detail): "model \(model): request failed: \(detail)"
        case let .noReply(model, detail): "model \(model): no complete reply (the call may still have been billed, and is charged at its worst case): \(detail)"
        case let .malformedReply(model, detail): "model \(model): malformed reply: \(detail)"
        case let .emptyReply(model, reason): "model \(model): reply contained no text (stop reason: \(reason ?? "none"))"
        }
    }

    /// True when the server may have done (and billed) the work: the reply came back but could not be used.
    var mayHaveBeenBilled: Bool {
        switch self {
        case .request: false
        case .noReply, .malformedReply, .emptyReply: true
        }
    }
}
