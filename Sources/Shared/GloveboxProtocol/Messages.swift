import FoundationEssentials
import PolicyModel
import RecordModel

/// `glovebox run`: what to run, under which template, with what tighter limits.
public struct RunRequest: Codable, Sendable, Equatable {
    public var template: String
    public var argv: [String]
    /// Variables the client passes explicitly (--env); the policy's `pass` list decides which are allowed.
    public var environment: [String: String]
    public var limits: LimitRequest
    /// Paths (relative to the workdir) to bring back when the run ends.
    public var outputs: [String]
    /// True when the frame carries the workdir descriptor.
    public var hasWorkdir: Bool

    public init(template: String, argv: [String], environment: [String: String] = [:], limits: LimitRequest = LimitRequest(),
                outputs: [String] = [], hasWorkdir: Bool = false) {
        self.template = template; self.argv = argv; self.environment = environment; self.limits = limits
        self.outputs = outputs; self.hasWorkdir = hasWorkdir
    }
}

public struct Accepted: Codable, Sendable {
    public var runID: Int64
    public var limits: Limits
    public init(runID: Int64, limits: Limits) { self.runID = runID; self.limits = limits }
}

/// `glovebox show RUN`, `glovebox kill RUN`.
public struct ShowRequest: Codable, Sendable {
    public var runID: Int64
    public init(runID: Int64) { self.runID = runID }
}

public typealias RunReference = ShowRequest

/// `glovebox ps`: the runs in flight, or with `all` the most recent ones of any status.
public struct PsRequest: Codable, Sendable {
    public var all: Bool
    public var limit: Int
    public init(all: Bool = false, limit: Int = 50) { self.all = all; self.limit = limit }
}

/// `glovebox logs RUN [--follow]`.
public struct LogsRequest: Codable, Sendable {
    public var runID: Int64
    public var follow: Bool
    public init(runID: Int64, follow: Bool) { self.runID = runID; self.follow = follow }
}

public struct OutputFileHeader: Codable, Sendable {
    public var path: String
    public var mode: UInt32
    public var size: UInt64
    public init(path: String, mode: UInt32, size: UInt64) { self.path = path; self.mode = mode; self.size = size }
}

public struct OutputNote: Codable, Sendable {
    public var path: String
    public var reason: String
    public init(path: String, reason: String = "") { self.path = path; self.reason = reason }
}

public struct ErrorMessage: Codable, Sendable {
    public var message: String
    /// The run's record when the refusal was recorded.
    public var runID: Int64?
    /// Messages may quote what a client sent; at most 4096 characters of them go back.
    public init(message: String, runID: Int64? = nil) {
        self.message = message.count > 4096 ? String(message.prefix(4096)) + "…" : message
        self.runID = runID
    }
}

public enum Wire {
    public static func encode<T: Encodable>(_ kind: FrameKind, _ value: T) -> Frame {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return Frame(kind, Array((try? encoder.encode(value)) ?? Data()))
    }

    /// The longest prefix (or, with `fromEnd`, suffix) of `items` whose frame fits under Frame.maxPayload.
    public static func encodeFitting<T: Encodable>(_ kind: FrameKind, _ items: [T], keepEnd: Bool = false) -> Frame {
        var count = items.count
        while true {
            let slice = keepEnd ? Array(items.suffix(count)) : Array(items.prefix(count))
            let frame = encode(kind, slice)
            if frame.payload.count <= Frame.maxPayload || count == 0 { return frame }
            count = count * Frame.maxPayload / max(frame.payload.count, 1) * 9 / 10
        }
    }

    public static func decode<T: Decodable>(_ type: T.Type, _ frame: Frame) throws -> T {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do {
            return try decoder.decode(type, from: Data(frame.payload))
        } catch {
            throw ProtocolError.malformed("\(T.self): \(error)")
        }
    }
}

/// Where a request waits, and for what.
public struct QueueNote: Codable, Sendable, Equatable {
    public var position: Int
    public var reason: String
    public init(position: Int, reason: String) { self.position = position; self.reason = reason }
}

/// `glovebox audit`: events since a time and/or of one run, or a check of the whole chain.
public struct AuditRequest: Codable, Sendable {
    public var since: Double?
    public var runID: Int64?
    public var limit: Int
    public var verify: Bool
    public init(since: Double? = nil, runID: Int64? = nil, limit: Int = 1000, verify: Bool = false) {
        self.since = since; self.runID = runID; self.limit = limit; self.verify = verify
    }
}

/// `glovebox policy list` (no name) or `glovebox policy show NAME`.
public struct PolicyRequest: Codable, Sendable {
    public var template: String?
    public init(template: String? = nil) { self.template = template }
}

/// A policy as the daemon serves it, and whether the asking user may use it.
public struct PolicySummary: Codable, Sendable, Equatable {
    public var template: String
    public var description: String
    public var digest: String
    public var usable: Bool
    public var limits: Limits
    public var readOnlyPaths: [String]
    public var workdir: String
    public var environment: [String: String]
    public var passEnvironment: [String]
    public var users: [String]
    public var groups: [String]
    public var seccompDeny: [String]
    public var onDisconnect: String
    public var caps: [String: String]

    public init(_ p: Policy, usable: Bool) {
        template = p.template; description = p.description; digest = p.digest; self.usable = usable; limits = p.limits
        readOnlyPaths = p.readOnlyPaths; workdir = p.workdir; environment = p.environment; passEnvironment = p.passEnvironment
        users = p.users; groups = p.groups; seccompDeny = p.seccompDeny; onDisconnect = p.onDisconnect.rawValue
        var c: [String: String] = [:]
        if let v = p.caps.concurrentRuns { c["concurrent_runs"] = String(v) }
        if let v = p.caps.runsPerHour { c["runs_per_hour"] = String(v) }
        if let v = p.caps.userConcurrentRuns { c["user_concurrent_runs"] = String(v) }
        if let v = p.caps.userRunsPerHour { c["user_runs_per_hour"] = String(v) }
        if let v = p.caps.overCap { c["over_cap"] = v.rawValue }
        if let v = p.logBytes { c["log"] = ByteSize.format(v) }
        caps = c
    }
}
