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
    /// /dev/shm was full, or nearly, at the end.
    public var shmFull = false
    /// Processes of the run that SIGKILL had not ended `SandboxRun.killGrace` after it was sent (stuck in
    /// the kernel): the run is over for its client, and its uid stays out of use until they are gone.
    public var survivors = false
}

extension RunOutcome {
    /// The share of a run's wall-clock time its CPU quota must have held it back for before the record
    /// lists cpu-throttled. The kernel throttles in 100 ms periods at the smallest hint of going over
    /// (a run of cpus = 2 on two cores is throttled now and then); below this share the quota cost the
    /// run nothing worth naming.
    public static let throttledShare = 0.1

    /// Whether the CPU quota held the run back for at least `throttledShare` of its wall-clock time.
    public var cpuThrottled: Bool { wallSeconds > 0 && stats.throttledSeconds >= Self.throttledShare * wallSeconds }
}

public enum OutputStream: UInt8, Sendable { case stdout = 1, stderr = 2 }
