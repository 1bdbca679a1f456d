import Digests
import RecordModel

/// The audit log's hash chain, which only the daemon writes and verifies (RecordStore+Audit.swift): each
/// event carries the hash of its own fields and of the event before it.
extension AuditEvent {
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
        sha256Hex(canonicalForm(seq: seq, time: time, kind: kind, runID: runID, uid: uid, template: template,
                            detail: detail, previousHash: previousHash))
    }

    /// The bytes `chainHash` hashes (see there).
    static func canonicalForm(seq: Int64, time: Double, kind: String, runID: Int64?, uid: Int64?,
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
