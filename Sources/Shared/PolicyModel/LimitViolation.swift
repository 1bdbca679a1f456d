/// A requested limit looser than the policy's, or not a valid value at all.
public struct LimitViolation: Error, Sendable, Equatable, CustomStringConvertible {
    /// "timeout", "memory", "pids", "cpus", "storage" or "gpus".
    public let limit: String
    /// Human text of the requested value, e.g. "8 GiB".
    public let requested: String
    /// Human text of what is allowed: the policy's value ("2 GiB"), or a range when `invalid` ("4 MiB to 2 GiB").
    public let allowed: String
    /// True when the requested value is invalid in itself (e.g. memory 0), rather than above the policy's.
    public let invalid: Bool

    public init(limit: String, requested: String, allowed: String, invalid: Bool = false) {
        self.limit = limit
        self.requested = requested
        self.allowed = allowed
        self.invalid = invalid
    }

    /// "requested memory 8 GiB exceeds the policy's 2 GiB", or
    /// "requested memory 0 B is invalid (allowed: 4 MiB to 2 GiB)".
    public var description: String {
        invalid
            ? "requested \(limit) \(requested) is invalid (allowed: \(allowed))"
            : "requested \(limit) \(requested) exceeds the policy's \(allowed)"
    }
}
