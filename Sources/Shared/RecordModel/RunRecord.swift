/// One run, as stored in the `runs` table. Also the JSON of `glovebox run --record FILE` and `glovebox show`:
/// snake_case keys, every key always present (absent values are written as `null`), so consumers such as
/// `jq` see a stable shape.
public struct RunRecord: Sendable, Codable, Equatable {
    /// Assigned by the store on insert (0 before).
    public var id: Int64
    public var template: String
    public var policyDigest: String
    public var clientUID: UInt32
    public var clientPID: Int32
    public var argv: [String]
    /// Unix time, seconds (fractional).
    public var startedAt: Double
    public var endedAt: Double?
    public var wallSeconds: Double?
    public var userCPUSeconds: Double?
    public var systemCPUSeconds: Double?
    public var peakMemoryBytes: UInt64?
    public var exitCode: Int32?
    public var signal: Int32?
    public var status: RunStatus
    public var limitsHit: [LimitHit]
    /// Why it ended / why it was refused; "" when there is nothing to say.
    public var message: String
    /// The effective limits: timeout_seconds, memory_bytes, pids, cpus, storage_bytes, gpus.
    public var limits: [String: Double]
    public var sandboxUID: UInt32?
    /// `uname -r` of the machine that ran it.
    public var kernel: String
    /// The machine as gloveboxd measured it for this run: CPU, memory limit, leased GPUs (nil for a refused run,
    /// and for runs recorded before gloveboxd kept it).
    public var machine: MachineFacts?

    public init(
        id: Int64 = 0,
        template: String,
        policyDigest: String,
        clientUID: UInt32,
        clientPID: Int32,
        argv: [String],
        startedAt: Double,
        endedAt: Double? = nil,
        wallSeconds: Double? = nil,
        userCPUSeconds: Double? = nil,
        systemCPUSeconds: Double? = nil,
        peakMemoryBytes: UInt64? = nil,
        exitCode: Int32? = nil,
        signal: Int32? = nil,
        status: RunStatus = .running,
        limitsHit: [LimitHit] = [],
        message: String = "",
        limits: [String: Double] = [:],
        sandboxUID: UInt32? = nil,
        kernel: String = "",
        machine: MachineFacts? = nil
    ) {
        self.id = id
        self.template = template
        self.policyDigest = policyDigest
        self.clientUID = clientUID
        self.clientPID = clientPID
        self.argv = argv
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.wallSeconds = wallSeconds
        self.userCPUSeconds = userCPUSeconds
        self.systemCPUSeconds = systemCPUSeconds
        self.peakMemoryBytes = peakMemoryBytes
        self.exitCode = exitCode
        self.signal = signal
        self.status = status
        self.limitsHit = limitsHit
        self.message = message
        self.limits = limits
        self.sandboxUID = sandboxUID
        self.kernel = kernel
        self.machine = machine
    }

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case id
        case template
        case policyDigest = "policy_digest"
        case clientUID = "client_uid"
        case clientPID = "client_pid"
        case argv
        case startedAt = "started_at"
        case endedAt = "ended_at"
        case wallSeconds = "wall_seconds"
        case userCPUSeconds = "user_cpu_seconds"
        case systemCPUSeconds = "system_cpu_seconds"
        case peakMemoryBytes = "peak_memory_bytes"
        case exitCode = "exit_code"
        case signal
        case status
        case limitsHit = "limits_hit"
        case message
        case limits
        case sandboxUID = "sandbox_uid"
        case kernel
        case machine
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decodeIfPresent(Int64.self, forKey: .id) ?? 0
        template = try c.decode(String.self, forKey: .template)
        policyDigest = try c.decode(String.self, forKey: .policyDigest)
        clientUID = try c.decode(UInt32.self, forKey: .clientUID)
        clientPID = try c.decode(Int32.self, forKey: .clientPID)
        argv = try c.decode([String].self, forKey: .argv)
        startedAt = try c.decode(Double.self, forKey: .startedAt)
        endedAt = try c.decodeIfPresent(Double.self, forKey: .endedAt)
        wallSeconds = try c.decodeIfPresent(Double.self, forKey: .wallSeconds)
        userCPUSeconds = try c.decodeIfPresent(Double.self, forKey: .userCPUSeconds)
        systemCPUSeconds = try c.decodeIfPresent(Double.self, forKey: .systemCPUSeconds)
        peakMemoryBytes = try c.decodeIfPresent(UInt64.self, forKey: .peakMemoryBytes)
        exitCode = try c.decodeIfPresent(Int32.self, forKey: .exitCode)
        signal = try c.decodeIfPresent(Int32.self, forKey: .signal)
        status = try c.decode(RunStatus.self, forKey: .status)
        limitsHit = try c.decodeIfPresent([LimitHit].self, forKey: .limitsHit) ?? []
        message = try c.decodeIfPresent(String.self, forKey: .message) ?? ""
        limits = try c.decodeIfPresent([String: Double].self, forKey: .limits) ?? [:]
        sandboxUID = try c.decodeIfPresent(UInt32.self, forKey: .sandboxUID)
        kernel = try c.decodeIfPresent(String.self, forKey: .kernel) ?? ""
        machine = try c.decodeIfPresent(MachineFacts.self, forKey: .machine)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(template, forKey: .template)
        try c.encode(policyDigest, forKey: .policyDigest)
        try c.encode(clientUID, forKey: .clientUID)
        try c.encode(clientPID, forKey: .clientPID)
        try c.encode(argv, forKey: .argv)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encode(endedAt, forKey: .endedAt)
        try c.encode(wallSeconds, forKey: .wallSeconds)
        try c.encode(userCPUSeconds, forKey: .userCPUSeconds)
        try c.encode(systemCPUSeconds, forKey: .systemCPUSeconds)
        try c.encode(peakMemoryBytes, forKey: .peakMemoryBytes)
        try c.encode(exitCode, forKey: .exitCode)
        try c.encode(signal, forKey: .signal)
        try c.encode(status, forKey: .status)
        try c.encode(limitsHit, forKey: .limitsHit)
        try c.encode(message, forKey: .message)
        try c.encode(limits, forKey: .limits)
        try c.encode(sandboxUID, forKey: .sandboxUID)
        try c.encode(kernel, forKey: .kernel)
        try c.encode(machine, forKey: .machine)
    }
}
