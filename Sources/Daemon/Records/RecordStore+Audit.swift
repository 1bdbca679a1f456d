import CSQLite
import SQLiteSupport
import FoundationEssentials

/// An event to append together with a change to a run's record (`RecordStore.insert(_:auditing:)`): its run,
/// uid and template are the record's.
public struct AuditNote: Sendable, Equatable {
    public var kind: AuditKind
    public var detail: String
    public init(_ kind: AuditKind, _ detail: String) { self.kind = kind; self.detail = detail }
}

/// The append-only, tamper-evident audit log: the `events` table (schema version 2) on the store's one
/// connection, under its one lock.
///
/// Every row carries the hash of the row before it (`AuditEvent.chainHash` documents the canonical form), so
/// a changed row no longer matches its own hash and a removed row leaves a gap or a broken link. Removing the
/// newest rows leaves neither; `audit_head` (the number of events ever appended and the newest hash, written
/// in the same transaction as each event) is what shows it. UPDATE and DELETE on `events` are refused by
/// triggers; someone who can write the file can drop them (and rewrite `audit_head`), which is what
/// `verifyAudit()` is for: it catches accidental and naive edits, not a forger who recomputes every hash.
extension RecordStore {
    private static let auditColumns = "seq, time, kind, run_id, uid, template, detail, previous_hash, hash"

    /// Appends one event atomically (BEGIN IMMEDIATE; read `audit_head`; insert; advance the head; COMMIT)
    /// and returns it, with its seq, time (now) and hashes. Safe from any number of threads (the store's lock)
    /// and processes (the write lock BEGIN IMMEDIATE takes).
    ///
    /// The new row links to `audit_head.last_hash` and takes seq `audit_head.count + 1`, not the last row's:
    /// after the newest rows were removed, a new event leaves the gap visible instead of papering over it.
    @discardableResult
    public func audit(_ kind: AuditKind, runID: Int64? = nil, uid: UInt32? = nil, template: String? = nil,
                      detail: String = "") throws(RecordError) -> AuditEvent {
        let time = Date().timeIntervalSince1970
        return try database.transaction("append audit event", cache: statements) { (db) throws(RecordError) -> AuditEvent in
            try appendEvent(db, kind, runID: runID, uid: uid, template: template, detail: detail, time: time)
        }
    }

    /// Inserts a run's record and appends its events (`notes`, for this run, its client and template) in one
    /// transaction: one commit where there were two. The events go in under a savepoint, so an event that
    /// cannot be appended never costs the run its record: its error is returned, the record is saved.
    public func insert(_ record: RunRecord, auditing notes: [AuditNote]) throws(RecordError) -> (id: Int64, auditError: RecordError?) {
        let time = Date().timeIntervalSince1970
        return try database.transaction("insert run", cache: statements) { (db) throws(RecordError) -> (id: Int64, auditError: RecordError?) in
            let id = try insertRow(db, record)
            var saved = record
            saved.id = id
            return (id, appendUnderSavepoint(db, notes, of: saved, time: time))
        }
    }

    /// Updates a run's record and appends its events in one transaction, as `insert(_:auditing:)` does.
    public func update(_ record: RunRecord, auditing notes: [AuditNote]) throws(RecordError) -> RecordError? {
        let time = Date().timeIntervalSince1970
        return try database.transaction("update run \(record.id)", cache: statements) { (db) throws(RecordError) -> RecordError? in
            try updateRow(db, record)
            return appendUnderSavepoint(db, notes, of: record, time: time)
        }
    }

    private func appendUnderSavepoint(_ db: OpaquePointer, _ notes: [AuditNote], of record: RunRecord, time: Double) -> RecordError? {
        if notes.isEmpty { return nil }
        let operation = "append audit event"
        do throws(RecordError) {
            try Statement(db, "SAVEPOINT audit_events", cache: statements, operation: operation, path: path).run()
        } catch {
            return error
        }
        do throws(RecordError) {
            for note in notes {
                _ = try appendEvent(db, note.kind, runID: record.id, uid: record.clientUID, template: record.template, detail: note.detail, time: time)
            }
            try Statement(db, "RELEASE audit_events", cache: statements, operation: operation, path: path).run()
            return nil
        } catch {
            _ = try? Statement(db, "ROLLBACK TO audit_events", cache: statements, operation: operation, path: path).run()
            _ = try? Statement(db, "RELEASE audit_events", cache: statements, operation: operation, path: path).run()
            return error
        }
    }

    private static let insertEventSQL = "INSERT INTO events (\(RecordStore.auditColumns)) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"

    /// Appends one event inside the caller's transaction (`audit_head` read and advanced with it).
    private func appendEvent(_ db: OpaquePointer, _ kind: AuditKind, runID: Int64?, uid: UInt32?, template: String?,
                             detail: String, time: Double) throws(RecordError) -> AuditEvent {
        let operation = "append audit event"
        let (count, lastHash) = try auditHead(db, operation: operation)
        var event = AuditEvent(seq: count + 1, time: time, kind: kind, runID: runID, uid: uid,
                               template: template, detail: detail, previousHash: lastHash)
        event.hash = event.computedHash

        let insert = try Statement(db, Self.insertEventSQL, cache: statements, operation: operation, path: path)
        try insert.bind(1, event.seq)
        try insert.bind(2, event.time)
        try insert.bind(3, event.kind.rawValue)
        try insert.bind(4, event.runID)
        try insert.bind(5, event.uid.map { Int64($0) })
        if let template = event.template { try insert.bind(6, template) } else { try insert.bindNull(6) }
        try insert.bind(7, event.detail)
        try insert.bind(8, event.previousHash)
        try insert.bind(9, event.hash)
        try insert.run()

        let advance = try Statement(db, "UPDATE audit_head SET count = ?1, last_hash = ?2 WHERE id = 1", cache: statements,
                                    operation: operation, path: path)
        try advance.bind(1, event.seq)
        try advance.bind(2, event.hash)
        try advance.run()
        return event
    }

    /// Events in seq order, optionally only those at or after the Unix time `since` and/or of one run; when
    /// `limit` is given, only the `limit` most recent of those (none when `limit` <= 0).
    public func auditEvents(since: Double? = nil, runID: Int64? = nil, limit: Int? = nil) throws(RecordError) -> [AuditEvent] {
        if let limit, limit <= 0 { return [] }
        let operation = "list audit events"
        var conditions: [String] = []
        if since != nil { conditions.append("time >= ?1") }
        if runID != nil { conditions.append("run_id = ?2") }
        let whereClause = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        // Newest first so that LIMIT keeps the most recent ones; reversed below. LIMIT -1 is no limit.
        let sql = "SELECT \(RecordStore.auditColumns) FROM events\(whereClause) ORDER BY seq DESC LIMIT ?3"
        return try database.withDatabase { (db) throws(RecordError) -> [AuditEvent] in
            let statement = try Statement(db, sql, operation: operation, path: path)
            if let since { try statement.bind(1, since) }
            if let runID { try statement.bind(2, runID) }
            try statement.bind(3, Int64(clamping: limit ?? -1))
            var events: [AuditEvent] = []
            while try statement.step() {
                events.append(try auditEvent(from: statement, operation: operation))
            }
            return events.reversed()
        }
    }

    /// Walks the whole chain in one read transaction (a consistent snapshot; appends wait meanwhile) and
    /// returns nil when it is intact, else the first problem: a row whose hash does not match its contents, a
    /// missing row, a row that does not link to the one before, or fewer (or more) rows than `audit_head`
    /// says were appended.
    public func verifyAudit() throws(RecordError) -> AuditProblem? {
        let operation = "verify audit log"
        return try database.transaction(operation, begin: "BEGIN DEFERRED", cache: statements) { (db) throws(RecordError) -> AuditProblem? in
            let (count, headHash) = try auditHead(db, operation: operation)
            let statement = try Statement(db, "SELECT \(RecordStore.auditColumns) FROM events ORDER BY seq ASC",
                                          operation: operation, path: path)
            var expected: Int64 = 1
            var previousHash = AuditEvent.genesisHash
            while try statement.step() {
                let seq = statement.int64(0)
                let storedPrevious = statement.string(7)
                let storedHash = statement.string(8)
                if seq < expected {
                    return AuditProblem(seq: seq, reason: "row \(seq) should not exist (rows are numbered from 1)")
                }
                if seq > expected {
                    let missing = seq - 1 == expected ? "row \(expected) is missing" : "rows \(expected) to \(seq - 1) are missing"
                    let context = expected == 1 ? "the chain starts at row \(seq)" : "row \(seq) follows row \(expected - 1)"
                    return AuditProblem(seq: expected, reason: "\(missing) (\(context))")
                }
                let computed = AuditEvent.chainHash(
                    seq: seq, time: statement.double(1), kind: statement.string(2), runID: statement.optionalInt64(3),
                    uid: statement.optionalInt64(4), template: statement.isNull(5) ? nil : statement.string(5),
                    detail: statement.string(6), previousHash: storedPrevious)
                if computed != storedHash {
                    return AuditProblem(seq: seq, reason: "row \(seq) was changed (its hash does not match its contents)")
                }
                if storedPrevious != previousHash {
                    let before = seq == 1 ? "the start of the chain" : "row \(seq - 1)"
                    return AuditProblem(seq: seq, reason: "row \(seq) does not follow \(before) (previous_hash differs)")
                }
                previousHash = storedHash
                expected = seq + 1
            }
            let last = expected - 1
            if last < count {
                return AuditProblem(seq: last + 1, reason: "the newest rows were removed: the chain ends at \(last) but \(count) events were recorded")
            }
            if last > count {
                return AuditProblem(seq: count + 1, reason: "row \(count + 1) was not recorded by gloveboxd: the chain ends at \(last) but only \(count) events were recorded")
            }
            if previousHash != headHash {
                return AuditProblem(seq: last, reason: "row \(last) was replaced (its hash differs from the one recorded when it was appended)")
            }
            return nil
        }
    }

    // MARK: Helpers

    /// `audit_head`'s count and last hash; a missing row (the file was edited) is SQLITE_CORRUPT.
    private func auditHead(_ db: OpaquePointer, operation: String) throws(RecordError) -> (count: Int64, lastHash: String) {
        let statement = try Statement(db, "SELECT count, last_hash FROM audit_head WHERE id = 1", cache: statements,
                                      operation: operation, path: path)
        guard try statement.step() else {
            throw RecordError(operation: operation, code: SQLITE_CORRUPT, message: "the audit head row is missing", path: path)
        }
        return (statement.int64(0), statement.string(1))
    }

    /// Reads the current row of a `SELECT auditColumns` statement.
    private func auditEvent(from row: borrowing Statement, operation: String) throws(RecordError) -> AuditEvent {
        let seq = row.int64(0)
        let kindText = row.string(2)
        guard let kind = AuditKind(rawValue: kindText) else {
            throw RecordError(operation: operation, code: SQLITE_CORRUPT,
                              message: "audit event \(seq): unknown kind \(kindText.debugDescription)", path: path)
        }
        var uid: UInt32?
        if let value = row.optionalInt64(4) {
            guard let narrowed = UInt32(exactly: value) else {
                throw RecordError(operation: operation, code: SQLITE_CORRUPT,
                                  message: "audit event \(seq): uid \(value) out of range", path: path)
            }
            uid = narrowed
        }
        return AuditEvent(seq: seq, time: row.double(1), kind: kind, runID: row.optionalInt64(3), uid: uid,
                          template: row.isNull(5) ? nil : row.string(5), detail: row.string(6),
                          previousHash: row.string(7), hash: row.string(8))
    }
}
