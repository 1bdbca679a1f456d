import CSQLite
import Dispatch
import Foundation
import Synchronization
import XCTest
@testable import Records

final class RecordStoreTests: XCTestCase {
    private var directory: URL!
    private var dbPath: String { directory.appendingPathComponent("glovebox.db").path }

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("glovebox-records-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let directory { try? FileManager.default.removeItem(at: directory) }
        directory = nil
    }

    // MARK: Fixtures

    private func sample(uid: UInt32 = 1000, status: RunStatus = .running, startedAt: Double = 1_700_000_000.25) -> RunRecord {
        RunRecord(template: "nanogpt", policyDigest: "sha256:abc", clientUID: uid, clientPID: 4242,
                  argv: ["python", "experiment.py"], startedAt: startedAt, status: status)
    }

    private func full() -> RunRecord {
        RunRecord(
            template: "nanoGPT-lite",
            policyDigest: "sha256:0123456789abcdef",
            clientUID: 4_294_967_294,
            clientPID: Int32.max,
            argv: ["python3", "expériment.py", "--out_dir=run_1", "日本語", "🧪 test", "", "quote\"and\\back", "nul\u{0}byte"],
            startedAt: 1_712_345_678.123456,
            endedAt: 1_712_345_999.5,
            wallSeconds: 321.376544,
            userCPUSeconds: 300.25,
            systemCPUSeconds: 12.125,
            peakMemoryBytes: UInt64.max - 7,
            exitCode: -1,
            signal: 9,
            status: .oom,
            limitsHit: [.memory, .cpuThrottled, .pids, .storage],
            message: "killed by the OOM killer — mémoire épuisée",
            limits: ["timeout_seconds": 3600, "memory_bytes": 17_179_869_184, "pids": 512, "cpus": 2.5,
                     "storage_bytes": 10_737_418_240, "gpus": .infinity],
            sandboxUID: 100_000,
            kernel: "6.1.0-18-amd64",
            machine: MachineFacts(kernel: "6.1.0-18-amd64", cpuModel: "AMD EPYC 9654 96-Core Processor", hostCPUs: 192, cpus: 2.5,
                                  memoryLimitBytes: 17_179_869_184,
                                  gpus: [LeasedGPU(device: "/dev/nvidia3", name: "NVIDIA H100 80GB HBM3", uuid: "GPU-5e2c", driverVersion: "550.54.15", problem: ""),
                                         LeasedGPU(device: "/dev/nvidia4", name: nil, uuid: nil, driverVersion: nil, problem: "not identified")])
        )
    }

    private func recordError(_ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> RecordError? {
        do {
            try body()
            XCTFail("expected a RecordError", file: file, line: line)
        } catch let error as RecordError {
            return error
        } catch {
            XCTFail("expected a RecordError, got \(error)", file: file, line: line)
        }
        return nil
    }

    // MARK: Round trips

    func testInsertAndGetRoundTripsEveryField() throws {
        let store = try RecordStore(path: dbPath)
        var record = full()
        let id = try store.insert(record)
        XCTAssertGreaterThan(id, 0)
        record.id = id
        XCTAssertEqual(try store.run(id: id), record)
    }

    func testRoundTripWithNilOptionalsAndEmptyCollections() throws {
        let store = try RecordStore(path: dbPath)
        var record = RunRecord(template: "", policyDigest: "", clientUID: 0, clientPID: 1, argv: [], startedAt: 0)
        record.id = try store.insert(record)
        let loaded = try XCTUnwrap(try store.run(id: record.id))
        XCTAssertEqual(loaded, record)
        XCTAssertNil(loaded.endedAt)
        XCTAssertNil(loaded.wallSeconds)
        XCTAssertNil(loaded.userCPUSeconds)
        XCTAssertNil(loaded.systemCPUSeconds)
        XCTAssertNil(loaded.peakMemoryBytes)
        XCTAssertNil(loaded.exitCode)
        XCTAssertNil(loaded.signal)
        XCTAssertNil(loaded.sandboxUID)
        XCTAssertEqual(loaded.status, .running)
        XCTAssertEqual(loaded.limitsHit, [])
        XCTAssertEqual(loaded.limits, [:])
        XCTAssertEqual(loaded.message, "")
        XCTAssertEqual(loaded.kernel, "")
    }

    func testMissingRunIsNil() throws {
        let store = try RecordStore(path: dbPath)
        XCTAssertNil(try store.run(id: 12345))
    }

    func testEveryStatusIsAcceptedByTheSchema() throws {
        let store = try RecordStore(path: dbPath)
        for status in RunStatus.allCases {
            let id = try store.insert(sample(status: status))
            XCTAssertEqual(try store.run(id: id)?.status, status)
        }
    }

    func testSchemaRejectsUnknownStatus() throws {
        let store = try RecordStore(path: dbPath)
        let error = recordError {
            try store.execute("""
                INSERT INTO runs (template, policy_digest, client_uid, client_pid, started_at, status)
                VALUES ('t', 'd', 1, 1, 0, 'pids-limit')
                """)
        }
        XCTAssertEqual(error?.code, 19)  // SQLITE_CONSTRAINT
    }

    func testUpdateReplacesEveryField() throws {
        let store = try RecordStore(path: dbPath)
        var record = sample()
        record.id = try store.insert(record)

        var finished = full()
        finished.id = record.id
        try store.update(finished)
        XCTAssertEqual(try store.run(id: record.id), finished)

        // And back to all-nil optionals: update really replaces, it does not merge.
        var cleared = sample(uid: 7, status: .cancelled)
        cleared.id = record.id
        try store.update(cleared)
        XCTAssertEqual(try store.run(id: record.id), cleared)
    }

    func testUpdateOfMissingRunFails() throws {
        let store = try RecordStore(path: dbPath)
        var record = sample()
        record.id = 99
        let error = recordError { try store.update(record) }
        XCTAssertEqual(error?.code, 12)  // SQLITE_NOTFOUND
        XCTAssertEqual(error?.operation, "update run 99")
    }

    func testInsertIgnoresGivenIdAndIdsAreNeverReused() throws {
        let store = try RecordStore(path: dbPath)
        var record = sample()
        record.id = 500
        let first = try store.insert(record)
        let second = try store.insert(record)
        let third = try store.insert(record)
        XCTAssertEqual([first, second, third], [1, 2, 3])
        try store.execute("DELETE FROM runs WHERE id = \(third)")
        try store.execute("DELETE FROM runs WHERE id = \(second)")
        let fourth = try store.insert(record)
        XCTAssertGreaterThan(fourth, third)
        XCTAssertNil(try store.run(id: second))
    }

    // MARK: Queries

    func testRunsFiltersAndNewestFirst() throws {
        let store = try RecordStore(path: dbPath)
        let a = try store.insert(sample(uid: 1000, status: .ok, startedAt: 10))
        let b = try store.insert(sample(uid: 1001, status: .ok, startedAt: 20))
        let c = try store.insert(sample(uid: 1000, status: .timeout, startedAt: 30))
        let d = try store.insert(sample(uid: 1000, status: .ok, startedAt: 40))
        let e = try store.insert(sample(uid: 1001, status: .running, startedAt: 50))

        XCTAssertEqual(try store.runs().map(\.id), [e, d, c, b, a])
        XCTAssertEqual(try store.runs(clientUID: 1000).map(\.id), [d, c, a])
        XCTAssertEqual(try store.runs(status: .ok).map(\.id), [d, b, a])
        XCTAssertEqual(try store.runs(clientUID: 1000, status: .ok).map(\.id), [d, a])
        XCTAssertEqual(try store.runs(clientUID: 1001, status: .timeout).map(\.id), [])
        XCTAssertEqual(try store.runs(clientUID: 4242).map(\.id), [])
        XCTAssertEqual(try store.runs(limit: 2).map(\.id), [e, d])
        XCTAssertEqual(try store.runs(clientUID: 1000, limit: 1).map(\.id), [d])
        XCTAssertEqual(try store.runs(limit: 0), [])
        XCTAssertEqual(try store.runs(limit: -1), [])
        XCTAssertEqual(try store.runs(clientUID: 1000).map(\.clientUID), [1000, 1000, 1000])
    }

    func testUnfinishedRuns() throws {
        let store = try RecordStore(path: dbPath)
        XCTAssertEqual(try store.unfinishedRuns(), [])
        let a = try store.insert(sample(status: .running))
        _ = try store.insert(sample(status: .ok))
        let c = try store.insert(sample(status: .running))
        _ = try store.insert(sample(status: .refused))
        XCTAssertEqual(try store.unfinishedRuns().map(\.id), [a, c])

        var settled = try XCTUnwrap(try store.run(id: a))
        settled.status = .supervisorLost
        settled.message = "gloveboxd restarted while the run was in progress"
        try store.update(settled)
        XCTAssertEqual(try store.unfinishedRuns().map(\.id), [c])
    }

    // MARK: JSON

    func testJSONUsesSnakeCaseKeysAndDecodesBack() throws {
        var record = full()
        record.id = 17
        record.limits["gpus"] = 1  // JSONEncoder rejects infinity by default
        let data = try JSONEncoder().encode(record)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let expected: Set<String> = [
            "id", "template", "policy_digest", "client_uid", "client_pid", "argv", "started_at", "ended_at",
            "wall_seconds", "user_cpu_seconds", "system_cpu_seconds", "peak_memory_bytes", "exit_code", "signal",
            "status", "limits_hit", "message", "limits", "sandbox_uid", "kernel", "machine",
        ]
        XCTAssertEqual(Set(object.keys), expected)
        let machine = try XCTUnwrap(object["machine"] as? [String: Any])
        XCTAssertEqual(Set(machine.keys), ["kernel", "cpu_model", "host_cpus", "cpus", "memory_limit_bytes", "gpus"])
        XCTAssertEqual(Set(try XCTUnwrap((machine["gpus"] as? [[String: Any]])?.first).keys), ["device", "name", "uuid", "driver_version", "problem"])
        XCTAssertEqual(object["status"] as? String, "oom")
        XCTAssertEqual(object["limits_hit"] as? [String], ["memory", "cpu-throttled", "pids", "storage"])
        XCTAssertEqual((object["limits"] as? [String: Any])?["cpus"] as? Double, 2.5)
        XCTAssertEqual(try JSONDecoder().decode(RunRecord.self, from: data), record)
    }

    func testJSONWritesNullForAbsentValuesAndDecodesMinimalObjects() throws {
        let record = sample(status: .exitedNonzero)
        let data = try JSONEncoder().encode(record)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(object.count, 21)
        XCTAssertTrue(object["machine"] is NSNull)
        XCTAssertTrue(object["ended_at"] is NSNull)
        XCTAssertTrue(object["sandbox_uid"] is NSNull)
        XCTAssertEqual(object["status"] as? String, "exited-nonzero")
        XCTAssertEqual(try JSONDecoder().decode(RunRecord.self, from: data), record)

        let minimal = #"{"template":"t","policy_digest":"d","client_uid":5,"client_pid":6,"argv":["a"],"started_at":1.5,"status":"supervisor-lost"}"#
        let decoded = try JSONDecoder().decode(RunRecord.self, from: Data(minimal.utf8))
        XCTAssertEqual(decoded, RunRecord(template: "t", policyDigest: "d", clientUID: 5, clientPID: 6, argv: ["a"],
                                          startedAt: 1.5, status: .supervisorLost))
    }

    // MARK: The file

    func testReopeningKeepsData() throws {
        var record = full()
        do {
            let store = try RecordStore(path: dbPath)
            record.id = try store.insert(record)
        }
        let reopened = try RecordStore(path: dbPath)
        XCTAssertEqual(try reopened.run(id: record.id), record)
        XCTAssertEqual(try reopened.insert(sample()), record.id + 1)
        XCTAssertEqual(try reopened.execute("PRAGMA user_version"), "3")
    }

    func testConnectionSettings() throws {
        let store = try RecordStore(path: dbPath)
        XCTAssertEqual(try store.execute("PRAGMA journal_mode"), "wal")
        XCTAssertEqual(try store.execute("PRAGMA synchronous"), "1")  // NORMAL
        XCTAssertEqual(try store.execute("PRAGMA foreign_keys"), "1")
        XCTAssertEqual(try store.execute("PRAGMA busy_timeout"), "5000")
        XCTAssertEqual(try store.execute("PRAGMA user_version"), "3")
        let indexes = try store.execute("SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'runs' ORDER BY name)")
        XCTAssertEqual(indexes, "runs_client_uid,runs_status")
    }

    func testFileModeIs0600() throws {
        let previous = umask(0o022)
        defer { umask(previous) }
        let store = try RecordStore(path: dbPath)
        _ = try store.insert(sample())
        for file in [dbPath, dbPath + "-wal", dbPath + "-shm"] {
            var info = stat()
            XCTAssertEqual(stat(file, &info), 0, "\(file) missing")
            XCTAssertEqual(info.st_mode & 0o777, 0o600, "\(file) has mode \(String(info.st_mode & 0o777, radix: 8))")
        }
    }

    func testExistingWorldReadableFileIsTightened() throws {
        do { _ = try RecordStore(path: dbPath) }
        XCTAssertEqual(chmod(dbPath, 0o644), 0)
        _ = try RecordStore(path: dbPath)
        var info = stat()
        XCTAssertEqual(stat(dbPath, &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o600)
    }

    func testConcurrentInsertsAllLandWithDistinctIds() throws {
        let store = try RecordStore(path: dbPath)
        let ids = Mutex<[Int64]>([])
        let failures = Mutex<[String]>([])
        let template = sample()
        DispatchQueue.concurrentPerform(iterations: 8) { thread in
            for i in 0..<50 {
                var record = template
                record.clientUID = UInt32(thread)
                record.startedAt = Double(i)
                do {
                    let id = try store.insert(record)
                    ids.withLock { $0.append(id) }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
        }
        XCTAssertEqual(failures.withLock { $0 }, [String]())
        let all = ids.withLock { $0 }
        XCTAssertEqual(all.count, 400)
        XCTAssertEqual(Set(all).count, 400)
        XCTAssertEqual(try store.runs(limit: 1000).count, 400)
        for thread in 0..<8 {
            XCTAssertEqual(try store.runs(clientUID: UInt32(thread), limit: 1000).count, 50)
        }
    }

    // MARK: Failures

    func testOpenInMissingDirectoryNamesThePath() throws {
        let path = directory.appendingPathComponent("no/such/dir/glovebox.db").path
        let error = recordError { _ = try RecordStore(path: path) }
        XCTAssertEqual(error?.operation, "open")
        XCTAssertEqual(error?.path, path)
        XCTAssertTrue(error?.description.contains(path) ?? false, error?.description ?? "")
        XCTAssertTrue(error?.description.hasPrefix("cannot open \(path): ") ?? false, error?.description ?? "")
        XCTAssertEqual(error?.isDiskFull, false)
    }

    func testCorruptedFileGivesAClearError() throws {
        var garbage = [UInt8](repeating: 0, count: 8192)
        for i in garbage.indices { garbage[i] = UInt8(truncatingIfNeeded: i &* 7919 &+ 13) }
        XCTAssertTrue(FileManager.default.createFile(atPath: dbPath, contents: Data(garbage)))
        let error = recordError { _ = try RecordStore(path: dbPath) }
        XCTAssertEqual(error?.code, 26)  // SQLITE_NOTADB
        XCTAssertEqual(error?.operation, "open")
        XCTAssertTrue(error?.description.contains(dbPath) ?? false, error?.description ?? "")
        XCTAssertTrue(error?.description.contains("not a database") ?? false, error?.description ?? "")
    }

    func testShortGarbageFileGivesAnError() throws {
        XCTAssertTrue(FileManager.default.createFile(atPath: dbPath, contents: Data("this is not sqlite\n".utf8)))
        let error = recordError { _ = try RecordStore(path: dbPath) }
        XCTAssertEqual(error?.operation, "open")
        XCTAssertTrue(error?.description.contains(dbPath) ?? false, error?.description ?? "")
    }

    func testSymlinkIsRefused() throws {
        let target = directory.appendingPathComponent("elsewhere.db").path
        XCTAssertEqual(symlink(target, dbPath), 0)
        let error = recordError { _ = try RecordStore(path: dbPath) }
        XCTAssertEqual(error?.operation, "open")
        XCTAssertTrue(error?.description.contains("symbolic link") ?? false, error?.description ?? "")
        XCTAssertFalse(FileManager.default.fileExists(atPath: target))
    }

    /// A symbolic link anywhere in the path, not only its last part, is refused (SQLITE_OPEN_NOFOLLOW): the
    /// daemon opens its database as root.
    func testASymlinkedDirectoryOnTheWayIsRefused() throws {
        let real = directory.appendingPathComponent("real").path
        try FileManager.default.createDirectory(atPath: real, withIntermediateDirectories: false)
        let link = directory.appendingPathComponent("link").path
        XCTAssertEqual(symlink(real, link), 0)
        let error = recordError { _ = try RecordStore(path: link + "/glovebox.db") }
        XCTAssertEqual(error?.operation, "open", error?.description ?? "opened")
    }

    func testNewerSchemaVersionIsRefused() throws {
        do {
            let store = try RecordStore(path: dbPath)
            try store.execute("PRAGMA user_version = 99")
        }
        let error = recordError { _ = try RecordStore(path: dbPath) }
        XCTAssertTrue(error?.description.contains("schema version 99") ?? false, error?.description ?? "")
    }

    func testCorruptRowContentIsAnErrorNotACrash() throws {
        let store = try RecordStore(path: dbPath)
        let id = try store.insert(sample())
        try store.execute("UPDATE runs SET argv = 'not json' WHERE id = \(id)")
        let error = recordError { _ = try store.run(id: id) }
        XCTAssertEqual(error?.code, 11)  // SQLITE_CORRUPT
        XCTAssertTrue(error?.description.contains("argv") ?? false, error?.description ?? "")
        try store.execute("UPDATE runs SET argv = '[]', client_pid = 99999999999 WHERE id = \(id)")
        XCTAssertNotNil(recordError { _ = try store.runs() })
    }

    func testDiskFullIsReported() throws {
        let store = try RecordStore(path: dbPath)
        _ = try store.insert(sample())
        let pages = try XCTUnwrap(Int(try XCTUnwrap(try store.execute("PRAGMA page_count"))))
        try store.execute("PRAGMA max_page_count = \(pages + 4)")
        var big = sample()
        big.message = String(repeating: "x", count: 64 * 1024)
        let error = recordError {
            for _ in 0..<100 { _ = try store.insert(big) }
        }
        XCTAssertEqual(error?.isDiskFull, true)
        XCTAssertEqual(error?.operation, "insert run")
        XCTAssertEqual(error?.description, "cannot insert run into \(dbPath): database or disk is full")
        // The store is still usable afterwards.
        XCTAssertEqual(try store.runs().count, 1)
    }

    func testErrorDescriptionFormat() {
        let error = RecordError(operation: "insert run", code: 13, message: "database or disk is full",
                                path: "/var/lib/glovebox/glovebox.db")
        XCTAssertTrue(error.isDiskFull)
        XCTAssertEqual(error.description, "cannot insert run into /var/lib/glovebox/glovebox.db: database or disk is full")
        XCTAssertEqual(RecordError(operation: "read run 3", code: 11, message: "bad", path: "/x.db").description,
                       "cannot read run 3 in /x.db: bad")
        XCTAssertFalse(RecordError(operation: "open", code: 14, message: "m", path: "/x.db").isDiskFull)
    }
}

extension RecordStoreTests {
    /// Statements prepared on the connection (sqlite3_next_stmt), with their SQL.
    private func preparedStatements(_ store: RecordStore) throws -> [String] {
        try store.database.withDatabase { db in
            var result: [String] = []
            var statement = sqlite3_next_stmt(db, nil)
            while let s = statement {
                result.append(String(cString: sqlite3_sql(s)))
                statement = sqlite3_next_stmt(db, s)
            }
            return result
        }
    }

    /// The statements of every run are prepared once and kept: a thousand runs leave the same few on the
    /// connection, each distinct, and a kept statement comes back clean after a failure.
    func testRunStatementsArePreparedOnceAndReusedCleanly() throws {
        let store = try RecordStore(path: dbPath)
        var record = sample()
        record.id = try store.insert(record, auditing: [AuditNote(.runAccepted, "accepted")]).id
        let kept = try preparedStatements(store)
        XCTAssertFalse(kept.isEmpty)
        XCTAssertEqual(Set(kept).count, kept.count, "one of each: \(kept)")
        var afterOneRun: [String] = []
        for i in 0..<1000 {
            var r = sample(uid: UInt32(i))
            r.id = try store.insert(r, auditing: [AuditNote(.runAccepted, "accepted \(i)")]).id
            r.status = .ok
            XCTAssertNil(try store.update(r, auditing: [AuditNote(.runFinished, "finished \(i)")]))
            if i == 0 { afterOneRun = try preparedStatements(store) }
        }
        let now = try preparedStatements(store)
        XCTAssertTrue(Set(kept).isSubset(of: now), "what the first insert prepared is kept")
        XCTAssertEqual(Set(now), Set(afterOneRun), "nothing but the statements one run prepared")
        XCTAssertEqual(now.count, afterOneRun.count, "each once")
        XCTAssertLessThanOrEqual(now.count, 12, "\(now)")

        // The update statement fails (no such run), then serves a good one with none of the old bindings.
        var missing = sample()
        missing.id = 999_999
        XCTAssertEqual(recordError { try store.update(missing) }?.code, SQLITE_NOTFOUND)
        record.status = .exitedNonzero
        record.exitCode = 3
        try store.update(record)
        XCTAssertEqual(try store.run(id: record.id)?.status, .exitedNonzero)
        XCTAssertEqual(try store.run(id: record.id)?.exitCode, 3)
        XCTAssertNil(try store.run(id: record.id)?.signal, "no value left bound from an earlier use")
        XCTAssertNil(try store.verifyAudit(), "every event appended, the chain intact")
        XCTAssertEqual(try store.auditEvents().count, 2001)
    }

    /// The same SQL used twice at once gets two statements; the second is finalized when it comes back.
    func testTheSameStatementInUseTwiceAtOnceIsTwoStatements() throws {
        let store = try RecordStore(path: dbPath)
        let sql = "SELECT count FROM audit_head WHERE id = 1"
        try store.database.withDatabase { (db) throws(RecordError) in
            let first = try Statement(db, sql, cache: store.statements, operation: "t", path: dbPath)
            let second = try Statement(db, sql, cache: store.statements, operation: "t", path: dbPath)
            XCTAssertTrue(try first.step())
            XCTAssertTrue(try second.step())
            XCTAssertEqual(first.int64(0), second.int64(0))
        }
        XCTAssertEqual(try preparedStatements(store).filter { $0 == sql }.count, 1)
    }
}
