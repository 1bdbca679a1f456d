import GloveboxProtocol
import GloveboxSystem
import Policy
import RecordModel
import Sandbox
#if canImport(Glibc)
import Glibc
#endif

/// What admission decides from the request and its template alone: the argv, the environment passed, the
/// limits, the outputs asked for, the GPUs and the caps a run counts against. Pure (no host, no client
/// descriptor, no daemon state), so it is tested without root (DaemonUnitTests). RunSession+Admission
/// applies it together with the checks that look at the host and at what the client sent.
enum RunAdmission {
    /// Why a request is refused, in the words its client is shown.
    struct Refusal: Error, Equatable, CustomStringConvertible {
        let message: String
        init(_ message: String) { self.message = message }
        var description: String { message }
    }

    /// At most this many --output paths.
    static let maxOutputs = 256

    static func checkArgv(_ argv: [String]) throws(Refusal) {
        guard let first = argv.first, !first.isEmpty else { throw Refusal("empty command: give a program to run") }
        guard argv.count <= 65_536 else { throw Refusal("too many arguments (\(argv.count); at most 65536)") }
        guard argv.reduce(0, { $0 + $1.utf8.count + 1 }) <= 512 * 1024 else { throw Refusal("arguments longer than 512 KiB in total") }
        if argv.contains(where: { $0.contains("\0") }) { throw Refusal("an argument contains a NUL byte") }
    }

    static func unknownTemplate(_ name: String, known: [String]) -> Refusal {
        Refusal("unknown template '\(name)'; templates: \(known.isEmpty ? "none" : known.joined(separator: ", "))")
    }

    /// The template's environment with the client's variables added: only those the template passes.
    static func environment(_ policy: Policy, requested: [String: String]) throws(Refusal) -> [String: String] {
        var environment = policy.environment
        for (name, value) in requested.sorted(by: { $0.key < $1.key }) {
            guard policy.passEnvironment.contains(name) else {
                let passes = policy.passEnvironment.isEmpty ? "none" : policy.passEnvironment.joined(separator: ", ")
                throw Refusal("template '\(policy.template)' does not pass environment variable \(name) (it passes: \(passes))")
            }
            guard !value.contains("\0"), !name.contains("\0") else { throw Refusal("environment variable \(name) contains a NUL byte") }
            environment[name] = value
        }
        return environment
    }

    /// The template's limits, tightened where the client asked: never loosened.
    static func limits(_ policy: Policy, requested: LimitRequest) throws(Refusal) -> Limits {
        do {
            return try policy.limits.tightened(by: requested)
        } catch {
            throw Refusal("\(error) (template '\(policy.template)')")
        }
    }

    static func checkGPUs(_ limits: Limits, available: Int, template: String) throws(Refusal) {
        if limits.gpus > available {
            throw Refusal("\(limits.gpus) GPU(s) asked for and this server has \(available) (template '\(template)')")
        }
    }

    /// Outputs are relative paths inside the workdir, written back into it: they need one.
    static func checkOutputs(_ outputs: [String], hasWorkdir: Bool) throws(Refusal) {
        if outputs.count > maxOutputs { throw Refusal("too many --output paths (\(outputs.count); at most \(maxOutputs): name directories instead)") }
        for path in outputs where WorkspaceOutputs.normalize(path) == nil {
            throw Refusal("output '\(path)' must be a relative path inside the workdir, without '..' or '.'")
        }
        if !outputs.isEmpty && !hasWorkdir { throw Refusal("--output needs --workdir: outputs are written back into the workdir") }
    }

    /// The caps a run of `policy` by `uid` counts against: the daemon's global and per-user ones, and the
    /// template's own where it has them. `userName`: the uid's name, for messages.
    static func constraints(_ config: DaemonConfig, policy: Policy, uid: uid_t, userName: String?) -> [AdmissionGate.Constraint] {
        let t = policy.template, caps = policy.caps
        let who = userName ?? "uid \(uid)"
        var list = [
            AdmissionGate.Constraint(key: "global", concurrent: config.maxConcurrentRuns, perHour: config.maxRunsPerHour, name: "runs on this server"),
            AdmissionGate.Constraint(key: "user:\(uid)", concurrent: config.perUserConcurrentRuns, perHour: config.perUserRunsPerHour, name: "runs of \(who)"),
        ]
        if caps.concurrentRuns != nil || caps.runsPerHour != nil {
            list.append(.init(key: "template:\(t)", concurrent: caps.concurrentRuns, perHour: caps.runsPerHour, name: "runs of template '\(t)'"))
        }
        if caps.userConcurrentRuns != nil || caps.userRunsPerHour != nil {
            list.append(.init(key: "template-user:\(t):\(uid)", concurrent: caps.userConcurrentRuns, perHour: caps.userRunsPerHour,
                              name: "runs of template '\(t)' by \(who)"))
        }
        return list
    }

    /// A refused request's argv as its record keeps it: at most 64 arguments and 4 KiB of them, marked
    /// when cut (anyone may be refused, as often as they like).
    static func bounded(_ argv: [String]) -> [String] {
        var out: [String] = []
        var bytes = 0
        for arg in argv.prefix(64) {
            let room = 4096 - bytes
            if room <= 0 { break }
            out.append(arg.utf8.count <= room ? arg : String(decoding: arg.utf8.prefix(room), as: UTF8.self))
            bytes += min(arg.utf8.count, room)
        }
        if out.count < argv.count || bytes >= 4096 { out.append("[… \(argv.count) arguments in all, cut]") }
        return out
    }

    /// The limits as the run's record holds them.
    static func recordLimits(_ l: Limits) -> [String: Double] {
        ["timeout_seconds": l.timeoutSeconds, "memory_bytes": Double(l.memoryBytes), "pids": Double(l.pids),
         "cpus": l.cpus, "storage_bytes": Double(l.storageBytes), "gpus": Double(l.gpus)]
    }
}
