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
    /// Processes of the run that SIGKILL had not ended `SandboxRun.killGrace` after it was sent (stuck in
    /// the kernel): the run is over for its client, and its uid stays out of use until they are gone.
    public var survivors = false
}

public enum OutputStream: UInt8, Sendable { case stdout = 1, stderr = 2 }
