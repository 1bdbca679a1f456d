/// A resource limit that a run ran into (it may have been hit without ending the run).
public enum LimitHit: String, Sendable, Codable, CaseIterable {
    case memory
    case pids
    case storage
    case cpuThrottled = "cpu-throttled"
    /// /dev/shm was full, or nearly, when the run ended.
    case shm
}
