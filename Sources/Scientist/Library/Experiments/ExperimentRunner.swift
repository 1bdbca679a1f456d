import Foundation
import GloveboxClient
import GloveboxProtocol
import GloveboxSystem
import PolicyModel
import RecordModel
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// How one sandboxed run ended, as gloveboxd recorded it, with the tail of its stderr.
public struct SandboxRun: Sendable, Equatable, Codable {
    /// gloveboxd's run id (also for a refusal, which it records too); nil when the daemon could not be reached.
    public var runID: Int64?
    /// gloveboxd's status: ok, exited-nonzero, signaled, timeout, oom, cancelled, refused, …
    public var status: String
    public var exitCode: Int32?
    public var signal: Int32?
    public var wallSeconds: Double?
    public var cpuSeconds: Double?
    public var peakMemoryBytes: UInt64?
    /// GPUs leased to the run (the policy's, through gloveboxd's queue) and their seconds: wall × GPUs.
    public var gpus: Int
    public var gpuSeconds: Double?
    public var policyDigest: String
    public var limitsHit: [String]
    /// The effective limits, as gloveboxd reported them (timeout_seconds, memory_bytes, …).
    public var limits: [String: Double]
    public var message: String
    /// The last 1500 characters of the run's stderr.
    public var stderrTail: String
    /// The last 64 KiB of the run's stdout (for the scientist's own programs, such as the software probe).
    public var stdoutTail: String = ""
    /// The machine as gloveboxd measured it for the run (its record's `machine`).
    public var machine: MachineFacts?

    public var succeeded: Bool { status == "ok" }
}

/// Runs a command in an idea's workspace inside a sandbox. The loop's only way to execute anything.
public protocol ExperimentRunner: Sendable {
    /// `argv` runs with `workdir` as the run's workspace; `outputs` (relative paths) come back into it.
    /// `label` prefixes the output lines shown to the user ("[idea run 2]").
    func run(argv: [String], workdir: String, outputs: [String], label: String) throws(ScientistError) -> SandboxRun
    /// True once the user asked to stop (Ctrl-C): the loop stops before its next model call or run.
    var isCancelled: Bool { get }
}

/// Where runs' output goes: the terminal (each line prefixed with its label), or a log file (`--quiet`).
public final class OutputSink: Sendable {
    private let fd: Int32
    private let lock = Mutex(())

    public init(fd: Int32) { self.fd = fd }

    func write(label: String, _ line: Substring) {
        let text = Array("[\(label)] \(line)\n".utf8)
        lock.withLock { _ in try? writeAll(fd, text) }
    }
}

/// Runs in flight, so that Ctrl-C (or a budget's end) can cancel every one of them: each holds a duplicate of
/// its connection's socket, closed under the lock once its run returned, so a cancel never reaches a reused
/// descriptor.
public final class RunCanceller: Sendable {
    private struct State {
        var sockets: [Int: Int32] = [:]
        var next = 0
        var cancelled = false
    }
    private let state = Mutex(State())

    public init() {}

    public var isCancelled: Bool { state.withLock { $0.cancelled } }

    /// Cancels every run in flight and every later one.
    public func cancelAll() {
        state.withLock { state in
            state.cancelled = true
            for socket in state.sockets.values { RunClient.cancel(socket: socket) }
        }
    }

    func register(_ socket: Int32) -> Int? {
        let copy = fcntl(socket, F_DUPFD_CLOEXEC, 0)
        guard copy >= 0 else { return nil }
        return state.withLock { state in
            state.next += 1
            state.sockets[state.next] = copy
            if state.cancelled { RunClient.cancel(socket: copy) }
            return state.next
        }
    }

    func unregister(_ key: Int?) {
        guard let key else { return }
        state.withLock { state in
            if let socket = state.sockets.removeValue(forKey: key) { close(socket) }
        }
    }
}

/// Runs through gloveboxd with `GloveboxClient`'s `RunClient`, under one policy.
public struct GloveboxRunner: ExperimentRunner {
    public let socketPath: String
    public let policy: String
    public let sink: OutputSink
    public let canceller: RunCanceller
    /// Limits tighter than the policy's, for every run (gloveboxd refuses looser ones); none by default.
    public let limits: LimitRequest

    public init(socketPath: String, policy: String, sink: OutputSink, canceller: RunCanceller, limits: LimitRequest = LimitRequest()) {
        self.socketPath = socketPath; self.policy = policy; self.sink = sink; self.canceller = canceller; self.limits = limits
    }

    public var isCancelled: Bool { canceller.isCancelled }

    public func run(argv: [String], workdir: String, outputs: [String], label: String) throws(ScientistError) -> SandboxRun {
        if canceller.isCancelled { throw .interrupted }
        var client = RunClient(socketPath: socketPath, request: RunRequest(template: policy, argv: argv, limits: limits, outputs: outputs),
                               workdir: workdir)
        let lines = LineSplitter(label: label, sink: sink)
        client.onOutput = { stream, bytes in lines.take(stream, bytes) }
        let key = Mutex<Int?>(nil)
        client.onConnected = { socket in key.withLock { $0 = canceller.register(socket) } }
        defer { canceller.unregister(key.withLock { $0 }) }
        let result: RunClient.Result
        do {
            result = try client.run()
        } catch let refused as RunClient.Refused {
            return SandboxRun(runID: refused.runID, status: "refused", gpus: 0, policyDigest: "", limitsHit: [], limits: [:],
                              message: refused.message, stderrTail: "")
        } catch {
            throw .run("gloveboxd at \(socketPath): \(error)")
        }
        lines.flush()
        let record: RunRecord
        do { record = try result.record() } catch { throw .run("gloveboxd's record of the run is unreadable: \(error)") }
        var run = Self.summary(of: record, stderrTail: lines.stderrTail)
        run.stdoutTail = lines.stdoutTail
        if !result.outputsSkipped.isEmpty {
            run.message += (run.message.isEmpty ? "" : "; ") + "outputs not brought back: " + result.outputsSkipped.joined(separator: ", ")
        }
        return run
    }

    static func summary(of record: RunRecord, stderrTail: String) -> SandboxRun {
        let cpu = (record.userCPUSeconds ?? 0) + (record.systemCPUSeconds ?? 0)
        let gpus = Int(record.limits["gpus"] ?? 0)
        return SandboxRun(runID: record.id, status: record.status.rawValue, exitCode: record.exitCode, signal: record.signal,
                          wallSeconds: record.wallSeconds, cpuSeconds: record.userCPUSeconds == nil ? nil : cpu,
                          peakMemoryBytes: record.peakMemoryBytes, gpus: gpus,
                          gpuSeconds: gpus > 0 ? record.wallSeconds.map { $0 * Double(gpus) } : nil,
                          policyDigest: record.policyDigest, limitsHit: record.limitsHit.map(\.rawValue), limits: record.limits,
                          message: record.message, stderrTail: stderrTail, machine: record.machine)
    }
}

/// Splits a run's output into lines for the sink, and keeps the last 1500 characters of its stderr.
final class LineSplitter: Sendable {
    private struct State {
        var pending: [RunClient.OutputStream: [UInt8]] = [:]
        var stderr: [UInt8] = []
        var stdout: [UInt8] = []
    }
    private let state = Mutex(State())
    let label: String
    let sink: OutputSink
    static let tail = 1500
    static let stdoutTail = 64 << 10

    init(label: String, sink: OutputSink) { self.label = label; self.sink = sink }

    func take(_ stream: RunClient.OutputStream, _ bytes: [UInt8]) {
        state.withLock { state in
            if stream == .stderr {
                state.stderr += bytes
                if state.stderr.count > 4 * Self.tail { state.stderr.removeFirst(state.stderr.count - 4 * Self.tail) }
            } else {
                state.stdout += bytes
                if state.stdout.count > Self.stdoutTail { state.stdout.removeFirst(state.stdout.count - Self.stdoutTail) }
            }
            var buffer = state.pending[stream, default: []] + bytes
            while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                sink.write(label: label, Substring(String(decoding: buffer[..<newline], as: UTF8.self)))
                buffer.removeSubrange(...newline)
            }
            if buffer.count > 64 << 10 {
                sink.write(label: label, Substring(String(decoding: buffer, as: UTF8.self)))
                buffer = []
            }
            state.pending[stream] = buffer
        }
    }

    func flush() {
        state.withLock { state in
            for (_, rest) in state.pending where !rest.isEmpty { sink.write(label: label, Substring(String(decoding: rest, as: UTF8.self))) }
            state.pending = [:]
        }
    }

    var stdoutTail: String { state.withLock { String(decoding: $0.stdout, as: UTF8.self) } }

    var stderrTail: String {
        let text = state.withLock { String(decoding: $0.stderr, as: UTF8.self) }
        return text.count > Self.tail ? String(text.suffix(Self.tail)) : text
    }
}
