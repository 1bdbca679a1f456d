import CSQLite

/// A prepared statement on one connection. Non-copyable so that it is finalized exactly once, when it goes out
/// of scope, on success and on every error path alike. Only used while the owning store's lock is held.
/// Shared by every SQLite store of the package: gloveboxd's records and the scientist's archive.
public struct Statement: ~Copyable {
    private let handle: OpaquePointer
    private let db: OpaquePointer
    private let operation: String
    private let path: String
    /// Where the prepared statement goes back to instead of being finalized.
    private let cache: StatementCache?
    private let sql: String

    public init(_ db: OpaquePointer, _ sql: String, operation: String, path: String) throws(SQLiteError) {
        self.handle = try Statement.prepare(db, sql, flags: 0, operation: operation, path: path)
        self.db = db
        self.operation = operation
        self.path = path
        self.cache = nil
        self.sql = sql
    }

    /// A statement taken from `cache` (prepared there the first time), returned to it reset and unbound at
    /// the end of its scope. For the statements of every run; the cache belongs to `db`'s connection and is
    /// used under the same lock.
    public init(_ db: OpaquePointer, _ sql: String, cache: StatementCache, operation: String, path: String) throws(SQLiteError) {
        if let kept = cache.take(sql) {
            self.handle = kept
        } else {
            self.handle = try Statement.prepare(db, sql, flags: UInt32(SQLITE_PREPARE_PERSISTENT), operation: operation, path: path)
        }
        self.db = db
        self.operation = operation
        self.path = path
        self.cache = cache
        self.sql = sql
    }

    private static func prepare(_ db: OpaquePointer, _ sql: String, flags: UInt32, operation: String, path: String) throws(SQLiteError) -> OpaquePointer {
        var handle: OpaquePointer?
        let rc = sql.withCString { sqlite3_prepare_v3(db, $0, -1, flags, &handle, nil) }
        guard rc == SQLITE_OK, let handle else {
            // On failure sqlite3_prepare_v3 leaves *handle NULL; finalize(NULL) would be a harmless no-op anyway.
            throw Statement.error(db, operation: operation, path: path, code: rc)
        }
        return handle
    }

    deinit {
        if let cache {
            cache.giveBack(sql, handle)
        } else {
            sqlite3_finalize(handle)
        }
    }

    /// The error the connection reports now, falling back to `code` when the connection has none recorded.
    public static func error(_ db: OpaquePointer, operation: String, path: String, code: Int32) -> SQLiteError {
        let current = sqlite3_errcode(db)
        let resolved = current != SQLITE_OK ? current : code
        let message = current != SQLITE_OK ? String(cString: sqlite3_errmsg(db)) : String(cString: sqlite3_errstr(code))
        return SQLiteError(operation: operation, code: resolved & 0xff, message: message, path: path)
    }

    private func check(_ rc: Int32) throws(SQLiteError) {
        if rc != SQLITE_OK { throw Statement.error(db, operation: operation, path: path, code: rc) }
    }

    // MARK: Binding (indexes are 1-based, as in SQLite)

    public func bindNull(_ index: Int32) throws(SQLiteError) {
        try check(sqlite3_bind_null(handle, index))
    }

    public func bind(_ index: Int32, _ value: Int64) throws(SQLiteError) {
        try check(sqlite3_bind_int64(handle, index, value))
    }

    public func bind(_ index: Int32, _ value: Int64?) throws(SQLiteError) {
        if let value { try bind(index, value) } else { try bindNull(index) }
    }

    public func bind(_ index: Int32, _ value: Double) throws(SQLiteError) {
        try check(sqlite3_bind_double(handle, index, value))
    }

    public func bind(_ index: Int32, _ value: Double?) throws(SQLiteError) {
        if let value { try bind(index, value) } else { try bindNull(index) }
    }

    /// Binds the exact UTF-8 bytes (embedded NULs included); SQLite copies them.
    public func bind(_ index: Int32, _ value: String) throws(SQLiteError) {
        var text = value
        let rc = text.withUTF8 { bytes -> Int32 in
            if bytes.isEmpty {
                // A NULL pointer would bind SQL NULL, not ''.
                return sqlite3_bind_text(handle, index, "", 0, csqlite_transient())
            }
            return bytes.withMemoryRebound(to: CChar.self) {
                sqlite3_bind_text(handle, index, $0.baseAddress, Int32($0.count), csqlite_transient())
            }
        }
        try check(rc)
    }

    // MARK: Stepping

    /// Advances; true when a row is available, false when done.
    public func step() throws(SQLiteError) -> Bool {
        switch sqlite3_step(handle) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        case let rc: throw Statement.error(db, operation: operation, path: path, code: rc)
        }
    }

    /// Runs a statement expected to return no rows (or whose rows are of no interest).
    public func run() throws(SQLiteError) {
        while try step() {}
    }

    // MARK: Reading the current row (indexes are 0-based, as in SQLite)

    public func isNull(_ column: Int32) -> Bool {
        sqlite3_column_type(handle, column) == SQLITE_NULL
    }

    public func int64(_ column: Int32) -> Int64 {
        sqlite3_column_int64(handle, column)
    }

    public func optionalInt64(_ column: Int32) -> Int64? {
        isNull(column) ? nil : int64(column)
    }

    public func double(_ column: Int32) -> Double {
        sqlite3_column_double(handle, column)
    }

    public func optionalDouble(_ column: Int32) -> Double? {
        isNull(column) ? nil : double(column)
    }

    public func string(_ column: Int32) -> String {
        // sqlite3_column_text first, then sqlite3_column_bytes: the documented safe order.
        guard let text = sqlite3_column_text(handle, column) else { return "" }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
    }
}

/// Prepared statements kept for a connection's life, keyed by their SQL: parsing and planning a statement
/// cost more than running the small ones a run makes. A statement in use is out of the cache, so the same
/// SQL used twice at once gets a second statement, finalized when it comes back to a full slot.
/// Not thread-safe: used under the lock that serializes its connection, and finalized before it closes.
public final class StatementCache: @unchecked Sendable {
    private var idle: [String: OpaquePointer] = [:]

    public init() {}

    func take(_ sql: String) -> OpaquePointer? {
        idle.removeValue(forKey: sql)
    }

    func giveBack(_ sql: String, _ handle: OpaquePointer) {
        // Reset: no longer reading, locks released, a failed step's error cleared; then no old values bound.
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        if idle[sql] == nil {
            idle[sql] = handle
        } else {
            sqlite3_finalize(handle)
        }
    }

    /// Finalizes every statement kept (before the connection closes).
    public func finalizeAll() {
        for handle in idle.values { sqlite3_finalize(handle) }
        idle = [:]
    }
}

extension Statement {
    public func bind(_ index: Int32, _ value: String?) throws(SQLiteError) {
        if let value { try bind(index, value) } else { try bindNull(index) }
    }

    public func optionalString(_ column: Int32) -> String? {
        isNull(column) ? nil : string(column)
    }
}
