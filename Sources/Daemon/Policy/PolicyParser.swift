import Digests
import GloveboxSystem
import TOMLKit
import TOMLSupport

/// Turns the text of a policy file into a validated `Policy`. The first problem found is thrown as a
/// `PolicyError` naming the file, the line (from `TOMLLineLocator`) and the reason.
struct PolicyParser {
    static let topLevelKeys = ["description", "limits", "filesystem", "environment", "access", "seccomp", "lifetime", "caps"]
    static let tableKeys: [(table: String, keys: [String])] = [
        ("limits", ["timeout", "memory", "pids", "cpus", "storage", "gpus", "output_file", "log", "shm"]),
        ("filesystem", ["read_only", "workdir"]),
        ("environment", ["set", "pass"]),
        ("access", ["users", "groups"]),
        ("seccomp", ["deny"]),
        ("lifetime", ["on_disconnect"]),
        ("caps", ["concurrent_runs", "runs_per_hour", "user_concurrent_runs", "user_runs_per_hour", "over_cap"]),
    ]

    /// The typed reads and file:line errors, shared with the scientist's config (TOMLSupport).
    let reader: TOMLReader
    var source: String { reader.source }
    var locator: TOMLLineLocator { reader.locator }

    init(source: String, text: String) { reader = TOMLReader(source: source, text: text) }

    static func parse(_ text: String, template: String, source: String) throws(PolicyError) -> Policy {
        let bytes = Array(text.utf8)
        guard bytes.count <= PolicyRules.maximumFileBytes else {
            throw PolicyError(file: source, message: "file is larger than 1 MiB")
        }
        if let problem = PolicyRules.templateNameProblem(template) {
            throw PolicyError(file: source, message: "invalid template name '\(template)': \(problem)")
        }
        let root = try document(text, bytes: bytes, source: source)
        let parser = PolicyParser(source: source, text: text)
        return try parser.policy(from: root, template: template, digest: sha256Hex(bytes))
    }

    /// The TOML document in `text`, refusing NULs; syntax errors carry their line. Shared with
    /// `DaemonConfigParser`.
    static func document(_ text: String, bytes: [UInt8], source: String) throws(PolicyError) -> TOMLTable {
        do { return try TOMLReader.document(text, source: source) } catch { throw PolicyError(error) }
    }

    // MARK: - The document

    func policy(from root: TOMLTable, template: String, digest: String) throws(PolicyError) -> Policy {
        try checkUnknownKeys(root)
        let description = try string(root, ["description"]) ?? ""
        let limits = try parseLimits(root)

        var workdir = PolicyRules.defaultWorkdir
        var readOnly = PolicyRules.defaultReadOnlyPaths
        if let filesystem = try table(root, ["filesystem"]) {
            workdir = try parseWorkdir(filesystem) ?? workdir
            readOnly = try parseReadOnly(filesystem, workdir: workdir) ?? readOnly
        }

        var environment: [String: String] = [:]
        var pass: [String] = []
        if let env = try table(root, ["environment"]) {
            (environment, pass) = try parseEnvironment(env)
        }

        var users: [String] = [], groups: [String] = []
        if let access = try table(root, ["access"]) {
            users = try principals(access, ["access", "users"], allowStar: true)
            groups = try principals(access, ["access", "groups"], allowStar: false)
        }

        var deny: [String] = []
        if let seccomp = try table(root, ["seccomp"]) {
            deny = try strings(seccomp, ["seccomp", "deny"]) ?? []
            try checkEach(deny, ["seccomp", "deny"]) { name in
                PolicyRules.isSyscallName(name) ? nil : "'\(name)' is not a valid system call name ([a-z0-9_]+)"
            }
        }

        var policy = Policy(template: template, digest: digest, description: description, limits: limits,
                            readOnlyPaths: readOnly, environment: environment, passEnvironment: pass,
                            users: users, groups: groups, seccompDeny: deny, workdir: workdir)
        if let lifetime = try table(root, ["lifetime"]) {
            policy.onDisconnect = try choice(lifetime, ["lifetime", "on_disconnect"], as: DisconnectAction.self) ?? .continue
        }
        if let caps = try table(root, ["caps"]) { policy.caps = try parseCaps(caps) }
        if let t = try table(root, ["limits"]), let log = try size(t, ["limits", "log"]) {
            try checkMinimum(log, 64 << 10, ["limits", "log"])
            policy.logBytes = log
        }
        return policy
    }

    // MARK: - [caps]

    private func parseCaps(_ t: TOMLTable) throws(PolicyError) -> TemplateCaps {
        func cap(_ key: String) throws(PolicyError) -> Int? {
            guard let value = try integer(t, ["caps", key]) else { return nil }
            try checkRange(value, 1...1_000_000, ["caps", key])
            return value
        }
        return TemplateCaps(concurrentRuns: try cap("concurrent_runs"), runsPerHour: try cap("runs_per_hour"),
                            userConcurrentRuns: try cap("user_concurrent_runs"), userRunsPerHour: try cap("user_runs_per_hour"),
                            overCap: try choice(t, ["caps", "over_cap"], as: OverCapAction.self))
    }

    /// A string that must be one of an enumeration's raw values.
    func choice<T: RawRepresentable & CaseIterable>(_ t: TOMLTable, _ path: [String], as _: T.Type)
    throws(PolicyError) -> T? where T.RawValue == String {
        guard let text = try string(t, path) else { return nil }
        guard let value = T(rawValue: text) else {
            throw fail(path, "'\(text)' is not one of: \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }

    /// Reports the unknown key (top level or in a known table) that comes first in the file. The known keys
    /// default to a policy's; `DaemonConfigParser` passes its own.
    func checkUnknownKeys(_ root: TOMLTable, topLevel: [String] = Self.topLevelKeys,
                          tables: [(table: String, keys: [String])] = Self.tableKeys) throws(PolicyError) {
        var unknown: [(path: [String], known: [String])] = []
        for key in root.keys where !topLevel.contains(key) {
            unknown.append(([key], topLevel))
        }
        for (name, known) in tables {
            guard let table = root[name]?.table else { continue }
            for key in table.keys where !known.contains(key) { unknown.append(([name, key], known)) }
        }
        let first = unknown.min { (locator.line(of: $0.path) ?? 0, $0.path.joined()) < (locator.line(of: $1.path) ?? 0, $1.path.joined()) }
        if let first {
            let isTable = first.path.count == 1 && root[first.path[0]]?.type == .table
            let what = isTable ? "table [\(first.path[0])]" : "key '\(first.path.joined(separator: "."))'"
            throw PolicyError(file: source, line: locator.line(of: first.path),
                              message: "unknown \(what) (known: \(first.known.joined(separator: ", ")))")
        }
    }

    // MARK: - [limits]

    private func parseLimits(_ root: TOMLTable) throws(PolicyError) -> Limits {
        guard let t = try table(root, ["limits"]) else {
            throw PolicyError(file: source, message: "missing required table [limits] (timeout, memory, pids, cpus, storage)")
        }
        func required<T>(_ value: T?, _ key: String) throws(PolicyError) -> T {
            guard let value else { throw fail(["limits"], "missing required key '\(key)'") }
            return value
        }

        let timeout = try required(duration(t, ["limits", "timeout"]), "timeout")
        guard !timeout.isNaN, timeout > 0 else {
            throw fail(["limits", "timeout"], "\(DurationText.format(timeout)) must be greater than 0")
        }
        guard timeout <= Limits.maximumTimeoutSeconds else {
            throw fail(["limits", "timeout"], "\(DurationText.format(timeout)) is above the maximum \(DurationText.format(Limits.maximumTimeoutSeconds))")
        }

        let memory = try required(size(t, ["limits", "memory"]), "memory")
        try checkMinimum(memory, Limits.minimumMemoryBytes, ["limits", "memory"])

        let pids = try required(integer(t, ["limits", "pids"]), "pids")
        try checkRange(pids, 1...Limits.maximumPids, ["limits", "pids"])

        let cpus = try required(number(t, ["limits", "cpus"]), "cpus")
        let cpuText = Limits.formatCPUs(cpus)
        guard !cpus.isNaN, cpus > 0 else { throw fail(["limits", "cpus"], "\(cpuText) must be greater than 0") }
        guard cpus <= Limits.maximumCPUs else {
            throw fail(["limits", "cpus"], "\(cpuText) is above the maximum \(Limits.formatCPUs(Limits.maximumCPUs))")
        }

        let storage = try required(size(t, ["limits", "storage"]), "storage")
        try checkMinimum(storage, Limits.minimumStorageBytes, ["limits", "storage"])

        let gpus = try integer(t, ["limits", "gpus"]) ?? 0
        try checkRange(gpus, 0...Int.max, ["limits", "gpus"])

        let outputFile = try size(t, ["limits", "output_file"]) ?? Limits.defaultOutputFileBytes
        try checkMinimum(outputFile, 1, ["limits", "output_file"])

        let shm = try size(t, ["limits", "shm"])
        if let shm {
            try checkMinimum(shm, 64 << 10, ["limits", "shm"])
            guard shm <= memory else {
                throw fail(["limits", "shm"], "\(ByteSize.format(shm)) is above the memory limit \(ByteSize.format(memory)) (its pages are charged to it)")
            }
        }

        return Limits(timeoutSeconds: timeout, memoryBytes: memory, pids: pids, cpus: cpus, storageBytes: storage,
                      gpus: gpus, outputFileBytes: outputFile, shmBytes: shm)
    }

    func checkMinimum(_ value: UInt64, _ minimum: UInt64, _ path: [String]) throws(PolicyError) {
        guard value >= minimum else {
            throw fail(path, "\(ByteSize.format(value)) is below the minimum \(ByteSize.format(minimum))")
        }
    }

    func checkRange(_ value: Int, _ range: ClosedRange<Int>, _ path: [String]) throws(PolicyError) {
        if value < range.lowerBound { throw fail(path, "\(value) is below the minimum \(range.lowerBound)") }
        if value > range.upperBound { throw fail(path, "\(value) is above the maximum \(range.upperBound)") }
    }

    // MARK: - [filesystem]

    private func parseWorkdir(_ t: TOMLTable) throws(PolicyError) -> String? {
        let path = ["filesystem", "workdir"]
        guard let workdir = try string(t, path) else { return nil }
        if let problem = PolicyRules.pathProblem(workdir) { throw fail(path, "'\(workdir)' \(problem)") }
        if let root = PolicyRules.forbiddenWorkdirRoots.first(where: { PolicyRules.isWithin(workdir, $0) }) {
            throw fail(path, "'\(workdir)' is within \(root), which is not allowed")
        }
        return workdir
    }

    private func parseReadOnly(_ t: TOMLTable, workdir: String) throws(PolicyError) -> [String]? {
        let path = ["filesystem", "read_only"]
        guard let paths = try strings(t, path) else { return nil }
        guard paths.count <= PolicyRules.maximumReadOnlyPaths else {
            throw fail(path, "has \(paths.count) entries, at most \(PolicyRules.maximumReadOnlyPaths) are allowed")
        }
        try checkEach(paths, path) { p in
            if let problem = PolicyRules.pathProblem(p) { return "'\(p)' \(problem)" }
            if let root = PolicyRules.forbiddenReadOnlyRoots.first(where: { PolicyRules.isWithin(p, $0) }) {
                return "'\(p)' is within \(root), which is not allowed"
            }
            if PolicyRules.isWithin(p, workdir) { return "'\(p)' is within the workdir \(workdir)" }
            return nil
        }
        return paths
    }

    // MARK: - [environment]

    private func parseEnvironment(_ t: TOMLTable) throws(PolicyError) -> ([String: String], [String]) {
        var set: [String: String] = [:]
        if let table = try table(t, ["environment", "set"]) {
            for (name, value) in table {
                let path = ["environment", "set", name]
                guard PolicyRules.isEnvironmentName(name) else {
                    throw fail(path, "'\(name)' is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*)")
                }
                guard let text = value.string else { throw typeError(path, "a string", value) }
                guard !text.utf8.contains(0) else { throw fail(path, "the value contains a NUL character") }
                set[name] = text
            }
        }
        let passPath = ["environment", "pass"]
        let pass = try strings(t, passPath) ?? []
        try checkEach(pass, passPath) { name in
            if !PolicyRules.isEnvironmentName(name) { return "'\(name)' is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*)" }
            if set[name] != nil { return "'\(name)' is also in environment.set; a variable is either set or passed" }
            return nil
        }
        return (set, pass)
    }

    // MARK: - [access]

    private func principals(_ t: TOMLTable, _ path: [String], allowStar: Bool) throws(PolicyError) -> [String] {
        let list = try strings(t, path) ?? []
        try checkEach(list, path) { entry in
            if entry == "*" { return allowStar ? nil : "'*' is only allowed in access.users" }
            return PolicyRules.principalProblem(entry).map { "'\(entry)' \($0)" }
        }
        return list
    }

    // MARK: - Typed access (shared with DaemonConfigParser)

    /// Runs `problem` on every element (and rejects duplicates), failing at the first element's own line.
    func checkEach(_ list: [String], _ path: [String], _ problem: (String) -> String?) throws(PolicyError) {
        var seen: Set<String> = []
        for (index, item) in list.enumerated() {
            if let message = problem(item) { throw fail(path, element: index, message) }
            guard seen.insert(item).inserted else { throw fail(path, element: index, "'\(item)' is listed twice") }
        }
    }

    func table(_ parent: TOMLTable, _ path: [String]) throws(PolicyError) -> TOMLTable? {
        do { return try reader.table(parent, path) } catch { throw PolicyError(error) }
    }

    func string(_ parent: TOMLTable, _ path: [String]) throws(PolicyError) -> String? {
        do { return try reader.string(parent, path) } catch { throw PolicyError(error) }
    }

    func integer(_ parent: TOMLTable, _ path: [String]) throws(PolicyError) -> Int? {
        do { return try reader.integer(parent, path) } catch { throw PolicyError(error) }
    }

    /// An integer or a float.
    func number(_ parent: TOMLTable, _ path: [String]) throws(PolicyError) -> Double? {
        do { return try reader.number(parent, path) } catch { throw PolicyError(error) }
    }

    func strings(_ parent: TOMLTable, _ path: [String]) throws(PolicyError) -> [String]? {
        do { return try reader.strings(parent, path) } catch { throw PolicyError(error) }
    }

    /// A duration string ("2h") or a number of seconds.
    func duration(_ parent: TOMLTable, _ path: [String]) throws(PolicyError) -> Double? {
        guard let value = parent[path[path.count - 1]] else { return nil }
        if let int = value.int { return Double(int) }
        if let double = value.double { return double }
        guard let text = value.string else { throw typeError(path, "a duration string or a number of seconds", value) }
        guard let seconds = DurationText.parse(text) else {
            throw fail(path, "invalid duration '\(text)' (for example \"90s\", \"10m\", \"1.5h\", or a number of seconds)")
        }
        return seconds
    }

    /// A size string ("4GiB") or an integer number of bytes.
    func size(_ parent: TOMLTable, _ path: [String]) throws(PolicyError) -> UInt64? {
        guard let value = parent[path[path.count - 1]] else { return nil }
        if let int = value.int {
            guard int >= 0 else { throw fail(path, "\(int) is negative") }
            return UInt64(int)
        }
        guard let text = value.string else { throw typeError(path, "a size string or an integer number of bytes", value) }
        guard let bytes = ByteSize.parse(text) else {
            throw fail(path, "invalid size '\(text)' (for example \"512MiB\", \"4GiB\", \"100M\", or a number of bytes)")
        }
        return bytes
    }

    // MARK: - Errors

    func fail(_ path: [String], _ message: String) -> PolicyError { PolicyError(reader.fail(path, message)) }

    func fail(_ path: [String], element index: Int, _ message: String) -> PolicyError {
        PolicyError(reader.fail(path, element: index, message))
    }

    func typeError(_ path: [String], _ expected: String, _ value: TOMLValueConvertible) -> PolicyError {
        PolicyError(reader.typeError(path, expected, value))
    }

    static func kind(_ type: TOMLType) -> String { TOMLReader.kind(type) }
}

extension PolicyError {
    init(_ error: TOMLFileError) { self.init(file: error.file, line: error.line, message: error.message) }
}
