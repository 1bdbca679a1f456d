import CSQLite
import SQLiteSupport
@_exported import RecordModel
import FoundationEssentials
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The SQLite database of runs, on the shared connection (SQLiteConnection: one connection behind a mutex,
/// every statement prepared, stepped and finalized under it; WAL, a 5 s busy timeout, other processes
/// handled by SQLite's file locking). Symbolic links are refused: the daemon runs as root.
public final class RecordStore: @unchecked Sendable {
    /// The database file.
    public let path: String
    /// Internal, not private: RecordStore+Audit.swift works on the same connection.
    let database: SQLiteConnection
    /// The statements every run makes, kept prepared; used only under the connection's lock.
    let statements = StatementCache()

    /// Opens (creating if needed, mode 0600) the database at `path` and creates or migrates its schema
    /// (`PRAGMA user_version`, Schema.migrations).
    public init(path: String) throws(RecordError) {
        self.path = path
        database = try SQLiteConnection(path: path, refuseSymbolicLink: true)
        try database.migrate(to: Schema.currentVersion, program: "gloveboxd") { (db, found) throws(RecordError) in
            for step in Schema.migrations[Int(found)...] {
                for sql in step { try SQLiteConnection.firstValue(db, sql, operation: "migrate schema of", path: path) }
            }
        }
    }

    deinit {
        // Every other statement is finalized by the time its locked section ends, so the connection's own
        // deinit, after this one, closes for real (and checkpoints the WAL when it is the last connection).
        try? database.withDatabase { (_) throws(RecordError) in statements.finalizeAll() }
    }

    // MARK: Public API

    /// Inserts `record` (its `id` is ignored) and returns the new id. Ids come from AUTOINCREMENT, so they are
    /// never reused, even after rows are deleted.
    public func insert(_ record: RunRecord) throws(RecordError) -> Int64 {
        try database.withDatabase { (db) throws(RecordError) -> Int64 in try insertRow(db, record) }
    }

    /// Replaces every field of the row with `record.id`; a missing row is an error (SQLITE_NOTFOUND).
    public func update(_ record: RunRecord) throws(RecordError) {
        try database.withDatabase { (db) throws(RecordError) in try updateRow(db, record) }
    }

    func insertRow(_ db: OpaquePointer, _ record: RunRecord) throws(RecordError) -> Int64 {
        let operation = "insert run"
        let statement = try Statement(db, Self.insertSQL, cache: statements, operation: operation, path: path)
        try bindFields(of: record, to: statement, operation: operation)
        try statement.run()
        return sqlite3_last_insert_rowid(db)
    }

    func updateRow(_ db: OpaquePointer, _ record: RunRecord) throws(RecordError) {
        let operation = "update run \(record.id)"
        let statement = try Statement(db, Self.updateSQL, cache: statements, operation: operation, path: path)
        try bindFields(of: record, to: statement, operation: operation)
        try statement.bind(Int32(Schema.writableColumns.count + 1), record.id)
        try statement.run()
        if sqlite3_changes(db) == 0 {
            throw RecordError(operation: operation, code: SQLITE_NOTFOUND, message: "no such run", path: path)
        }
    }

    private static let insertSQL: String = {
        let columns = Schema.writableColumns
        let placeholders = (1...columns.count).map { "?\($0)" }.joined(separator: ", ")
        return "INSERT INTO runs (\(columns.joined(separator: ", "))) VALUES (\(placeholders))"
    }()

    private static let updateSQL: String = {
        let columns = Schema.writableColumns
        let assignments = columns.enumerated().map { "\($0.element) = ?\($0.offset + 1)" }.joined(separator: ", ")
        return "UPDATE runs SET \(assignments) WHERE id = ?\(columns.count + 1)"
    }()

    /// The run with `id`, or nil when there is none.
    public func run(id: Int64) throws(RecordError) -> RunRecord? {
        let operation = "read run \(id)"
        let sql = "SELECT \(Schema.selectColumns) FROM runs WHERE id = ?1"
        return try database.withDatabase { (db) throws(RecordError) -> RunRecord? in
            let statement = try Statement(db, sql, operation: operation, path: path)
            try statement.bind(1, id)
            guard try statement.step() else { return nil }
            return try record(from: statement, operation: operation)
        }
    }

    /// Runs, newest first (by id, which is insertion order), optionally only those of one client uid and/or
    /// with one status; at most `limit` of them (none when `limit` <= 0).
    public func runs(clientUID: UInt32? = nil, status: RunStatus? = nil, limit: Int = 100) throws(RecordError) -> [RunRecord] {
        guard limit > 0 else { return [] }
        let operation = "list runs"
        var conditions: [String] = []
        if clientUID != nil { conditions.append("client_uid = ?1") }
        if status != nil { conditions.append("status = ?2") }
        let whereClause = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        let sql = "SELECT \(Schema.selectColumns) FROM runs\(whereClause) ORDER BY id DESC LIMIT ?3"
        return try database.withDatabase { (db) throws(RecordError) -> [RunRecord] in
            let statement = try Statement(db, sql, operation: operation, path: path)
            if let clientUID { try statement.bind(1, Int64(clientUID)) }
            if let status { try statement.bind(2, status.rawValue) }
            try statement.bind(3, Int64(clamping: limit))
            var result: [RunRecord] = []
            while try statement.step() {
                result.append(try record(from: statement, operation: operation))
            }
            return result
        }
    }

    /// Rows still marked running, oldest first: after a daemon crash, recovery settles each of them.
    public func unfinishedRuns() throws(RecordError) -> [RunRecord] {
        let operation = "list unfinished runs"
        let sql = "SELECT \(Schema.selectColumns) FROM runs WHERE status = ?1 ORDER BY id ASC"
        return try database.withDatabase { (db) throws(RecordError) -> [RunRecord] in
            let statement = try Statement(db, sql, operation: operation, path: path)
            try statement.bind(1, RunStatus.running.rawValue)
            var result: [RunRecord] = []
            while try statement.step() {
                result.append(try record(from: statement, operation: operation))
            }
            return result
        }
    }

    // MARK: Internal (tests, maintenance)

    /// Runs `sql` (one statement, no parameters) and returns the first column of its first row as text, if any.
    @discardableResult
    func execute(_ sql: String, operation: String = "execute") throws(RecordError) -> String? {
        try database.withDatabase { (db) throws(RecordError) -> String? in
            try SQLiteConnection.firstValue(db, sql, operation: operation, path: path)
        }
    }

    // MARK: Rows

    /// JSON for the argv, limits_hit and limits columns. Non-finite limits (no limit) survive as strings.
    private static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return encoder
    }

    private static func makeDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return decoder
    }

    private func json<T: Encodable>(_ value: T, column: String, operation: String) throws(RecordError) -> String {
        do {
            let data = try RecordStore.makeEncoder().encode(value)
            return String(decoding: data, as: UTF8.self)
        } catch {
            throw RecordError(operation: operation, code: SQLITE_MISMATCH,
                              message: "cannot encode \(column): \(error)", path: path)
        }
    }

    private func decodeJSON<T: Decodable>(_ type: T.Type, _ text: String, column: String, id: Int64,
                                          operation: String) throws(RecordError) -> T {
        do {
            return try RecordStore.makeDecoder().decode(type, from: Data(text.utf8))
        } catch {
            throw corrupt("run \(id): invalid \(column) \(text.debugDescription)", operation: operation)
        }
    }

    private func corrupt(_ message: String, operation: String) -> RecordError {
        RecordError(operation: operation, code: SQLITE_CORRUPT, message: message, path: path)
    }

    /// Binds every field but `id` to parameters ?1 ... ?20, in `Schema.writableColumns` order.
    private func bindFields(of record: RunRecord, to statement: borrowing Statement, operation: String) throws(RecordError) {
        try statement.bind(1, record.template)
        try statement.bind(2, record.policyDigest)
        try statement.bind(3, Int64(record.clientUID))
        try statement.bind(4, Int64(record.clientPID))
        try statement.bind(5, json(record.argv, column: "argv", operation: operation))
        try statement.bind(6, record.startedAt)
        try statement.bind(7, record.endedAt)
        try statement.bind(8, record.wallSeconds)
        try statement.bind(9, record.userCPUSeconds)
        try statement.bind(10, record.systemCPUSeconds)
        try statement.bind(11, record.peakMemoryBytes.map { Int64(bitPattern: $0) })
        try statement.bind(12, record.exitCode.map { Int64($0) })
        try statement.bind(13, record.signal.map { Int64($0) })
        try statement.bind(14, record.status.rawValue)
        try statement.bind(15, json(record.limitsHit, column: "limits_hit", operation: operation))
        try statement.bind(16, record.message)
        try statement.bind(17, json(record.limits, column: "limits", operation: operation))
        try statement.bind(18, record.sandboxUID.map { Int64($0) })
        try statement.bind(19, record.kernel)
        var machine: String?
        if let facts = record.machine { machine = try json(facts, column: "machine", operation: operation) }
        try statement.bind(20, machine)
    }

    /// Reads the current row of a `SELECT Schema.selectColumns` statement.
    private func record(from row: borrowing Statement, operation: String) throws(RecordError) -> RunRecord {
        let id = row.int64(0)
        func int32(_ column: Int32, _ name: String) throws(RecordError) -> Int32? {
            guard let value = row.optionalInt64(column) else { return nil }
            guard let narrowed = Int32(exactly: value) else {
                throw corrupt("run \(id): \(name) \(value) out of range", operation: operation)
            }
            return narrowed
        }
        func uint32(_ column: Int32, _ name: String) throws(RecordError) -> UInt32? {
            guard let value = row.optionalInt64(column) else { return nil }
            guard let narrowed = UInt32(exactly: value) else {
                throw corrupt("run \(id): \(name) \(value) out of range", operation: operation)
            }
            return narrowed
        }
        let statusText = row.string(14)
        guard let status = RunStatus(rawValue: statusText) else {
            throw corrupt("run \(id): unknown status \(statusText.debugDescription)", operation: operation)
        }
        guard let clientUID = try uint32(3, "client_uid"), let clientPID = try int32(4, "client_pid") else {
            throw corrupt("run \(id): missing client uid or pid", operation: operation)
        }
        var machine: MachineFacts?
        if let text = row.optionalString(20) {
            machine = try decodeJSON(MachineFacts.self, text, column: "machine", id: id, operation: operation)
        }
        return RunRecord(
            id: id,
            template: row.string(1),
            policyDigest: row.string(2),
            clientUID: clientUID,
            clientPID: clientPID,
            argv: try decodeJSON([String].self, row.string(5), column: "argv", id: id, operation: operation),
            startedAt: row.double(6),
            endedAt: row.optionalDouble(7),
            wallSeconds: row.optionalDouble(8),
            userCPUSeconds: row.optionalDouble(9),
            systemCPUSeconds: row.optionalDouble(10),
            peakMemoryBytes: row.optionalInt64(11).map { UInt64(bitPattern: $0) },
            exitCode: try int32(12, "exit_code"),
            signal: try int32(13, "signal"),
            status: status,
            limitsHit: try decodeJSON([LimitHit].self, row.string(15), column: "limits_hit", id: id, operation: operation),
            message: row.string(16),
            limits: try decodeJSON([String: Double].self, row.string(17), column: "limits", id: id, operation: operation),
            sandboxUID: try uint32(18, "sandbox_uid"),
            kernel: row.string(19),
            machine: machine
        )
    }
}
