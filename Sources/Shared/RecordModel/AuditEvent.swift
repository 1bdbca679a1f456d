import GloveboxSystem

/// What an audit event records. The raw values are what the `events.kind` column and the JSON hold.
public enum AuditKind: String, Sendable, Codable, CaseIterable {
    case daemonStart = "daemon-start"
    case daemonStop = "daemon-stop"
    case runAccepted = "run-accepted"
    case runRefused = "run-refused"
    case runFinished = "run-finished"
    case limitHit = "limit-hit"
    case runCancelled = "run-cancelled"
    case runKilled = "run-killed"
    case runLost = "run-lost"
    case policyRejected = "policy-rejected"
    case connectionRejected = "connection-rejected"
    /// A run's kept output was deleted: older than [logs] retention, or over a quota.
    case logPruned = "log-pruned"
}

/// One row of the append-only audit log (`events` table). Each row carries the hash of the row before it, so
/// changing or removing a row breaks the chain (`RecordStore.verifyAudit()`).
///
/// JSON (`glovebox audit --json`): snake_case keys, every key always present (absent values are `null`):
/// seq, time, kind, run_id, uid, template, detail, previous_hash, hash.
public struct AuditEvent: Sendable, Codable, Equatable {
    /// Assigned on append: 1, 2, 3, ... never reused.
    public var seq: Int64
    /// Unix time, seconds (fractional).
    public var time: Double
    public var kind: AuditKind
    public var runID: Int64?
    /// The client's uid when there is one.
    public var uid: UInt32?
    public var template: String?
    /// Human text: the reason, the limit, the signal...
    public var detail: String
    /// `hash` of the previous row; `AuditEvent.genesisHash` (64 zeros) for seq 1.
    public var previousHash: String
    /// Hex SHA-256 of this row's canonical form (which includes `previousHash`).
    public var hash: String

    /// The `previousHash` of the first event.
    public static let genesisHash = String(repeating: "0", count: 64)

    public init(seq: Int64, time: Double, kind: AuditKind, runID: Int64? = nil, uid: UInt32? = nil,
                template: String? = nil, detail: String = "", previousHash: String = AuditEvent.genesisHash,
                hash: String = "") {
        self.seq = seq
        self.time = time
        self.kind = kind
        self.runID = runID
        self.uid = uid
        self.template = template
        self.detail = detail
        self.previousHash = previousHash
        self.hash = hash
    }

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case seq
        case time
        case kind
        case runID = "run_id"
        case uid
        case template
        case detail
        case previousHash = "previous_hash"
        case hash
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        seq = try c.decode(Int64.self, forKey: .seq)
        time = try c.decode(Double.self, forKey: .time)
        kind = try c.decode(AuditKind.self, forKey: .kind)
        runID = try c.decodeIfPresent(Int64.self, forKey: .runID)
        uid = try c.decodeIfPresent(UInt32.self, forKey: .uid)
        template = try c.decodeIfPresent(String.self, forKey: .template)
        detail = try c.decodeIfPresent(String.self, forKey: .detail) ?? ""
        previousHash = try c.decode(String.self, forKey: .previousHash)
        hash = try c.decode(String.self, forKey: .hash)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(seq, forKey: .seq)
        try c.encode(time, forKey: .time)
        try c.encode(kind, forKey: .kind)
        try c.encode(runID, forKey: .runID)
        try c.encode(uid, forKey: .uid)
        try c.encode(template, forKey: .template)
        try c.encode(detail, forKey: .detail)
        try c.encode(previousHash, forKey: .previousHash)
        try c.encode(hash, forKey: .hash)
    }
}

/// The first thing wrong with the audit chain, as `glovebox audit --verify` reports it.
public struct AuditProblem: Sendable, Equatable, CustomStringConvertible {
    /// The first row that is wrong (or the first seq that is missing).
    public var seq: Int64
    /// "row 17 was changed (its hash does not match its contents)", "row 18 is missing (row 19 follows row 17)",
    /// "row 19 does not follow row 18 (previous_hash differs)", "the newest rows were removed: the chain ends
    /// at 40 but 42 events were recorded", ...
    public var reason: String

    public init(seq: Int64, reason: String) {
        self.seq = seq
        self.reason = reason
    }

    public var description: String { "the audit chain is broken: \(reason)" }
}
