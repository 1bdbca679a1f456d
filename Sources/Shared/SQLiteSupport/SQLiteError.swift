import CSQLite

/// A failed operation on an SQLite database (gloveboxd's records, the scientist's archive), with the SQLite
/// result code and message: "cannot insert run into /var/lib/glovebox/glovebox.db: database or disk is full".
public struct SQLiteError: Error, Sendable, CustomStringConvertible {
    /// What was being done: "open", "insert run", "update run 7", "read run 7", "list runs", ...
    public let operation: String
    /// The primary SQLite result code (SQLITE_FULL, SQLITE_NOTADB, ...).
    public let code: Int32
    /// The `sqlite3_errmsg` text, or a description of the problem found outside SQLite.
    public let message: String
    /// The database file the operation was applied to.
    public let path: String

    public init(operation: String, code: Int32, message: String, path: String = "") {
        self.operation = operation
        self.code = code
        self.message = message
        self.path = path
    }

    /// The database (or the disk under it) is full: SQLITE_FULL.
    public var isDiskFull: Bool { code & 0xff == SQLITE_FULL }

    public var description: String {
        var text = "cannot \(operation)"
        if !path.isEmpty {
            if operation == "open" || operation.hasPrefix("open ") {
                text += " \(path)"
            } else if operation.hasPrefix("insert") {
                text += " into \(path)"
            } else {
                text += " in \(path)"
            }
        }
        return message.isEmpty ? text : "\(text): \(message)"
    }
}
