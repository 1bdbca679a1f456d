/// How a run ended, as the supervisor saw it.
public struct RunOutcome: Sendable, Equatable {
    public enum Ending: Sendable, Equatable {
        case exited(Int32)
        case signaled(Int32)
        case timeout
        case outOfMemory
        case cancelled(String)
        case failed(String)
    }

    public var ending: Ending
    public var wallSeconds: Double
    public var stats: CgroupStats
    public var storageFull: Bool
}

public enum OutputStream: UInt8, Sendable { case stdout = 1, stderr = 2 }
