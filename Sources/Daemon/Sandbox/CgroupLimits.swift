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

    /// Every minor of `major`.
    public static func all(major: UInt32) -> DeviceNumber { DeviceNumber(major: major, minor: anyMinor) }
    public static let anyMinor: UInt32 = 0xFFFF_FFFF  // GB_ANY_MINOR

    /// As devices.allow (cgroup v1) has it: "136:*", "1:3".
    var v1Text: String { "\(major):" + (minor == Self.anyMinor ? "*" : String(minor)) }
}

/// What a run's cgroup measured, read after the run is over.
public struct CgroupStats: Sendable, Equatable {
    public var userCPUSeconds: Double = 0
    public var systemCPUSeconds: Double = 0
    public var peakMemoryBytes: UInt64 = 0
    public var oomKills: UInt64 = 0
    public var pidsLimitHits: UInt64 = 0
    /// How long the CPU quota held the run's processes back, in all (cpu.stat).
    public var throttledSeconds: Double = 0
    public init() {}
}
