/// Resource limits of a run: a policy's ceiling, or the effective limits after a client's request.
public struct Limits: Sendable, Equatable, Codable {
    /// Wall clock, > 0, <= 30 days.
    public var timeoutSeconds: Double
    /// Memory (cgroup), >= 4 MiB.
    public var memoryBytes: UInt64
    /// Number of tasks, 1...4_194_304.
    public var pids: Int
    /// Fraction of CPUs (0.5, 2), > 0, <= 1024.
    public var cpus: Double
    /// Writable workspace and /tmp together, >= 1 MiB.
    public var storageBytes: UInt64
    /// GPUs leased to the run, >= 0.
    public var gpus: Int
    /// Maximum size of one file carried out via --output, >= 1.
    public var outputFileBytes: UInt64
    /// The size of the run's /dev/shm as the policy sets it, at most `memoryBytes`; nil: `shmShare` of the
    /// memory limit (`effectiveShmBytes`).
    public var shmBytes: UInt64?

    public init(timeoutSeconds: Double, memoryBytes: UInt64, pids: Int, cpus: Double, storageBytes: UInt64,
                gpus: Int = 0, outputFileBytes: UInt64 = Limits.defaultOutputFileBytes, shmBytes: UInt64? = nil) {
        self.timeoutSeconds = timeoutSeconds
        self.memoryBytes = memoryBytes
        self.pids = pids
        self.cpus = cpus
        self.storageBytes = storageBytes
        self.gpus = gpus
        self.outputFileBytes = outputFileBytes
        self.shmBytes = shmBytes
    }

    /// The share of the memory limit /dev/shm gets where the policy does not say. Its pages are charged to
    /// the run's memory cgroup either way: the size only decides where shared memory runs out first.
    public static let shmShare: UInt64 = 2  // a half

    /// The run's /dev/shm: the policy's size, else half the memory limit; never more than the memory limit
    /// (a client's lower --memory lowers it too).
    public var effectiveShmBytes: UInt64 { min(shmBytes ?? memoryBytes / Self.shmShare, memoryBytes) }

    // The valid ranges, shared by policy validation and request checking.
    public static let maximumTimeoutSeconds: Double = 30 * 86_400
    public static let minimumMemoryBytes: UInt64 = 4 << 20
    public static let maximumPids = 4_194_304
    public static let maximumCPUs: Double = 1024
    public static let minimumStorageBytes: UInt64 = 1 << 20
    public static let defaultOutputFileBytes: UInt64 = 256 << 20
}

extension Limits {
    /// The effective limits: the request where given, else the policy's (`self`).
    ///
    /// Throws the first violation, in the order timeout, memory, pids, cpus, storage, gpus, when a requested
    /// value is looser (greater) than the policy's, or invalid: not finite, or below the minimum a policy may
    /// have (timeout <= 0, memory < 4 MiB, pids < 1, cpus <= 0, storage < 1 MiB, gpus < 0). So the result is
    /// always a valid `Limits` no looser than `self`. `outputFileBytes` is always the policy's.
    public func tightened(by request: LimitRequest) throws(LimitViolation) -> Limits {
        var out = self
        if let t = request.timeoutSeconds {
            let allowed = DurationText.format(timeoutSeconds)
            guard t.isFinite, t > 0 else {
                throw LimitViolation(limit: "timeout", requested: DurationText.format(t),
                                     allowed: "more than 0s, at most \(allowed)", invalid: true)
            }
            guard t <= timeoutSeconds else {
                throw LimitViolation(limit: "timeout", requested: DurationText.format(t), allowed: allowed)
            }
            out.timeoutSeconds = t
        }
        if let m = request.memoryBytes {
            out.memoryBytes = try Self.check("memory", m, min: Self.minimumMemoryBytes, max: memoryBytes)
        }
        if let p = request.pids { out.pids = try Self.check("pids", p, min: 1, max: pids) }
        if let c = request.cpus {
            let allowed = Self.formatCPUs(cpus)
            guard c.isFinite, c > 0 else {
                throw LimitViolation(limit: "cpus", requested: Self.formatCPUs(c),
                                     allowed: "more than 0, at most \(allowed)", invalid: true)
            }
            guard c <= cpus else { throw LimitViolation(limit: "cpus", requested: Self.formatCPUs(c), allowed: allowed) }
            out.cpus = c
        }
        if let s = request.storageBytes {
            out.storageBytes = try Self.check("storage", s, min: Self.minimumStorageBytes, max: storageBytes)
        }
        if let g = request.gpus { out.gpus = try Self.check("gpus", g, min: 0, max: gpus) }
        return out
    }

    private static func check(_ limit: String, _ value: UInt64, min: UInt64, max: UInt64) throws(LimitViolation) -> UInt64 {
        guard value >= min else {
            throw LimitViolation(limit: limit, requested: ByteSize.format(value),
                                 allowed: "\(ByteSize.format(min)) to \(ByteSize.format(max))", invalid: true)
        }
        guard value <= max else {
            throw LimitViolation(limit: limit, requested: ByteSize.format(value), allowed: ByteSize.format(max))
        }
        return value
    }

    private static func check(_ limit: String, _ value: Int, min: Int, max: Int) throws(LimitViolation) -> Int {
        guard value >= min else {
            throw LimitViolation(limit: limit, requested: String(value), allowed: "\(min) to \(max)", invalid: true)
        }
        guard value <= max else { throw LimitViolation(limit: limit, requested: String(value), allowed: String(max)) }
        return value
    }

    /// "2", "0.5", "1.25".
    package static func formatCPUs(_ c: Double) -> String {
        if c.isFinite, c == c.rounded(), abs(c) < 1e15 { return String(Int64(c)) }
        return String(describing: c)
    }
}
