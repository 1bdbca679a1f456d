import GloveboxProtocol
import Records

/// The short requests: list runs, end a run, read a run's output.
public enum DaemonQueries {
    public static func ps(socketPath: String, all: Bool, limit: Int = 50) throws -> [RunRecord] {
        let connection = try DaemonConnection(path: socketPath)
        try connection.send(Wire.encode(.psRequest, PsRequest(all: all, limit: limit)))
        let frame = try connection.next()
        switch frame.kind {
        case .runList: return try Wire.decode([RunRecord].self, frame)
        case .error: throw ClientError(try Wire.decode(ErrorMessage.self, frame).message)
        default: throw ClientError("unexpected message from gloveboxd: \(frame.kind)")
        }
    }

    public static func kill(socketPath: String, runID: Int64) throws -> String {
        let connection = try DaemonConnection(path: socketPath)
        try connection.send(Wire.encode(.killRequest, RunReference(runID: runID)))
        let frame = try connection.next()
        switch frame.kind {
        case .done: return try Wire.decode(OutputNote.self, frame).reason
        case .error: throw ClientError(try Wire.decode(ErrorMessage.self, frame).message)
        default: throw ClientError("unexpected message from gloveboxd: \(frame.kind)")
        }
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

extension DaemonQueries {
    public static func audit(socketPath: String, request: AuditRequest) throws -> [AuditEvent] {
        let connection = try DaemonConnection(path: socketPath)
        try connection.send(Wire.encode(.auditRequest, request))
        let frame = try connection.next()
        switch frame.kind {
        case .auditList: return try Wire.decode([AuditEvent].self, frame)
        case .error: throw ClientError(try Wire.decode(ErrorMessage.self, frame).message)
        default: throw ClientError("unexpected message from gloveboxd: \(frame.kind)")
        }
    }

    /// The chain's state in words; throws when the daemon refuses.
    public static func verifyAudit(socketPath: String) throws -> String {
        let connection = try DaemonConnection(path: socketPath)
        try connection.send(Wire.encode(.auditRequest, AuditRequest(verify: true)))
        let frame = try connection.next()
        switch frame.kind {
        case .done: return try Wire.decode(OutputNote.self, frame).reason
        case .error: throw ClientError(try Wire.decode(ErrorMessage.self, frame).message)
        default: throw ClientError("unexpected message from gloveboxd: \(frame.kind)")
        }
    }
}

extension DaemonQueries {
    public static func policies(socketPath: String, template: String? = nil) throws -> [PolicySummary] {
        let connection = try DaemonConnection(path: socketPath)
        try connection.send(Wire.encode(.policyRequest, PolicyRequest(template: template)))
        let frame = try connection.next()
        switch frame.kind {
        case .policyList: return try Wire.decode([PolicySummary].self, frame)
        case .error: throw ClientError(try Wire.decode(ErrorMessage.self, frame).message)
        default: throw ClientError("unexpected message from gloveboxd: \(frame.kind)")
        }
    }
}
