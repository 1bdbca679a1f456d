/// The `runs` schema and its migrations. `PRAGMA user_version` holds the schema version: 0 is a new, empty
/// database; each migration in `migrations[n]` takes version n to n + 1 and runs in one transaction.
enum Schema {
    /// Every column of `runs`, in the order `RecordStore` reads them.
    static let columns = [
        "id", "template", "policy_digest", "client_uid", "client_pid", "argv", "started_at", "ended_at",
        "wall_seconds", "user_cpu_seconds", "system_cpu_seconds", "peak_memory_bytes", "exit_code", "signal",
        "status", "limits_hit", "message", "limits", "sandbox_uid", "kernel",
    ]

    /// The columns a caller writes (all but `id`), in the order `RecordStore` binds them (parameters ?1 ...).
    static var writableColumns: ArraySlice<String> { columns.dropFirst() }

    static var selectColumns: String { columns.joined(separator: ", ") }

    static let migrations: [[String]] = [
        // 0 -> 1
        [
            """
            CREATE TABLE runs (
                id                 INTEGER PRIMARY KEY AUTOINCREMENT,
                template           TEXT    NOT NULL,
                policy_digest      TEXT    NOT NULL,
                client_uid         INTEGER NOT NULL CHECK (client_uid BETWEEN 0 AND 4294967295),
                client_pid         INTEGER NOT NULL,
                argv               TEXT    NOT NULL DEFAULT '[]',   -- JSON array of strings
                started_at         REAL    NOT NULL,                -- Unix time, seconds
                ended_at           REAL,
                wall_seconds       REAL,
                user_cpu_seconds   REAL,
                system_cpu_seconds REAL,
                peak_memory_bytes  INTEGER,                         -- UInt64 stored by bit pattern
                exit_code          INTEGER,
                signal             INTEGER,
                status             TEXT    NOT NULL CHECK (status IN ('running', 'ok', 'exited-nonzero', 'signaled',
                                       'timeout', 'oom', 'cancelled', 'refused', 'supervisor-lost', 'internal-error')),
                limits_hit         TEXT    NOT NULL DEFAULT '[]',   -- JSON array of limit names
                message            TEXT    NOT NULL DEFAULT '',
                limits             TEXT    NOT NULL DEFAULT '{}',   -- JSON object name -> number
                sandbox_uid        INTEGER CHECK (sandbox_uid BETWEEN 0 AND 4294967295),
                kernel             TEXT    NOT NULL DEFAULT ''
            )
            """,
            "CREATE INDEX runs_client_uid ON runs (client_uid)",
            "CREATE INDEX runs_status ON runs (status)",
        ],
    ]

    static var currentVersion: Int32 { Int32(migrations.count) }
}
