import TOMLKit
import TOMLSupport

/// Turns the text of gloveboxd.toml into a validated `DaemonConfig`. It shares the policy parser's document
/// checks, typed readers, line locator and messages: the first problem found is thrown as a `PolicyError`
/// naming the file, the line and the reason.
struct DaemonConfigParser {
    static let tableKeys: [(table: String, keys: [String])] = [
        ("socket", ["path", "group", "mode"]),
        ("paths", ["state", "policies", "state_min_free"]),
        ("access", ["admin_group"]),
        ("sandbox", ["uid_base", "uid_count", "keep_idle"]),
        ("gpus", ["devices"]),
        ("caps", ["concurrent_runs", "runs_per_hour", "user_concurrent_runs", "user_runs_per_hour", "over_cap",
                  "max_queued", "refusals_per_minute"]),
        ("shutdown", ["runs", "grace"]),
        ("logs", ["max_bytes", "retention", "total_bytes", "user_bytes"]),
    ]
    /// sun_path holds 108 bytes, the terminating NUL included.
    static let maximumSocketPathBytes = 107
    /// Sandbox uids stay above the 16-bit range, where distributions put their system and regular users.
    static let minimumUIDBase = 65_536
    /// The most uid_base + uid_count may be: that uid, init's (DaemonConfig.initID), stays below 2^32 - 2
    /// ((uid_t)-1 means "no uid", and 2^32 - 2 is how a workdir's idmapping shows root's files).
    static let maximumUIDEnd = 4_294_967_293
    static let maximumGraceSeconds: Double = 3600
    static let keepIdleRange: ClosedRange<Double> = 1...3600
    static let minimumLogOutputBytes: UInt64 = 64 << 10
    /// Seconds: a second at least (tests), ten years at most.
    static let logRetentionRange: ClosedRange<Double> = 1...(10 * 365 * 86400)

    /// The policy parser for this file, used for its typed readers and errors.
    let reader: PolicyParser

    static func parse(_ text: String, source: String) throws(PolicyError) -> DaemonConfig {
        let bytes = Array(text.utf8)
        guard bytes.count <= PolicyRules.maximumFileBytes else {
            throw PolicyError(file: source, message: "file is larger than 1 MiB")
        }
        let root = try PolicyParser.document(text, bytes: bytes, source: source)
        let parser = DaemonConfigParser(reader: PolicyParser(source: source, text: text))
        return try parser.config(from: root)
    }

    // MARK: - The document

    func config(from root: TOMLTable) throws(PolicyError) -> DaemonConfig {
        try reader.checkUnknownKeys(root, topLevel: Self.tableKeys.map(\.table), tables: Self.tableKeys)
        var config = DaemonConfig()

        if let socket = try reader.table(root, ["socket"]) {
            if let path = try absolutePath(socket, ["socket", "path"]) {
                let length = path.utf8.count
                guard length <= Self.maximumSocketPathBytes else {
                    throw reader.fail(["socket", "path"],
                                      "'\(path)' is \(length) bytes, a socket path must be shorter than 108")
                }
                config.socketPath = path
            }
            config.socketGroup = try group(socket, ["socket", "group"])
            config.socketMode = try socketMode(socket) ?? config.socketMode
        }

        if let paths = try reader.table(root, ["paths"]) {
            config.stateDirectory = try absolutePath(paths, ["paths", "state"]) ?? config.stateDirectory
            config.policyDirectory = try absolutePath(paths, ["paths", "policies"]) ?? config.policyDirectory
            config.stateMinFree = try freeSpace(paths, ["paths", "state_min_free"]) ?? config.stateMinFree
        }

        if let access = try reader.table(root, ["access"]) {
            config.adminGroup = try group(access, ["access", "admin_group"])
        }

        if let sandbox = try reader.table(root, ["sandbox"]) {
            try parseSandbox(sandbox, into: &config)
        }

        if let gpus = try reader.table(root, ["gpus"]) {
            let path = ["gpus", "devices"]
            if let devices = try reader.strings(gpus, path) {
                try reader.checkEach(devices, path) { device in
                    Self.isGPUDevice(device) ? nil : "'\(device)' is not a GPU device node (an absolute path ending in nvidia followed by a number, e.g. /dev/nvidia0)"
                }
                config.gpus = devices
            }
        }

        if let caps = try reader.table(root, ["caps"]) {
            try parseCaps(caps, into: &config)
        }

        if let shutdown = try reader.table(root, ["shutdown"]) {
            config.shutdown = try reader.choice(shutdown, ["shutdown", "runs"], as: ShutdownAction.self) ?? config.shutdown
            let path = ["shutdown", "grace"]
            if let grace = try reader.duration(shutdown, path) {
                guard !grace.isNaN, grace >= 0 else {
                    throw reader.fail(path, "\(DurationText.format(grace)) is below the minimum 0s")
                }
                guard grace <= Self.maximumGraceSeconds else {
                    throw reader.fail(path, "\(DurationText.format(grace)) is above the maximum \(DurationText.format(Self.maximumGraceSeconds))")
                }
                config.shutdownGraceSeconds = grace
            }
        }

        if let logs = try reader.table(root, ["logs"]) {
            try parseLogs(logs, into: &config)
        }

        // Every run at once holds one of the sandbox uids. Reported at whichever of the two keys is set.
        let runs = config.maxConcurrentRuns, uids = config.sandboxUIDCount
        if runs > Int(uids) {
            if root["caps"]?.table?["concurrent_runs"] != nil {
                throw reader.fail(["caps", "concurrent_runs"],
                                  "\(runs) is above sandbox.uid_count \(uids) (each run at once needs its own uid)")
            }
            throw reader.fail(["sandbox", "uid_count"],
                              "\(uids) is below caps.concurrent_runs \(runs) (each run at once needs its own uid)")
        }
        return config
    }

    // MARK: - [sandbox]

    private func parseSandbox(_ t: TOMLTable, into config: inout DaemonConfig) throws(PolicyError) {
        let basePath = ["sandbox", "uid_base"], countPath = ["sandbox", "uid_count"]
        if let base = try reader.integer(t, basePath) {
            try reader.checkRange(base, Self.minimumUIDBase...(Self.maximumUIDEnd - 1), basePath)
            config.sandboxUIDBase = UInt32(base)
        }
        if let count = try reader.integer(t, countPath) {
            try reader.checkRange(count, 1...(Self.maximumUIDEnd - Self.minimumUIDBase), countPath)
            config.sandboxUIDCount = UInt32(count)
        }
        let end = Int(config.sandboxUIDBase) + Int(config.sandboxUIDCount)
        guard end <= Self.maximumUIDEnd else {
            throw reader.fail(t["uid_count"] != nil ? countPath : basePath,
                              "uid_base + uid_count is \(end), above the maximum \(Self.maximumUIDEnd)")
        }
        let keepPath = ["sandbox", "keep_idle"]
        if let keep = try reader.duration(t, keepPath) {
            guard !keep.isNaN, keep >= Self.keepIdleRange.lowerBound else {
                throw reader.fail(keepPath, "\(DurationText.format(keep)) is below the minimum \(DurationText.format(Self.keepIdleRange.lowerBound))")
            }
            guard keep <= Self.keepIdleRange.upperBound else {
                throw reader.fail(keepPath, "\(DurationText.format(keep)) is above the maximum \(DurationText.format(Self.keepIdleRange.upperBound))")
            }
            config.keepIdleSeconds = keep
        }
    }

    // MARK: - [logs]

    /// One run's cap, the retention period, and the quotas: a user's at least one run's, the total at least
    /// a user's (else a single run's log could never be kept).
    private func parseLogs(_ t: TOMLTable, into config: inout DaemonConfig) throws(PolicyError) {
        let maxPath = ["logs", "max_bytes"], userPath = ["logs", "user_bytes"], totalPath = ["logs", "total_bytes"]
        if let bytes = try reader.size(t, maxPath) {
            try reader.checkMinimum(bytes, Self.minimumLogOutputBytes, maxPath)
            config.logOutputBytes = bytes
        }
        let retentionPath = ["logs", "retention"]
        if let retention = try reader.duration(t, retentionPath) {
            guard !retention.isNaN, retention >= Self.logRetentionRange.lowerBound else {
                throw reader.fail(retentionPath, "\(DurationText.format(retention)) is below the minimum \(DurationText.format(Self.logRetentionRange.lowerBound))")
            }
            guard retention <= Self.logRetentionRange.upperBound else {
                throw reader.fail(retentionPath, "\(DurationText.format(retention)) is above the maximum \(DurationText.format(Self.logRetentionRange.upperBound))")
            }
            config.logRetentionSeconds = retention
        }
        config.logUserBytes = try reader.size(t, userPath) ?? config.logUserBytes
        config.logTotalBytes = try reader.size(t, totalPath) ?? config.logTotalBytes
        if config.logUserBytes < config.logOutputBytes {
            throw reader.fail(t["user_bytes"] != nil ? userPath : maxPath, "logs.user_bytes \(ByteSize.format(config.logUserBytes)) is below "
                + "logs.max_bytes \(ByteSize.format(config.logOutputBytes)): one run's log must fit in a user's quota")
        }
        if config.logTotalBytes < config.logUserBytes {
            throw reader.fail(t["total_bytes"] != nil ? totalPath : userPath, "logs.total_bytes \(ByteSize.format(config.logTotalBytes)) is below "
                + "logs.user_bytes \(ByteSize.format(config.logUserBytes)): a user's quota must fit in the total")
        }
    }

    // MARK: - [caps]

    private func parseCaps(_ t: TOMLTable, into config: inout DaemonConfig) throws(PolicyError) {
        func cap(_ key: String, minimum: Int = 1) throws(PolicyError) -> Int? {
            guard let value = try reader.integer(t, ["caps", key]) else { return nil }
            try reader.checkRange(value, minimum...Int.max, ["caps", key])
            return value
        }
        config.maxConcurrentRuns = try cap("concurrent_runs") ?? config.maxConcurrentRuns
        config.maxRunsPerHour = try cap("runs_per_hour") ?? config.maxRunsPerHour
        config.perUserConcurrentRuns = try cap("user_concurrent_runs") ?? config.perUserConcurrentRuns
        config.perUserRunsPerHour = try cap("user_runs_per_hour") ?? config.perUserRunsPerHour
        config.overCap = try reader.choice(t, ["caps", "over_cap"], as: OverCapAction.self) ?? config.overCap
        config.maxQueued = try cap("max_queued", minimum: 0) ?? config.maxQueued
        config.refusalsPerMinute = try cap("refusals_per_minute") ?? config.refusalsPerMinute
    }

    // MARK: - Values

    /// An absolute, normalized path (`PolicyRules.pathProblem`).
    private func absolutePath(_ t: TOMLTable, _ path: [String]) throws(PolicyError) -> String? {
        guard let value = try reader.string(t, path) else { return nil }
        if let problem = PolicyRules.pathProblem(value) { throw reader.fail(path, "'\(value)' \(problem)") }
        return value
    }

    /// A size ("2GiB", a number of bytes) or a share of the filesystem, "0%" to "50%".
    private func freeSpace(_ t: TOMLTable, _ path: [String]) throws(PolicyError) -> FreeSpace? {
        if let text = t[path[path.count - 1]]?.string, text.hasSuffix("%") {
            guard let percent = Double(text.dropLast()), percent.isFinite, (0...50).contains(percent) else {
                throw reader.fail(path, "'\(text)' is not a share of the filesystem from \"0%\" to \"50%\"")
            }
            return .percent(percent)
        }
        return try reader.size(t, path).map(FreeSpace.bytes)
    }

    /// A group name or numeric gid, by the rules for the groups in a policy's [access].
    private func group(_ t: TOMLTable, _ path: [String]) throws(PolicyError) -> String? {
        guard let value = try reader.string(t, path) else { return nil }
        if let problem = PolicyRules.principalProblem(value) { throw reader.fail(path, "'\(value)' \(problem)") }
        return value
    }

    /// An octal string of three or four digits ("0660"), from 0600 to 0777. A TOML integer is refused: 660
    /// would be decimal.
    private func socketMode(_ t: TOMLTable) throws(PolicyError) -> UInt32? {
        let path = ["socket", "mode"]
        guard let value = t["mode"] else { return nil }
        guard let text = value.string else { throw reader.typeError(path, "an octal string such as \"0660\"", value) }
        guard (3...4).contains(text.utf8.count), text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "7") }),
              let mode = UInt32(text, radix: 8) else {
            throw reader.fail(path, "'\(text)' is not an octal mode such as \"0660\"")
        }
        guard mode <= 0o777 else {
            throw reader.fail(path, "'\(text)' sets the setuid, setgid or sticky bit, which is not allowed")
        }
        guard mode & 0o600 == 0o600 else {
            throw reader.fail(path, "'\(text)' must give the owner read and write (at least 0600)")
        }
        return mode
    }

    /// An absolute, normalized path whose name is `nvidia` and a decimal number: /dev/nvidia0 on a real
    /// host; a node made with mknod elsewhere in tests. Runs see it as /dev/<name>.
    static func isGPUDevice(_ path: String) -> Bool {
        guard path.hasPrefix("/"), PolicyRules.pathProblem(path) == nil, let name = path.split(separator: "/").last else { return false }
        let prefix = "nvidia"
        guard name.hasPrefix(prefix) else { return false }
        let number = name.utf8.dropFirst(prefix.utf8.count)
        return !number.isEmpty && number.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }
}
