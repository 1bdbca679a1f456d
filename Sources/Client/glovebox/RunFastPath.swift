import ArgumentParser
import GloveboxClient
import GloveboxProtocol
#if canImport(Glibc)
import Glibc
#endif

/// The common `glovebox run [OPTIONS] -- PROGRAM...` command line, parsed without ArgumentParser.
///
/// ArgumentParser builds its parser by reflecting over every command type, and each first-time dynamic
/// cast scans the binary's protocol conformances: as long again as the rest of a client start (BENCHMARKS.md). The
/// fast path accepts only command lines it understands exactly, each option at most once (the lists
/// excepted) and every value checked the way `RunCommand` checks it; for anything else, `--help`
/// included, it returns nil and ArgumentParser parses the line as usual, with its messages. So the fast
/// path can make a valid command line faster but never changes what any command line means:
/// `RunFastPathTests` compares the two parsers over a corpus.
enum RunFastPath {
    /// The options of `RunCommand` (and its `SocketOption`), by their long names.
    private enum Name: String {
        case socket, template, workdir, output, timeout, memory, pids, cpus, storage, gpus, env, record
    }

    /// The values given. Named fields rather than a Dictionary keyed by Name: a Dictionary's storage is
    /// generic metadata made at run time, whose Hashable requirement scans every protocol conformance in
    /// the binary, a good part of the client's CPU (BENCHMARKS.md).
    private struct Values {
        var socket, template, workdir, timeout, memory, pids, cpus, storage, gpus, record: String?
        var outputs: [String] = []
        var environment: [String] = []

        /// Records `value` for `name`; false for a second value of an option given at most once.
        mutating func set(_ name: Name, _ value: String) -> Bool {
            func once(_ field: inout String?) -> Bool {
                guard field == nil else { return false }
                field = value
                return true
            }
            switch name {
            case .output: outputs.append(value); return true
            case .env: environment.append(value); return true
            case .socket: return once(&socket)
            case .template: return once(&template)
            case .workdir: return once(&workdir)
            case .timeout: return once(&timeout)
            case .memory: return once(&memory)
            case .pids: return once(&pids)
            case .cpus: return once(&cpus)
            case .storage: return once(&storage)
            case .gpus: return once(&gpus)
            case .record: return once(&record)
            }
        }
    }

    /// `arguments` without the program name, as in CommandLine.arguments.dropFirst().
    static func parse(_ arguments: [String]) -> RunInvocation? {
        guard arguments.first == "run", let terminator = arguments.firstIndex(of: "--") else { return nil }
        let command = Array(arguments[(terminator + 1)...])
        guard !command.isEmpty else { return nil }
        var given = Values()
        var i = 1
        while i < terminator {
            let word = arguments[i]
            guard word.hasPrefix("--") else { return nil }
            let value: String
            let name: Name
            if let eq = word.firstIndex(of: "=") {
                guard let n = Name(rawValue: String(word[word.index(word.startIndex, offsetBy: 2)..<eq])) else { return nil }
                name = n
                value = String(word[word.index(after: eq)...])
                i += 1
            } else {
                guard let n = Name(rawValue: String(word.dropFirst(2))), i + 1 < terminator else { return nil }
                name = n
                value = arguments[i + 1]
                i += 2
            }
            // A value that looks like an option, or none at all: ArgumentParser's rules decide.
            guard !value.isEmpty, !value.hasPrefix("-") else { return nil }
            guard given.set(name, value) else { return nil }
        }
        if !given.outputs.isEmpty && given.workdir == nil { return nil }
        var pids: Int?, cpus: Double?, gpus: Int?
        if let v = given.pids { guard let n = Int(v) else { return nil }; pids = n }
        if let v = given.cpus { guard let n = Double(v) else { return nil }; cpus = n }
        if let v = given.gpus { guard let n = Int(v) else { return nil }; gpus = n }
        guard let limits = try? RunInvocation.limits(timeout: given.timeout, memory: given.memory, storage: given.storage,
                                                     pids: pids, cpus: cpus, gpus: gpus),
              let environment = try? RunInvocation.environment(given.environment)
        else { return nil }
        return RunInvocation(
            socketPath: DaemonConnection.socketPath(given.socket),
            request: RunRequest(template: given.template ?? "default", argv: command, environment: environment,
                                limits: limits, outputs: given.outputs),
            workdir: given.workdir, record: given.record)
    }
}
