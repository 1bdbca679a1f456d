import CSQLite
import SQLiteSupport
@_exported import RecordModel
import FoundationEssentials
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The SQLite database of runs.
///
/// Thread safety: the one `sqlite3*` connection lives inside a `Mutex` and is only reachable through
/// `withLock`, so at most one thread uses it at a time, and every statement is prepared, stepped and finalized
/// within a single locked section (SQLite's per-connection state — last error, changes count, last rowid — is
/// therefore read by the same section that caused it). The connection is opened with SQLITE_OPEN_NOMUTEX since
/// this lock already serializes it. Other processes on the same file are handled by SQLite's own file locking
/// in WAL mode plus a 5 s busy timeout. Hence `@unchecked Sendable` is sound.
public final class RecordStore: @unchecked Sendable {
    /// The database file.
    public let path: String
    /// Internal, not private: RecordStore+Audit.swift works on the same connection under the same lock.
    let connection: Mutex<OpaquePointer>
    /// The statements every run makes, kept prepared; used only under `connection`'s lock.
    let statements = StatementCache()

    /// Opens (creating if needed, mode 0600) the database at `path`: WAL journal, synchronous=NORMAL,
    /// foreign keys on, a 5 s busy timeout; creates or migrates the schema (`PRAGMA user_version`).
    /// Symbolic links are refused: the daemon runs as root.
    public init(path: String) throws(RecordError) {
        self.path = path
        let db = try RecordStore.openConnection(path: path)
        connection = Mutex(db)
    }

    deinit {
        connection.withLock { db in
            // Every other statement is finalized by the time its locked section ends, so this closes for real
            // (and checkpoints the WAL when this is the last connection).
            statements.finalizeAll()
            _ = sqlite3_close_v2(db)
        }
    }

    // MARK: Public API

    /// Inserts `record` (its `id` is ignored) and returns the new id. Ids come from AUTOINCREMENT, so they are
    /// never reused, even after rows are deleted.
    public func insert(_ record: RunRecord) throws(RecordError) -> Int64 {
        try connection.withLock { (db) throws(RecordError) -> Int64 in try insertRow(db, record) }
    }

    /// Replaces every field of the row with `record.id`; a missing row is an error (SQLITE_NOTFOUND).
    public func update(_ record: RunRecord) throws(RecordError) {
        try connection.withLock { (db) throws(RecordError) in try updateRow(db, record) }
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
        return try connection.withLock { (db) throws(RecordError) -> RunRecord? in
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
        return try connection.withLock { (db) throws(RecordError) -> [RunRecord] in
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
        return try connection.withLock { (db) throws(RecordError) -> [RunRecord] in
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
        try connection.withLock { (db) throws(RecordError) -> String? in
            try RecordStore.execute(db, sql, operation: operation, path: path)
        }
    }

    // MARK: Opening

    private static let openFlags: Int32 =
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW

    /// Opens and configures a connection, closing it again on any failure.
    private static func openConnection(path: String) throws(RecordError) -> OpaquePointer {
        try SQLiteFile.createPrivately(path: path)

        var handle: OpaquePointer?
        let rc = sqlite3_open_v2(path, &handle, openFlags, nil)
        guard let db = handle else {
            // Only when SQLite could not even allocate the connection.
            throw RecordError(operation: "open", code: rc, message: String(cString: sqlite3_errstr(rc)), path: path)
        }
        do throws(RecordError) {
            if rc != SQLITE_OK { throw Statement.error(db, operation: "open", path: path, code: rc) }
            try configure(db, path: path)
            try migrate(db, path: path)
        } catch {
            _ = sqlite3_close_v2(db)
            throw error
        }
        return db
    }

    private static func configure(_ db: OpaquePointer, path: String) throws(RecordError) {
        let operation = "open"
        let rc = sqlite3_busy_timeout(db, 5_000)
        if rc != SQLITE_OK { throw Statement.error(db, operation: operation, path: path, code: rc) }
        // The first statement that reads the file: a file that is not a database fails here (SQLITE_NOTADB).
        let mode = try execute(db, "PRAGMA journal_mode = WAL", operation: operation, path: path)
        guard mode?.lowercased() == "wal" else {
            throw RecordError(operation: operation, code: SQLITE_ERROR,
                              message: "cannot switch to WAL journal mode (journal_mode is \(mode ?? "unknown"))",
                              path: path)
        }
        try execute(db, "PRAGMA synchronous = NORMAL", operation: operation, path: path)
        try execute(db, "PRAGMA foreign_keys = ON", operation: operation, path: path)
    }

    private static func userVersion(_ db: OpaquePointer, path: String, operation: String) throws(RecordError) -> Int32 {
        let text = try execute(db, "PRAGMA user_version", operation: operation, path: path) ?? "0"
        guard let version = Int32(text) else {
            throw RecordError(operation: operation, code: SQLITE_CORRUPT,
                              message: "unreadable schema version '\(text)'", path: path)
        }
        return version
    }

    private static func migrate(_ db: OpaquePointer, path: String) throws(RecordError) {
        let operation = "migrate schema of"
        let current = Schema.currentVersion
        if try userVersion(db, path: path, operation: operation) == current { return }

        // BEGIN IMMEDIATE takes the write lock, so two daemons opening a fresh file cannot both migrate;
        // the version is read again under the lock.
        try execute(db, "BEGIN IMMEDIATE", operation: operation, path: path)
        do throws(RecordError) {
            let version = try userVersion(db, path: path, operation: operation)
            if version < 0 || version > current {
                throw RecordError(operation: operation, code: SQLITE_ERROR,
                                  message: "schema version \(version) is not one this gloveboxd knows (up to \(current))",
                                  path: path)
            }
            for step in Schema.migrations[Int(version)...] {
                for sql in step {
                    try execute(db, sql, operation: operation, path: path)
                }
            }
            // PRAGMA takes no bound parameters; `current` is our own integer.
            try execute(db, "PRAGMA user_version = \(current)", operation: operation, path: path)
            try execute(db, "COMMIT", operation: operation, path: path)
        } catch {
            // Keep the original error; a failed ROLLBACK (e.g. the transaction was already rolled back) adds
            // nothing useful.
            if sqlite3_get_autocommit(db) == 0 {
                _ = try? execute(db, "ROLLBACK", operation: operation, path: path)
            }
            throw error
        }
    }

    @discardableResult
    private static func execute(_ db: OpaquePointer, _ sql: String, operation: String, path: String) throws(RecordError) -> String? {
        let statement = try Statement(db, sql, operation: operation, path: path)
        guard try statement.step() else { return nil }
        let first = statement.isNull(0) ? nil : statement.string(0)
        try statement.run()
        return first
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
