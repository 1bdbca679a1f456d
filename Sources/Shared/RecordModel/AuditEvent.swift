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

    // MARK: The hash chain

    /// The hash this event should carry: `AuditEvent.chainHash` of its fields.
    public var computedHash: String {
        AuditEvent.chainHash(seq: seq, time: time, kind: kind.rawValue, runID: runID, uid: uid.map { Int64($0) },
                             template: template, detail: detail, previousHash: previousHash)
    }

    /// Hex SHA-256 of the canonical form of one row. Works on the stored column values (kind as text, uid as a
    /// plain integer) so that `verifyAudit` can check rows whose contents no longer decode.
    ///
    /// The canonical form is the UTF-8 text
    ///
    ///     "glovebox-audit-v1" FIELD FIELD FIELD FIELD FIELD FIELD FIELD FIELD
    ///
    /// with the eight fields seq, time, kind, run_id, uid, template, detail, previous_hash in that order, each
    /// written as "|" followed by either "-" (an absent value: SQL NULL) or "<n>:<value>", where <n> is the
    /// byte length of the UTF-8 <value> in decimal. The length prefix makes it unambiguous whatever the text
    /// holds ("|", ":", newlines, NUL bytes), and "-" vs "0:" keeps an absent template apart from an empty one.
    /// Values: seq, run_id and uid in decimal (no sign for non-negative values, "-" prefix otherwise);
    /// time as the 16 lowercase hex digits of its IEEE-754 binary64 bit pattern (exact, no decimal rounding;
    /// -0.0 is written as 0.0); kind, template, detail and previous_hash as they are. Example (seq 1, time
    /// 1_700_000_000, no run id, uid or template, empty detail):
    ///
    ///     glovebox-audit-v1|1:1|16:41d954fc40000000|12:daemon-start|-|-|-|0:|64:0000...0000
    public static func chainHash(seq: Int64, time: Double, kind: String, runID: Int64?, uid: Int64?,
                                 template: String?, detail: String, previousHash: String) -> String {
        SHA256.hex(canonicalForm(seq: seq, time: time, kind: kind, runID: runID, uid: uid, template: template,
                                 detail: detail, previousHash: previousHash))
    }

    /// The bytes `chainHash` hashes (see there).
    package static func canonicalForm(seq: Int64, time: Double, kind: String, runID: Int64?, uid: Int64?,
                              template: String?, detail: String, previousHash: String) -> [UInt8] {
        var bytes = Array("glovebox-audit-v1".utf8)
        func field(_ value: String?) {
            bytes.append(UInt8(ascii: "|"))
            guard let value else {
                bytes.append(UInt8(ascii: "-"))
                return
            }
            let utf8 = Array(value.utf8)
            bytes.append(contentsOf: String(utf8.count).utf8)
            bytes.append(UInt8(ascii: ":"))
            bytes.append(contentsOf: utf8)
        }
        let bits = (time == 0 ? 0.0 : time).bitPattern  // SQLite may store -0.0 back as 0.0
        let hex = String(bits, radix: 16)
        field(String(seq))
        field(String(repeating: "0", count: 16 - hex.count) + hex)
        field(kind)
        field(runID.map { String($0) })
        field(uid.map { String($0) })
        field(template)
        field(detail)
        field(previousHash)
        return bytes
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
