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
        connection = try SQLiteConnection(path: path, createDirectory: true)
        // ArchiveSchema.create makes what is missing (CREATE ... IF NOT EXISTS) at every version.
        try connection.migrate(to: Int32(ArchiveSchema.version), program: "scientist") { (db, _) throws(SQLiteError) in
            try SQLiteConnection.execute(db, ArchiveSchema.create, operation: "create schema", path: path)
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
