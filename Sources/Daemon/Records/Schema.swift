import SQLiteSupport
/// The schema (`runs`; since version 2 the audit log's `events` and `audit_head`) and its migrations. `PRAGMA user_version` holds the schema version: 0 is a new, empty
/// database; each migration in `migrations[n]` takes version n to n + 1 and runs in one transaction.
enum Schema {
    /// Every column of `runs`, in the order `RecordStore` reads them.
    static let columns = [
        "id", "template", "policy_digest", "client_uid", "client_pid", "argv", "started_at", "ended_at",
        "wall_seconds", "user_cpu_seconds", "system_cpu_seconds", "peak_memory_bytes", "exit_code", "signal",
        "status", "limits_hit", "message", "limits", "sandbox_uid", "kernel", "machine",
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
        // 1 -> 2: the append-only, hash-chained audit log (see AuditEvent.chainHash and RecordStore+Audit.swift).
        [
            """
            CREATE TABLE events (
                seq           INTEGER PRIMARY KEY,             -- 1, 2, 3, ...: audit_head.count + 1 on append
                time          REAL    NOT NULL,                -- Unix time, seconds
                kind          TEXT    NOT NULL,                -- AuditKind raw value
                run_id        INTEGER,
                uid           INTEGER CHECK (uid BETWEEN 0 AND 4294967295),
                template      TEXT,
                detail        TEXT    NOT NULL DEFAULT '',
                previous_hash TEXT    NOT NULL,                -- hash of row seq - 1; 64 zeros for seq 1
                hash          TEXT    NOT NULL                 -- hex SHA-256 of this row's canonical form
            )
            """,
            "CREATE INDEX events_time ON events (time)",
            "CREATE INDEX events_run_id ON events (run_id)",
            // How many events were ever appended and the newest one's hash, updated in the same transaction as
            // each append: removing the newest rows leaves no gap in the chain, only this count can tell. (Whoever
            // can edit the file can edit this row too; it catches accidental and naive edits, not a forger.)
            """
            CREATE TABLE audit_head (
                id        INTEGER PRIMARY KEY CHECK (id = 1),
                count     INTEGER NOT NULL CHECK (count >= 0),
                last_hash TEXT    NOT NULL
            )
            """,
            "INSERT INTO audit_head (id, count, last_hash) VALUES (1, 0, '\(AuditEvent.genesisHash)')",
            // Append-only at the SQL level. Dropping these triggers is possible for whoever can write the file;
            // `glovebox audit --verify` is what catches the edits made after that.
            """
            CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
            BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: events cannot be changed'); END
            """,
            """
            CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
            BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: events cannot be deleted'); END
            """,
            // The head only moves forward, one event at a time, onto the event just appended.
            """
            CREATE TRIGGER audit_head_forward_only BEFORE UPDATE ON audit_head
            WHEN NEW.id IS NOT OLD.id OR NEW.count IS NOT OLD.count + 1
                OR NEW.last_hash IS NOT (SELECT hash FROM events WHERE seq = NEW.count)
            BEGIN SELECT RAISE(ABORT, 'the audit head only advances to the newest event'); END
            """,
            """
            CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
            BEGIN SELECT RAISE(ABORT, 'the audit head cannot be deleted'); END
            """,
        ],
        // 2 -> 3: the machine as gloveboxd measured it for each run (MachineFacts, JSON; NULL before).
        [
            "ALTER TABLE runs ADD COLUMN machine TEXT",
        ],
    ]

    static var currentVersion: Int32 { Int32(migrations.count) }
}
