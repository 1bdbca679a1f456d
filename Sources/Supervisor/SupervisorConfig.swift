import Policy

/// The daemon's settings. Every limit a run gets comes from a policy file; nothing here or in a client
/// request can lengthen a run once it has started.
public struct SupervisorConfig: Sendable {
    public var socketPath: String
    public var stateDirectory: String
    public var policyDirectory: String
    /// Runs get uids [base, base + count): one per concurrent run, owned by no real user.
    public var sandboxUIDBase: UInt32
    public var sandboxUIDCount: UInt32
    /// Mode of the socket file. Who may run what is decided per policy ([access]), not by the mode.
    public var socketMode: UInt32
    /// Members of this group see and kill every run (root always does).
    public var adminGroup: String?
    /// How much of each run's stdout and stderr is kept under the state directory.
    public var logOutputBytes: UInt64
    /// Caps on runs at once and starts an hour, over all runs and per user; templates add their own.
    public var maxConcurrentRuns = 64
    public var maxRunsPerHour = 3600
    public var perUserConcurrentRuns = 8
    public var perUserRunsPerHour = 600
    /// Over a cap: wait in the queue or be refused, unless the template says otherwise.
    public var overCap = OverCapAction.queue
    public var maxQueued = 256

    public init(socketPath: String = "/run/glovebox/glovebox.sock", stateDirectory: String = "/var/lib/glovebox",
                policyDirectory: String = "/etc/glovebox/policies", sandboxUIDBase: UInt32 = 1_900_000_000,
                sandboxUIDCount: UInt32 = 65_536, socketMode: UInt32 = 0o666, adminGroup: String? = nil,
                logOutputBytes: UInt64 = 64 << 20) {
        self.socketPath = socketPath
        self.stateDirectory = stateDirectory
        self.policyDirectory = policyDirectory
        self.sandboxUIDBase = sandboxUIDBase
        self.sandboxUIDCount = sandboxUIDCount
        self.socketMode = socketMode
        self.adminGroup = adminGroup
        self.logOutputBytes = logOutputBytes
    }
}
