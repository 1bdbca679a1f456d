import CSystem
import GloveboxProtocol
import GloveboxSystem
import PolicyModel
import RecordModel
#if canImport(Glibc)
import Glibc
#endif

/// `glovebox run` as a library: sends the request, streams the program's output to the given
/// descriptors, writes outputs into the workdir, and returns the run's record.
public struct RunClient {
    public var socketPath: String
    public var request: RunRequest
    public var workdir: String?
    public var stdout: Int32 = 1
    public var stderr: Int32 = 2
    /// Called once the daemon accepted the run. Without it the acceptance is not even decoded (a client
    /// that only runs a program spends nothing on it).
    public var onAccepted: ((Accepted) -> Void)?
    /// Called while the request waits for a cap, each time its place changes.
    public var onQueued: (QueueNote) -> Void = { _ in }
    /// Where the program's output goes instead of `stdout` and `stderr`, when set (a library that keeps it).
    public var onOutput: ((OutputStream, [UInt8]) -> Void)?
    /// Called with the connection's socket once the request is sent, so another thread can `cancel` the run.
    public var onConnected: ((Int32) -> Void)?

    public enum OutputStream: Sendable { case stdout, stderr }

    public init(socketPath: String, request: RunRequest, workdir: String? = nil) {
        self.socketPath = socketPath
        self.request = request
        self.workdir = workdir
    }

    /// The daemon refused the request and recorded the refusal as run `runID`.
    public struct Refused: Error, CustomStringConvertible {
        public let message: String
        public let runID: Int64
        public var description: String { message }
    }

    public struct Result {
        /// How the run ended, read without Codable (the client's per-run path).
        public var summary: RunSummary
        /// The run's whole record as the daemon sent it; `record()` decodes it.
        public var recordJSON: [UInt8]
        public var outputsWritten: [String]
        /// Outputs not carried out, with the reason ("results/link: a symbolic link").
        public var outputsSkipped: [String]

        /// The whole record (decoded on demand: Codable's first use costs about a millisecond).
        public func record() throws -> RunRecord { try Wire.decode(RunRecord.self, Frame(.finished, recordJSON)) }
    }

    public func run(forwardSignals: Bool = false) throws -> Result {
        var workdirFD: FileDescriptor?
        if let workdir {
            let fd = open(workdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard fd >= 0 else { throw ClientError("cannot open workdir \(workdir): \(String(cString: strerror(errno)))") }
            workdirFD = FileDescriptor(fd)
        }
        var request = self.request
        request.hasWorkdir = workdirFD != nil
        let connection = try DaemonConnection(path: socketPath)
        try connection.send(Frame(.runRequest, request.wireJSON), descriptor: workdirFD?.raw ?? -1)
        if forwardSignals { _ = gb_forward_cancel_signals(connection.socket.raw) }
        onConnected?(connection.socket.raw)
        let outputs = workdirFD.map { OutputWriter(root: $0) }
        var skipped: [String] = []
        while true {
            let frame = try connection.next()
            switch frame.kind {
            case .accepted: if let onAccepted { onAccepted(try Wire.decode(Accepted.self, frame)) }
            case .queued: onQueued(try Wire.decode(QueueNote.self, frame))
            case .stdout: if let onOutput { onOutput(.stdout, frame.payload) } else { Self.write(stdout, frame.payload) }
            case .stderr: if let onOutput { onOutput(.stderr, frame.payload) } else { Self.write(stderr, frame.payload) }
            case .outputDirectory: outputs?.directory(try Wire.decode(OutputNote.self, frame).path)
            case .outputFile: outputs?.begin(try Wire.decode(OutputFileHeader.self, frame))
            case .outputData: try outputs?.data(frame.payload)
            case .outputSkipped:
                let note = try Wire.decode(OutputNote.self, frame)
                skipped.append("\(note.path): \(note.reason)")
            case .finished:
                outputs?.discardPartial()
                return Result(summary: try RunSummary(recordJSON: frame.payload), recordJSON: frame.payload,
                              outputsWritten: outputs?.written ?? [], outputsSkipped: skipped + (outputs?.problems ?? []))
            case .error:
                let error = try Wire.decode(ErrorMessage.self, frame)
                if let id = error.runID { throw Refused(message: error.message, runID: id) }
                throw ClientError(error.message)
            default: throw ClientError("unexpected message from gloveboxd: \(frame.kind)")
            }
        }
    }

    /// Asks gloveboxd to cancel the run on `socket` (the one `onConnected` gave): safe from any thread while
    /// the run is in flight. The run still ends with its record, status `cancelled`.
    public static func cancel(socket: Int32) {
        let frame: [UInt8] = [0, 0, 0, 1, FrameKind.cancel.rawValue]
        _ = frame.withUnsafeBytes { send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
    }

    /// Writes the program's output to one of ours. A closed stdout (say, `| head`) must not end the
    /// client before the record arrives, so errors are dropped.
    static func write(_ fd: Int32, _ bytes: [UInt8]) {
        try? writeAll(fd, bytes)
    }

    /// The client's exit status for a finished run (documented in `glovebox run --help`).
    public static func exitStatus(for record: RunRecord) -> Int32 { exitStatus(for: RunSummary(record)) }

    public static func exitStatus(for record: RunSummary) -> Int32 {
        switch record.status {
        case .ok: return 0
        case .exitedNonzero: return record.exitCode ?? 1
        case .signaled: return 128 + (record.signal ?? 0)
        case .timeout: return 124
        case .oom: return 137
        case .cancelled: return 130
        case .refused, .internalError, .supervisorLost, .running: return 125
        }
    }
}
