import GloveboxProtocol
import PolicyModel
import RecordModel

// The two messages of every `glovebox run`, read and written with CompactJSON instead of Codable (see
// there for why). Tests check both against Codable.

extension RunRequest {
    /// The request's JSON, as Codable would write it (nil limits left out), for the daemon's Codable decoder.
    public var wireJSON: [UInt8] {
        var limits = JSONObjectWriter()
        if let v = self.limits.timeoutSeconds { limits.add("timeoutSeconds", v) }
        if let v = self.limits.memoryBytes { limits.add("memoryBytes", v) }
        if let v = self.limits.pids { limits.add("pids", v) }
        if let v = self.limits.cpus { limits.add("cpus", v) }
        if let v = self.limits.storageBytes { limits.add("storageBytes", v) }
        if let v = self.limits.gpus { limits.add("gpus", v) }
        var w = JSONObjectWriter()
        w.add("template", template)
        w.add("argv", argv)
        w.add("environment", environment)
        w.add("limits", object: limits)
        w.add("outputs", outputs)
        w.add("hasWorkdir", hasWorkdir)
        return w.finished()
    }
}

/// What `glovebox run` needs of a finished run's record to report it and choose its exit status. The whole
/// record (Codable) is decoded only where it is asked for (`--record FILE`).
public struct RunSummary: Sendable, Equatable {
    public var id: Int64
    public var status: RunStatus
    public var exitCode: Int32?
    public var signal: Int32?
    public var message: String

    public init(id: Int64, status: RunStatus, exitCode: Int32? = nil, signal: Int32? = nil, message: String = "") {
        self.id = id; self.status = status; self.exitCode = exitCode; self.signal = signal; self.message = message
    }

    public init(_ record: RunRecord) {
        self.init(id: record.id, status: record.status, exitCode: record.exitCode, signal: record.signal, message: record.message)
    }

    /// Reads the summary from a record's JSON (a `finished` frame's payload).
    public init(recordJSON bytes: [UInt8]) throws {
        typealias Key = RunRecord.CodingKeys
        let json = try JSONValue.parse(bytes)
        func malformed(_ key: Key) -> ProtocolError { .malformed("RunRecord: \(key.rawValue) is missing or of the wrong type") }
        func optionalInteger<T: FixedWidthInteger>(_ key: Key, _: T.Type) throws -> T? {
            guard let v = json[key.rawValue], !v.isNull else { return nil }
            guard let n = v.integer(T.self) else { throw malformed(key) }
            return n
        }
        guard case .object = json else { throw ProtocolError.malformed("RunRecord: not a JSON object") }
        guard let statusText = json[Key.status.rawValue]?.string, let status = RunStatus(rawValue: statusText) else { throw malformed(.status) }
        let message: String
        if let v = json[Key.message.rawValue], !v.isNull {
            guard let s = v.string else { throw malformed(.message) }
            message = s
        } else {
            message = ""
        }
        self.init(id: try optionalInteger(.id, Int64.self) ?? 0, status: status, exitCode: try optionalInteger(.exitCode, Int32.self),
                  signal: try optionalInteger(.signal, Int32.self), message: message)
    }
}
