/// The wire format between client and daemon over the Unix socket: a frame is a 4-byte big-endian
/// length (of the kind byte plus payload), one kind byte, then the payload. Control messages are JSON;
/// program output and file contents are raw bytes. The client's first frame may carry one descriptor
/// (its workdir) as SCM_RIGHTS.
public enum FrameKind: UInt8, Sendable {
    // client → daemon
    case runRequest = 1
    case cancel = 2
    case showRequest = 3
    case psRequest = 4         // JSON PsRequest
    case logsRequest = 5       // JSON LogsRequest
    case killRequest = 6       // JSON RunReference
    case auditRequest = 7      // JSON AuditRequest
    case policyRequest = 8     // JSON PolicyRequest
    // daemon → client
    case accepted = 10
    case stdout = 11
    case stderr = 12
    case outputFile = 13       // JSON OutputFileHeader; then `size` bytes in outputData frames
    case outputData = 14
    case outputDirectory = 15  // JSON {path}
    case outputSkipped = 16    // JSON {path, reason}
    case finished = 17         // JSON RunRecord
    case error = 18            // JSON ErrorMessage
    case record = 19           // JSON RunRecord (reply to showRequest)
    case runList = 20          // JSON [RunRecord] (reply to psRequest)
    case logEnd = 21           // JSON OutputNote: the log ends here while the run goes on (not following)
    case done = 22             // JSON OutputNote: a request was carried out (kill)
    case queued = 23           // JSON QueueNote: the request waits for a cap; sent again when its place changes
    case auditList = 24        // JSON [AuditEvent]
    case policyList = 25       // JSON [PolicySummary]
}

public struct Frame: Sendable {
    public var kind: FrameKind
    public var payload: [UInt8]
    public init(_ kind: FrameKind, _ payload: [UInt8] = []) {
        self.kind = kind
        self.payload = payload
    }

    /// Largest payload either side accepts. Requests are far smaller; output is sent in 64 KiB pieces.
    public static let maxPayload = 1 << 20

    public static func header(kind: FrameKind, payloadCount: Int) -> [UInt8] {
        let n = UInt32(payloadCount + 1)
        return [UInt8(n >> 24), UInt8(truncatingIfNeeded: n >> 16), UInt8(truncatingIfNeeded: n >> 8), UInt8(truncatingIfNeeded: n), kind.rawValue]
    }

    public var encoded: [UInt8] { Frame.header(kind: kind, payloadCount: payload.count) + payload }
}

public enum ProtocolError: Error, CustomStringConvertible, Sendable {
    case truncated
    case tooLarge(Int)
    case unknownKind(UInt8)
    case unexpected(FrameKind)
    case malformed(String)
    case extraDescriptor
    case timedOut

    public var description: String {
        switch self {
        case .truncated: return "the connection closed in the middle of a frame"
        case .tooLarge(let n): return "frame of \(n) bytes is larger than the \(Frame.maxPayload)-byte limit"
        case .unknownKind(let k): return "unknown frame kind \(k)"
        case .unexpected(let k): return "unexpected frame \(k)"
        case .malformed(let why): return "malformed message: \(why)"
        case .extraDescriptor: return "a descriptor was sent where none is accepted"
        case .timedOut: return "the request did not arrive in time"
        }
    }
}
