import ArgumentParser
import FoundationEssentials
import GloveboxClient
import GloveboxProtocol
import GloveboxSystem
import PolicyModel
#if canImport(Glibc)
import Glibc
#endif

struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy", abstract: "The templates gloveboxd serves, and policy files.", subcommands: [List.self, Show.self, Check.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The templates gloveboxd serves, their limits, and whether you may use each.")
        @OptionGroup var socket: SocketOption
        @Flag(help: "JSON: an array of policies.") var json = false

        func run() throws {
            let list = try PolicyCommand.fetch(socket, nil)
            if json { return print(try PolicyCommand.json(list)) }
            if list.isEmpty { return print("gloveboxd serves no templates") }
            for p in list {
                print("\(p.template)\(p.usable ? "" : " (not for you)")  \(PolicyCommand.limits(p.limits))" + (p.description.isEmpty ? "" : "  — \(p.description)"))
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One template's policy as gloveboxd applies it.")
        @OptionGroup var socket: SocketOption
        @Flag(help: "JSON.") var json = false
        @Argument(help: "The template.") var template: String

        func run() throws {
            guard let p = try PolicyCommand.fetch(socket, template).first else { throw ExitCode(125) }
            if json { return print(try PolicyCommand.json([p])) }
            let rows: [(String, String)] = [
                ("template", p.template + (p.usable ? "" : " (you may not use it)")), ("description", p.description),
                ("limits", PolicyCommand.limits(p.limits)), ("read-only paths", p.readOnlyPaths.joined(separator: " ")),
                ("workdir", p.workdir), ("environment", p.environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")),
                ("passes", p.passEnvironment.joined(separator: " ")), ("users", p.users.joined(separator: " ")),
                ("groups", p.groups.joined(separator: " ")), ("extra seccomp denials", p.seccompDeny.joined(separator: " ")),
                ("on disconnect", p.onDisconnect), ("caps", p.caps.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")),
                ("digest", p.digest),
            ]
            let width = rows.map(\.0.count).max() ?? 0
            for (k, v) in rows where !v.isEmpty { print(k.padded(to: width) + "  " + v) }
        }
    }

    static func fetch(_ socket: SocketOption, _ template: String?) throws -> [PolicySummary] {
        try daemonRequest { try DaemonQueries.policies(socketPath: DaemonConnection.socketPath(socket.socket), template: template) }
    }

    static func json(_ list: [PolicySummary]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(list), as: UTF8.self)
    }

    static func limits(_ l: Limits) -> String {
        "timeout \(DurationText.format(l.timeoutSeconds)), memory \(ByteSize.format(l.memoryBytes)), pids \(l.pids), cpus \(l.cpus == l.cpus.rounded() ? String(Int(l.cpus)) : String(l.cpus)), storage \(ByteSize.format(l.storageBytes))" + (l.gpus > 0 ? ", gpus \(l.gpus)" : "")
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate policy files; prints each problem with its file and line.",
            discussion: """
            Exit status 0 when every file is valid, 1 otherwise. Needs no daemon: the policy parser lives in \
            gloveboxd, so this runs `gloveboxd --check-policy FILE...` (the gloveboxd next to glovebox, else the \
            first on PATH), which reads the files as you and builds each policy's seccomp filter. The client \
            itself carries no TOML parser.
            """)

        @Argument(help: "Policy files (<template>.toml).")
        var files: [String]

        func run() throws {
            guard let daemon = Self.gloveboxd() else {
                FileHandleStderr.print("glovebox: policy check needs gloveboxd, which holds the policy parser; none next to glovebox or on PATH")
                throw ExitCode(125)
            }
            let argv = [daemon, "--check-policy"] + files
            var cArgs = argv.map { strdup($0) } + [nil]
            defer { for p in cArgs { free(p) } }
            execv(daemon, &cArgs)
            FileHandleStderr.print("glovebox: cannot run \(daemon): \(String(cString: strerror(errno)))")
            throw ExitCode(125)
        }

        /// gloveboxd beside this executable (as installed, or in a build directory), else the first on PATH.
        static func gloveboxd() -> String? {
            var candidates: [String] = []
            if let exe = FileIO.readLink("/proc/self/exe") {
                if let slash = exe.lastIndex(of: "/") { candidates.append(String(exe[..<slash]) + "/gloveboxd") }
            }
            let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin"
            candidates += path.split(separator: ":").filter { $0.hasPrefix("/") }.map { $0 + "/gloveboxd" }
            return candidates.first { access($0, X_OK) == 0 }
        }
    }
}
