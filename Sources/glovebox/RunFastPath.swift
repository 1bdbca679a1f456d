import ArgumentParser
import GloveboxClient
import GloveboxProtocol
#if canImport(Glibc)
import Glibc
#endif

/// The common `glovebox run [OPTIONS] -- PROGRAM...` command line, parsed without ArgumentParser.
///
/// ArgumentParser builds its parser by reflecting over every command type, and each first-time dynamic
/// cast scans the binary's protocol conformances: about 4 ms of a client start that should take 4. The
/// fast path accepts only command lines it understands exactly, each option at most once (the lists
/// excepted) and every value checked the way `RunCommand` checks it; for anything else, `--help`
/// included, it returns nil and ArgumentParser parses the line as usual, with its messages. So the fast
/// path can make a valid command line faster but never changes what any command line means:
/// `RunFastPathTests` compares the two parsers over a corpus.
enum RunFastPath {
    /// The options of `RunCommand` (and its `SocketOption`), by their long names.
    private enum Name: String {
        case socket, template, workdir, output, timeout, memory, pids, cpus, storage, gpus, env, record
        var repeatable: Bool { self == .output || self == .env }
    }

    /// `arguments` without the program name, as in CommandLine.arguments.dropFirst().
    static func parse(_ arguments: [String]) -> RunInvocation? {
        guard arguments.first == "run", let terminator = arguments.firstIndex(of: "--") else { return nil }
        let command = Array(arguments[(terminator + 1)...])
        guard !command.isEmpty else { return nil }
        var single: [Name: String] = [:]
        var lists: [Name: [String]] = [:]
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
            if name.repeatable {
                lists[name, default: []].append(value)
            } else {
                guard single[name] == nil else { return nil }
                single[name] = value
            }
        }
        let outputs = lists[.output] ?? []
        if !outputs.isEmpty && single[.workdir] == nil { return nil }
        var pids: Int?, cpus: Double?, gpus: Int?
        if let v = single[.pids] { guard let n = Int(v) else { return nil }; pids = n }
        if let v = single[.cpus] { guard let n = Double(v) else { return nil }; cpus = n }
        if let v = single[.gpus] { guard let n = Int(v) else { return nil }; gpus = n }
        guard let limits = try? RunInvocation.limits(timeout: single[.timeout], memory: single[.memory], storage: single[.storage],
                                                     pids: pids, cpus: cpus, gpus: gpus),
              let environment = try? RunInvocation.environment(lists[.env] ?? [])
        else { return nil }
        return RunInvocation(
            socketPath: DaemonConnection.socketPath(single[.socket]),
            request: RunRequest(template: single[.template] ?? "default", argv: command, environment: environment,
                                limits: limits, outputs: outputs),
            workdir: single[.workdir], record: single[.record])
    }
}
