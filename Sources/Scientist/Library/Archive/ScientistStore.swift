import CSQLite
import Foundation
import SQLiteSupport

/// The scientist's SQLite archive: launches with their budgets, every model call with its tokens and cost,
/// ideas with scores and novelty verdicts, novelty checks with every paper consulted, and the literature
/// cache. Default location `~/.local/share/glovebox/scientist.db`.
public final class ScientistStore: Sendable {
    public var path: String { connection.path }
    let connection: SQLiteConnection

    public init(path: String) throws(SQLiteError) {
        connection = try SQLiteConnection(path: path)
        try connection.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
                               operation: "configure")
        try migrate()
    }

    private func migrate() throws(SQLiteError) {
        try connection.transaction("create schema") { (db) throws(SQLiteError) in
            let statement = try Statement(db, "PRAGMA user_version", operation: "read schema version", path: path)
            let version = try statement.step() ? statement.int64(0) : 0
            if version > ArchiveSchema.version {
                throw SQLiteError(operation: "open", code: SQLITE_ERROR,
                                  message: "schema version \(version) is newer than this scientist understands (\(ArchiveSchema.version))",
                                  path: path)
            }
            try SQLiteConnection.execute(db, ArchiveSchema.create, operation: "create schema", path: path)
            try SQLiteConnection.execute(db, "PRAGMA user_version = \(ArchiveSchema.version)", operation: "create schema", path: path)
        }
    }

    static var now: Double { Date().timeIntervalSince1970 }

    /// Runs one statement with `bind` applied; returns the last insert rowid.
    @discardableResult
    func write(_ operation: String, _ sql: String, _ bind: (borrowing Statement) throws(SQLiteError) -> Void) throws(SQLiteError) -> Int64 {
        try connection.withDatabase { (db) throws(SQLiteError) -> Int64 in
            let statement = try Statement(db, sql, operation: operation, path: path)
            try bind(statement)
            try statement.run()
            return sqlite3_last_insert_rowid(db)
        }
    }

    /// Runs a query, mapping each row with `row`.
    func read<T>(_ operation: String, _ sql: String, bind: (borrowing Statement) throws(SQLiteError) -> Void = { _ in },
                 row: (borrowing Statement) throws(SQLiteError) -> T) throws(SQLiteError) -> [T] {
        try connection.withDatabase { (db) throws(SQLiteError) -> [T] in
            let statement = try Statement(db, sql, operation: operation, path: path)
            try bind(statement)
            var result: [T] = []
            while try statement.step() { result.append(try row(statement)) }
            return result
        }
    }
}
