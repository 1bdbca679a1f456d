import GloveboxProtocol
import RecordModel

/// The short requests: one frame out, one answer back.
public enum DaemonQueries {
    /// Sends `request` and decodes the answer of kind `reply`; an error frame becomes a ClientError.
    static func ask<Request: Encodable, Reply: Decodable>(_ socketPath: String, _ kind: FrameKind, _ request: Request,
                                                          expect reply: FrameKind, as _: Reply.Type) throws -> Reply {
        let connection = try DaemonConnection(path: socketPath)
        try connection.send(Wire.encode(kind, request))
        let frame = try connection.next()
        switch frame.kind {
        case reply: return try Wire.decode(Reply.self, frame)
        case .error: throw ClientError(try Wire.decode(ErrorMessage.self, frame).message)
        default: throw ClientError("unexpected message from gloveboxd: \(frame.kind)")
        }
    }

    public static func show(socketPath: String, runID: Int64) throws -> RunRecord {
        try ask(socketPath, .showRequest, ShowRequest(runID: runID), expect: .record, as: RunRecord.self)
    }

    public static func ps(socketPath: String, all: Bool, limit: Int = 50) throws -> [RunRecord] {
        try ask(socketPath, .psRequest, PsRequest(all: all, limit: limit), expect: .runList, as: [RunRecord].self)
    }

    public static func kill(socketPath: String, runID: Int64) throws -> String {
        try ask(socketPath, .killRequest, RunReference(runID: runID), expect: .done, as: OutputNote.self).reason
    }

    public static func audit(socketPath: String, request: AuditRequest) throws -> [AuditEvent] {
        try ask(socketPath, .auditRequest, request, expect: .auditList, as: [AuditEvent].self)
    }

    /// The chain's state in words; throws when the daemon refuses.
    public static func verifyAudit(socketPath: String) throws -> String {
        try ask(socketPath, .auditRequest, AuditRequest(verify: true), expect: .done, as: OutputNote.self).reason
    }

    public static func policies(socketPath: String, template: String? = nil) throws -> [PolicySummary] {
        try ask(socketPath, .policyRequest, PolicyRequest(template: template), expect: .policyList, as: [PolicySummary].self)
    }

    /// Streams the run's kept output to `stdout`/`stderr`; returns the record when the run is over (nil
    /// when it is still running and `follow` was not asked for).
    public static func logs(socketPath: String, runID: Int64, follow: Bool, stdout: Int32 = 1, stderr: Int32 = 2) throws -> RunRecord? {
        let connection = try DaemonConnection(path: socketPath)
        try connection.send(Wire.encode(.logsRequest, LogsRequest(runID: runID, follow: follow)))
        while true {
            let frame = try connection.next()
            switch frame.kind {
            case .stdout: RunClient.write(stdout, frame.payload)
            case .stderr: RunClient.write(stderr, frame.payload)
            case .finished: return try Wire.decode(RunRecord.self, frame)
            case .logEnd: return nil
            case .error: throw ClientError(try Wire.decode(ErrorMessage.self, frame).message)
            default: throw ClientError("unexpected message from gloveboxd: \(frame.kind)")
            }
        }
    }
}
