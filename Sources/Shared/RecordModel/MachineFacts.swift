/// What gloveboxd knows about the machine a run ran on, recorded with the run: measured by the supervisor,
/// never written by the run or its client. A paper's hardware facts come from here.
public struct MachineFacts: Sendable, Codable, Equatable {
    /// `uname -r`.
    public var kernel: String
    /// /proc/cpuinfo's first "model name" ("" where the kernel names none).
    public var cpuModel: String
    /// CPUs online on the machine.
    public var hostCPUs: Int
    /// CPUs the run could use: its CPU limit, at most the machine's.
    public var cpus: Double
    /// The run's memory limit.
    public var memoryLimitBytes: UInt64
    /// The GPUs leased to the run, in the order CUDA numbers them inside.
    public var gpus: [LeasedGPU]

    public init(kernel: String, cpuModel: String, hostCPUs: Int, cpus: Double, memoryLimitBytes: UInt64, gpus: [LeasedGPU] = []) {
        self.kernel = kernel; self.cpuModel = cpuModel; self.hostCPUs = hostCPUs; self.cpus = cpus
        self.memoryLimitBytes = memoryLimitBytes; self.gpus = gpus
    }

    enum CodingKeys: String, CodingKey {
        case kernel
        case cpuModel = "cpu_model"
        case hostCPUs = "host_cpus"
        case cpus
        case memoryLimitBytes = "memory_limit_bytes"
        case gpus
    }
}

/// One leased GPU as the driver describes it. A GPU the driver does not describe is recorded as such, with
/// what was missing, rather than guessed.
public struct LeasedGPU: Sendable, Codable, Equatable {
    /// The host's device node (/dev/nvidia0).
    public var device: String
    /// "NVIDIA H100 80GB HBM3", from /proc/driver/nvidia/gpus/*/information.
    public var name: String?
    public var uuid: String?
    /// The kernel module's version, from /proc/driver/nvidia/version.
    public var driverVersion: String?
    /// Empty when identified; otherwise what could not be read.
    public var problem: String

    public var identified: Bool { problem.isEmpty }

    public init(device: String, name: String?, uuid: String?, driverVersion: String?, problem: String) {
        self.device = device; self.name = name; self.uuid = uuid; self.driverVersion = driverVersion; self.problem = problem
    }

    enum CodingKeys: String, CodingKey {
        case device, name, uuid
        case driverVersion = "driver_version"
        case problem
    }
}
