import CSQLite
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One SQLite connection behind a mutex, the daemon's run records' and the scientist's archive's: `db` is
/// only touched inside `lock.withLock`, and every statement is prepared, stepped and finalized inside one
/// such section (so SQLite's per-connection state, its last error and rowid, is read by the section that
/// caused it), hence `@unchecked Sendable` is sound. The file is created with mode 0600; the connection
/// runs in WAL mode (checked) with synchronous=NORMAL, foreign keys on and a 5 s busy timeout, so that
/// several processes can share the file. SQLITE_OPEN_NOMUTEX: the lock already serializes it.
public final class SQLiteConnection: @unchecked Sendable {
    public let path: String
    private let db: OpaquePointer
    private let lock = Mutex(())

    /// `createDirectory`: make the file's directory (mode 0700) when it is missing, rather than fail naming
    /// the path (the scientist's archive, in ~/.local/share). `refuseSymbolicLink`: fail rather than open a
    /// database through a symbolic link (the daemon, as root).
    public init(path: String, createDirectory: Bool = false, refuseSymbolicLink: Bool = false) throws(SQLiteError) {
        self.path = path
        if createDirectory { try Self.createDirectory(of: path) }
        try SQLiteFile.createPrivately(path: path)
        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | (refuseSymbolicLink ? SQLITE_OPEN_NOFOLLOW : 0)
        let rc = sqlite3_open_v2(path, &handle, flags, nil)
        guard let db = handle else {
            // Only when SQLite could not even allocate the connection.
            throw SQLiteError(operation: "open", code: rc, message: String(cString: sqlite3_errstr(rc)), path: path)
        }
        do throws(SQLiteError) {
            if rc != SQLITE_OK { throw Statement.error(db, operation: "open", path: path, code: rc) }
            try Self.configure(db, path: path)
        } catch {
            _ = sqlite3_close_v2(db)
            throw error
        }
        self.db = db
    }

    private static func configure(_ db: OpaquePointer, path: String) throws(SQLiteError) {
        let operation = "open"
        let rc = sqlite3_busy_timeout(db, 5_000)
        if rc != SQLITE_OK { throw Statement.error(db, operation: operation, path: path, code: rc) }
        // The first statement that reads the file: a file that is not a database fails here (SQLITE_NOTADB).
        let mode = try firstValue(db, "PRAGMA journal_mode = WAL", operation: operation, path: path)
        guard mode?.lowercased() == "wal" else {
            throw SQLiteError(operation: operation, code: SQLITE_ERROR,
                              message: "cannot switch to WAL journal mode (journal_mode is \(mode ?? "unknown"))", path: path)
        }
        try execute(db, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON", operation: operation, path: path)
    }

    /// Runs `sql` (one statement, no parameters) and returns the first column of its first row as text, if any.
    @discardableResult
    public static func firstValue(_ db: OpaquePointer, _ sql: String, operation: String, path: String) throws(SQLiteError) -> String? {
        let statement = try Statement(db, sql, operation: operation, path: path)
        guard try statement.step() else { return nil }
        let first = statement.isNull(0) ? nil : statement.string(0)
        try statement.run()
        return first
    }

    /// Brings the schema to `version` (PRAGMA user_version) in one BEGIN IMMEDIATE transaction, so that two
    /// processes opening a fresh file cannot both do it: `upgrade(db, from)` is called with the version found
    /// (read again under the lock) when it is lower. A version above `version` is refused: `program` is
    /// named in the error ("gloveboxd", "scientist").
    public func migrate(to version: Int32, program: String, _ upgrade: (OpaquePointer, Int32) throws(SQLiteError) -> Void) throws(SQLiteError) {
        let operation = "migrate schema of"
        if try withDatabase({ (db) throws(SQLiteError) in try Self.userVersion(db, path: path) }) == version { return }
        try transaction(operation) { (db) throws(SQLiteError) in
            let found = try Self.userVersion(db, path: path)
            if found == version { return }
            if found < 0 || found > version {
                throw SQLiteError(operation: operation, code: SQLITE_ERROR,
                                  message: "schema version \(found) is not one this \(program) knows (up to \(version))", path: path)
            }
            try upgrade(db, found)
            // PRAGMA takes no bound parameters; `version` is the caller's own integer.
            try Self.execute(db, "PRAGMA user_version = \(version)", operation: operation, path: path)
        }
    }

    private static func userVersion(_ db: OpaquePointer, path: String) throws(SQLiteError) -> Int32 {
        let text = try firstValue(db, "PRAGMA user_version", operation: "read the schema version of", path: path) ?? "0"
        guard let version = Int32(text) else {
            throw SQLiteError(operation: "read the schema version of", code: SQLITE_CORRUPT, message: "unreadable schema version '\(text)'", path: path)
        }
        return version
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

    /// Runs `body` in a transaction (`begin`, BEGIN IMMEDIATE by default, … COMMIT, ROLLBACK on error; the
    /// original error is the one thrown) on the locked connection. `cache`: where BEGIN and COMMIT are kept
    /// prepared, for a store that runs a transaction on every write (the daemon's records).
    public func transaction<T>(_ operation: String, begin: String = "BEGIN IMMEDIATE", cache: StatementCache? = nil,
                               _ body: (OpaquePointer) throws(SQLiteError) -> T) throws(SQLiteError) -> T {
        try withDatabase { (db) throws(SQLiteError) -> T in
            func run(_ sql: String) throws(SQLiteError) {
                if let cache { try Statement(db, sql, cache: cache, operation: operation, path: path).run() }
                else { try Self.execute(db, sql, operation: operation, path: path) }
            }
            try run(begin)
            do throws(SQLiteError) {
                let result = try body(db)
                try run("COMMIT")
                return result
            } catch {
                // A failed ROLLBACK (the transaction already rolled back) adds nothing to the error.
                if sqlite3_get_autocommit(db) == 0 { try? run("ROLLBACK") }
                throw error
            }
        }
    }

    /// Creates the file's directory with mode 0700 when missing, so that the archive, which holds prompts and
    /// replies, is private to its user from the start.
    private static func createDirectory(of path: String) throws(SQLiteError) {
        let directory = (path as NSString).deletingLastPathComponent
        guard !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) else { return }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw SQLiteError(operation: "create directory for", code: SQLITE_CANTOPEN, message: "\(error)", path: path)
        }
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
