import CSQLite
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One SQLite connection behind a mutex (the scientist's archive): `db` is only touched inside `lock.withLock`, and every statement is
/// prepared, stepped and finalized inside one such section (the same discipline as `RecordStore`), hence
/// `@unchecked Sendable` is sound.
/// Opened with mode 0600 in WAL mode with a 5 s busy timeout, so several `scientist` processes can share it.
public final class SQLiteConnection: @unchecked Sendable {
    public let path: String
    private let db: OpaquePointer
    private let lock = Mutex(())

    public init(path: String) throws(SQLiteError) {
        self.path = path
        try Self.createPrivately(path: path)
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil)
        guard let db else {
            throw SQLiteError(operation: "open", code: rc, message: String(cString: sqlite3_errstr(rc)), path: path)
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

    public func withDatabase<T>(_ body: (OpaquePointer) throws(SQLiteError) -> T) throws(SQLiteError) -> T {
        try lock.withLock { (_) throws(SQLiteError) -> T in try body(db) }
    }

    /// Runs `sql` (one or more statements, no parameters, no rows wanted).
    public func execute(_ sql: String, operation: String) throws(SQLiteError) {
        try withDatabase { (db) throws(SQLiteError) in try Self.execute(db, sql, operation: operation, path: path) }
    }

    public static func execute(_ db: OpaquePointer, _ sql: String, operation: String, path: String) throws(SQLiteError) {
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(db, sql, nil, nil, &message)
        guard rc == SQLITE_OK else {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_free(message)
            throw SQLiteError(operation: operation, code: rc & 0xff, message: text, path: path)
        }
    }

    /// Runs `body` in a transaction (BEGIN IMMEDIATE … COMMIT, ROLLBACK on error) on the locked connection.
    public func transaction<T>(_ operation: String, _ body: (OpaquePointer) throws(SQLiteError) -> T) throws(SQLiteError) -> T {
        try withDatabase { (db) throws(SQLiteError) -> T in
            try Self.execute(db, "BEGIN IMMEDIATE", operation: operation, path: path)
            do throws(SQLiteError) {
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
    private static func createPrivately(path: String) throws(SQLiteError) {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o700])
            } catch {
                throw SQLiteError(operation: "create directory for", code: SQLITE_CANTOPEN, message: "\(error)", path: path)
            }
        }
        try SQLiteFile.createPrivately(path: path)
    }
}

/// The database file itself.
public enum SQLiteFile {
    /// Creates the file with mode 0600 before SQLite does (SQLite would use 0644 & ~umask), and tightens an
    /// existing file we own that is readable by others. The -wal and -shm files SQLite creates copy the
    /// database file's mode. A symbolic link is refused: the database must be a plain file.
    public static func createPrivately(path: String) throws(SQLiteError) {
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        if fd >= 0 {
            _ = fchmod(fd, 0o600)  // in case the umask removed owner bits
            close(fd)
            return
        }
        let createErrno = errno
        guard createErrno == EEXIST else {
            throw SQLiteError(operation: "open", code: SQLITE_CANTOPEN,
                              message: String(cString: strerror(createErrno)), path: path)
        }
        var linkInfo = stat()
        if lstat(path, &linkInfo) == 0, linkInfo.st_mode & S_IFMT == S_IFLNK {
            throw SQLiteError(operation: "open", code: SQLITE_CANTOPEN,
                              message: "is a symbolic link (refused: the database must be a plain file)", path: path)
        }
        for file in [path, path + "-wal", path + "-shm"] {
            let existing = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
            guard existing >= 0 else { continue }  // absent, or a symlink SQLite will refuse anyway
            var info = stat()
            if fstat(existing, &info) == 0, info.st_uid == geteuid(), info.st_mode & 0o077 != 0 {
                _ = fchmod(existing, 0o600)
            }
            close(existing)
        }
    }
}
