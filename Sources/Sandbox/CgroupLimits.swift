/// What the kernel enforces on one run through its cgroup.
public struct CgroupLimits: Sendable, Equatable {
    public var memoryBytes: UInt64
    public var pids: Int
    public var cpus: Double
    /// Character devices the run may open (and nothing else).
    public var devices: [DeviceNumber]

    public init(memoryBytes: UInt64, pids: Int, cpus: Double, devices: [DeviceNumber]) {
        self.memoryBytes = memoryBytes
        self.pids = pids
        self.cpus = cpus
        self.devices = devices
    }
}

public struct DeviceNumber: Sendable, Equatable, Hashable {
    public var major: UInt32
    public var minor: UInt32
    public init(major: UInt32, minor: UInt32) { self.major = major; self.minor = minor }
}

/// What a run's cgroup measured, read after the run is over.
public struct CgroupStats: Sendable, Equatable {
    public var userCPUSeconds: Double = 0
    public var systemCPUSeconds: Double = 0
    public var peakMemoryBytes: UInt64 = 0
    public var oomKills: UInt64 = 0
    public var pidsLimitHits: UInt64 = 0
    public var throttledPeriods: UInt64 = 0
    public init() {}
}
