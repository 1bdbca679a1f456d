/// Limits a client asks for; nil means "the policy's value". See `Limits.tightened(by:)`.
public struct LimitRequest: Sendable, Equatable, Codable {
    public var timeoutSeconds: Double?
    public var memoryBytes: UInt64?
    public var pids: Int?
    public var cpus: Double?
    public var storageBytes: UInt64?
    public var gpus: Int?

    public init(timeoutSeconds: Double? = nil, memoryBytes: UInt64? = nil, pids: Int? = nil,
                cpus: Double? = nil, storageBytes: UInt64? = nil, gpus: Int? = nil) {
        self.timeoutSeconds = timeoutSeconds
        self.memoryBytes = memoryBytes
        self.pids = pids
        self.cpus = cpus
        self.storageBytes = storageBytes
        self.gpus = gpus
    }
}
