import Logging
import Policy
import Sandbox

/// The policies in the policy directory, each with its seccomp program compiled once. A file that does
/// not parse, or names an unknown system call, is reported and left out; the others are served.
struct PolicyCatalog: Sendable {
    struct Entry: Sendable {
        let policy: Policy
        let seccomp: SeccompProfile
    }

    let entries: [String: Entry]
    let problems: [String]

    static func load(directory: String, logger: Logger) -> PolicyCatalog {
        let (policies, errors) = Policy.loadDirectory(directory)
        var problems = errors.map(\.description)
        var entries: [String: Entry] = [:]
        for (name, policy) in policies.sorted(by: { $0.key < $1.key }) {
            do {
                if let problem = hostProblem(policy) { throw SandboxError.invalid(problem) }
                entries[name] = Entry(policy: policy, seccomp: try SeccompProfile.build(extraDenied: policy.seccompDeny))
            } catch {
                problems.append("\(directory)/\(name).toml: \(error)")
            }
        }
        for problem in problems { logger.error("policy refused", metadata: ["problem": "\(problem)"]) }
        logger.info("policies loaded", metadata: ["directory": "\(directory)", "templates": "\(entries.keys.sorted().joined(separator: ","))"])
        return PolicyCatalog(entries: entries, problems: problems)
    }

    var names: [String] { entries.keys.sorted() }

    /// What this host makes of a policy's read-only paths that its text cannot show (a symlink on the way,
    /// a socket, a kernel filesystem): the first problem, or nil. Each root build looks again, since the
    /// host may change.
    static func hostProblem(_ policy: Policy) -> String? {
        policy.readOnlyPaths.lazy.compactMap { BindSource.readOnlyProblem($0) }.first.map { "[filesystem] read_only: \($0)" }
    }
}
