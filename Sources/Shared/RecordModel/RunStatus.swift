/// How a run ended (or that it has not ended yet). The raw values are what the database's `status`
/// column and the JSON record hold; the schema's CHECK constraint lists exactly these.
public enum RunStatus: String, Sendable, Codable, CaseIterable {
    case running
    case ok
    case exitedNonzero = "exited-nonzero"
    case signaled
    case timeout
    case oom
    case cancelled
    case refused
    case supervisorLost = "supervisor-lost"
    case internalError = "internal-error"
}
