import ArgumentParser
import FoundationEssentials
import GloveboxClient
import GloveboxProtocol
import PolicyModel
import RecordModel
#if canImport(Glibc)
import Glibc
#endif

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a program in a sandbox under a template's policy.",
        discussion: """
        The program runs in new namespaces with no network, as a uid of its own with no capabilities, \
        under seccomp and the policy's limits. Its stdout and stderr stream to yours.

        With --workdir, the program starts in a copy-on-write view of DIR (at the policy's workdir, \
        /workspace by default): nothing reaches DIR while it runs; at the end only the --output paths \
        it wrote come back, written by this command as you. Links, devices and files over the policy's \
        size cap are not carried out.

        Limits: --timeout, --memory, --pids, --cpus, --storage and --gpus may only tighten the policy's. \
        A looser request is refused with the policy's value.

        Exit status: the program's own; 128+N if a signal N ended it; 124 if it hit its time limit; \
        137 if it hit its memory limit; 130 if it was cancelled (Ctrl-C cancels the run); 125 if \
        glovebox or gloveboxd refused or failed (the message says why; a refusal is recorded too, and \
        --record still writes its record); 126/127 if the program could not be executed / found; 64 for \
        a usage error on this command line.
        """)

    @OptionGroup var socket: SocketOption

    @Option(help: "The template whose policy applies.")
    var template: String = "default"

    @Option(help: "Directory the program works in (copy-on-write).")
    var workdir: String?

    @Option(name: .customLong("output"), help: "Path relative to --workdir to bring back at the end (repeatable; directories recurse).")
    var outputs: [String] = []

    @Option(help: "Wall-clock limit, e.g. 90s, 10m, 2h.")
    var timeout: String?

    @Option(help: "Memory limit, e.g. 512MiB, 2GiB.")
    var memory: String?

    @Option(help: "Process and thread limit.")
    var pids: Int?

    @Option(help: "CPU limit in CPUs, e.g. 0.5 or 2.")
    var cpus: Double?

    @Option(help: "Limit on what the run may write (workspace and /tmp together), e.g. 1GiB.")
    var storage: String?

    @Option(help: "Whole GPUs to lease (at most the policy's; 0 for none).")
    var gpus: Int?

    @Option(name: .customLong("env"), help: "NAME=VALUE, or NAME to pass your value; only names the policy passes.")
    var environment: [String] = []

    @Option(help: "Write the run's record to FILE as JSON.")
    var record: String?

    @Argument(parsing: .postTerminator, help: "The program and its arguments, after --.")
    var command: [String] = []

    func validate() throws {
        if !outputs.isEmpty && workdir == nil { throw ValidationError("--output needs --workdir") }
        if command.isEmpty { throw ValidationError("give the program to run after --, e.g. glovebox run -- /usr/bin/python3 experiment.py") }
    }

    func run() throws {
        // Reached when the fast path (RunInvocation.parse) left the command line to ArgumentParser; by
        // now it is valid, so only what ArgumentParser cannot check is left to report.
        try RunInvocation(self).execute()
    }
}

/// One `glovebox run`, its command line parsed and checked: what `RunCommand` and the fast path
/// (`RunInvocation.parse`) both produce, and what executes it.
struct RunInvocation: Equatable {
    var socketPath: String
    var request: RunRequest
    var workdir: String?
    var record: String?

    init(socketPath: String, request: RunRequest, workdir: String?, record: String?) {
        self.socketPath = socketPath
        self.request = request
        self.workdir = workdir
        self.record = record
    }

    /// From ArgumentParser's parse. Throws ValidationError for what it cannot check itself (sizes,
    /// durations, environment names).
    init(_ command: RunCommand) throws {
        let limits = try Self.limits(timeout: command.timeout, memory: command.memory, storage: command.storage,
                                     pids: command.pids, cpus: command.cpus, gpus: command.gpus)
        let environment = try Self.environment(command.environment)
        self.init(socketPath: DaemonConnection.socketPath(command.socket.socket),
                  request: RunRequest(template: command.template, argv: command.command, environment: environment,
                                      limits: limits, outputs: command.outputs),
                  workdir: command.workdir, record: command.record)
    }

    static func limits(timeout: String?, memory: String?, storage: String?, pids: Int?, cpus: Double?, gpus: Int?) throws -> LimitRequest {
        var limits = LimitRequest()
        if let timeout {
            guard let s = DurationText.parse(timeout) else { throw ValidationError("--timeout: '\(timeout)' is not a duration (e.g. 90s, 10m, 2h)") }
            limits.timeoutSeconds = s
        }
        if let memory {
            guard let b = ByteSize.parse(memory) else { throw ValidationError("--memory: '\(memory)' is not a size (e.g. 512MiB, 2GiB)") }
            limits.memoryBytes = b
        }
        if let storage {
            guard let b = ByteSize.parse(storage) else { throw ValidationError("--storage: '\(storage)' is not a size (e.g. 1GiB)") }
            limits.storageBytes = b
        }
        limits.pids = pids
        limits.cpus = cpus
        limits.gpus = gpus
        return limits
    }

    static func environment(_ items: [String]) throws -> [String: String] {
        var env: [String: String] = [:]
        for item in items {
            if let eq = item.firstIndex(of: "=") {
                env[String(item[..<eq])] = String(item[item.index(after: eq)...])
            } else if let value = getenv(item) {
                env[item] = String(cString: value)
            } else {
                throw ValidationError("--env \(item): not set in your environment")
            }
        }
        return env
    }

    /// Runs it; throws ExitCode with the status `glovebox run --help` documents.
    func execute() throws {
        // A closed stdout (`| head`) must not kill the client before the run's record arrives.
        signal(SIGPIPE, SIG_IGN)
        var client = RunClient(socketPath: socketPath, request: request, workdir: workdir)
        client.onQueued = { note in FileHandleStderr.print("glovebox: waiting in the queue, place \(note.position): \(note.reason) (Ctrl-C gives up)") }
        let result: RunClient.Result
        do {
            result = try client.run(forwardSignals: true)
        } catch let refusal as RunClient.Refused {
            FileHandleStderr.print("glovebox: \(refusal.message) (run \(refusal.runID))")
            if let record, let refused = try? DaemonQueries.show(socketPath: client.socketPath, runID: refusal.runID) {
                try? RecordJSON.write(refused, to: record)
            }
            throw ExitCode(125)
        } catch {
            FileHandleStderr.print("glovebox: \(error)")
            throw ExitCode(125)
        }
        for skipped in result.outputsSkipped { FileHandleStderr.print("glovebox: output not written: \(skipped)") }
        if let record {
            do { try RecordJSON.write(try result.record(), to: record) } catch {
                FileHandleStderr.print("glovebox: cannot write the record to \(record): \(error)")
                throw ExitCode(125)
            }
        }
        let summary = result.summary
        if summary.status != .ok && summary.status != .exitedNonzero && summary.status != .signaled {
            FileHandleStderr.print("glovebox: run \(summary.id) \(summary.status.rawValue)" + (summary.message.isEmpty ? "" : ": \(summary.message)"))
        } else if !summary.message.isEmpty {
            // A program that could not be executed (126/127) says why, as a shell would.
            FileHandleStderr.print("glovebox: run \(summary.id): \(summary.message)")
        }
        throw ExitCode(RunClient.exitStatus(for: summary))
    }
}

enum FileHandleStderr {
    static func print(_ text: String) {
        let line = Array((text + "\n").utf8)
        _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
}

enum RecordJSON {
    static func encode(_ record: RunRecord) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try encoder.encode(record), as: UTF8.self)
    }

    static func write(_ record: RunRecord, to path: String) throws {
        let text = try encode(record) + "\n"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ClientError(String(cString: strerror(errno))) }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard bytes.withUnsafeBytes({ Glibc.write(fd, $0.baseAddress, $0.count) }) == bytes.count else { throw ClientError(String(cString: strerror(errno))) }
    }
}
