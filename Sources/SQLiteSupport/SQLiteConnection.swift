import CSQLite
import Foundation
import Records
import Synchronization

/// One SQLite connection behind a mutex: `db` is only touched inside `lock.withLock`, and every statement is
/// prepared, stepped and finalized inside one such section (the same discipline as `RecordStore`), hence
/// `@unchecked Sendable` is sound.
/// Opened with mode 0600 in WAL mode with a 5 s busy timeout, so several `scientist` processes can share it.
final class SQLiteConnection: @unchecked Sendable {
    let path: String
    private let db: OpaquePointer
    private let lock = Mutex(())

    init(path: String) throws(RecordError) {
        self.path = path
        try Self.createPrivately(path: path)
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil)
        guard let db else {
            throw RecordError(operation: "open", code: rc, message: String(cString: sqlite3_errstr(rc)), path: path)
        }
        guard rc == SQLITE_OK else {
            let error = Statement.error(db, operation: "open", path: path, code: rc)
            sqlite3_close_v2(db)
            throw error
        }
        sqlite3_busy_timeout(db, 5000)
        self.db = db
    }

    deinit {
        _ = sqlite3_close_v2(db)
    }

    func withDatabase<T>(_ body: (OpaquePointer) throws(RecordError) -> T) throws(RecordError) -> T {
        try lock.withLock { (_) throws(RecordError) -> T in try body(db) }
    }

    /// Runs `sql` (one or more statements, no parameters, no rows wanted).
    func execute(_ sql: String, operation: String) throws(RecordError) {
        try withDatabase { (db) throws(RecordError) in try Self.execute(db, sql, operation: operation, path: path) }
    }

    static func execute(_ db: OpaquePointer, _ sql: String, operation: String, path: String) throws(RecordError) {
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(db, sql, nil, nil, &message)
        guard rc == SQLITE_OK else {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_free(message)
            throw RecordError(operation: operation, code: rc & 0xff, message: text, path: path)
        }
    }

    /// Runs `body` in a transaction (BEGIN IMMEDIATE … COMMIT, ROLLBACK on error) on the locked connection.
    func transaction<T>(_ operation: String, _ body: (OpaquePointer) throws(RecordError) -> T) throws(RecordError) -> T {
        try withDatabase { (db) throws(RecordError) -> T in
            try Self.execute(db, "BEGIN IMMEDIATE", operation: operation, path: path)
            do throws(RecordError) {
                let result = try body(db)
                try Self.execute(db, "COMMIT", operation: operation, path: path)
                return result
            } catch {
                try? Self.execute(db, "ROLLBACK", operation: operation, path: path)
                throw error
            }
        }
    }

    /// Creates the file with mode 0600 (and its directory with 0700) when missing, so the archive — which holds
    /// prompts and replies — is private to its user from the start.
    private static func createPrivately(path: String) throws(RecordError) {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o700])
            } catch {
                throw RecordError(operation: "create directory for", code: SQLITE_CANTOPEN, message: "\(error)", path: path)
            }
        }
        // The file itself as the run database makes it: 0600, tightened if it exists, never a symbolic link.
        try RecordStore.createPrivately(path: path)
    }
}

extension Statement {
    func bind(_ index: Int32, _ value: String?) throws(RecordError) {
        if let value { try bind(index, value) } else { try bindNull(index) }
    }

    func optionalString(_ column: Int32) -> String? {
        isNull(column) ? nil : string(column)
    }
}
