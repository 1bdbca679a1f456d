import Dispatch
import Foundation
import Synchronization
import XCTest
@testable import Records

final class AuditLogTests: XCTestCase {
    private var directory: URL!
    private var dbPath: String { directory.appendingPathComponent("glovebox.db").path }

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("glovebox-audit-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let directory { try? FileManager.default.removeItem(at: directory) }
        directory = nil
    }

    // MARK: Fixtures

    /// Appends `count` events with detail "event N" (run id N for every event).
    @discardableResult
    private func append(_ count: Int, to store: RecordStore) throws -> [AuditEvent] {
        try (1...count).map { n in
            try store.audit(.runAccepted, runID: Int64(n), uid: 1000, template: "t", detail: "event \(n)")
        }
    }

    /// Drops the triggers that keep `events` and `audit_head` append-only, as an admin with sqlite3 could.
    private func dropTriggers(_ store: RecordStore) throws {
        for trigger in ["events_append_only_update", "events_append_only_delete", "audit_head_forward_only", "audit_head_no_delete"] {
            try store.execute("DROP TRIGGER \(trigger)")
        }
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

    // MARK: Appending and listing

    func testAppendAndListRoundTripEveryField() throws {
        let store = try RecordStore(path: dbPath)
        let before = Date().timeIntervalSince1970
        let full = try store.audit(.runRefused, runID: Int64.max, uid: 4_294_967_295, template: "nanoGPT-lite",
                                   detail: "refused: memory 64 GiB > 32 GiB — mémoire | 日本語 🧪 \"q\" \\ nul\u{0}byte\nline")
        let minimal = try store.audit(.daemonStart)
        let after = Date().timeIntervalSince1970

        XCTAssertEqual(full.seq, 1)
        XCTAssertEqual(full.kind, .runRefused)
        XCTAssertEqual(full.runID, Int64.max)
        XCTAssertEqual(full.uid, 4_294_967_295)
        XCTAssertEqual(full.template, "nanoGPT-lite")
        XCTAssertTrue(full.detail.hasSuffix("nul\u{0}byte\nline"))
        XCTAssertGreaterThanOrEqual(full.time, before)
        XCTAssertLessThanOrEqual(full.time, after)
        XCTAssertEqual(full.previousHash, AuditEvent.genesisHash)
        XCTAssertEqual(full.previousHash, String(repeating: "0", count: 64))
        XCTAssertEqual(full.hash.count, 64)
        XCTAssertEqual(full.hash, full.computedHash)

        XCTAssertEqual(minimal.seq, 2)
        XCTAssertNil(minimal.runID)
        XCTAssertNil(minimal.uid)
        XCTAssertNil(minimal.template)
        XCTAssertEqual(minimal.detail, "")

        XCTAssertEqual(try store.auditEvents(), [full, minimal])
        XCTAssertNil(try store.verifyAudit())
    }

    func testEveryKindRoundTrips() throws {
        let store = try RecordStore(path: dbPath)
        for kind in AuditKind.allCases { try store.audit(kind, detail: kind.rawValue) }
        XCTAssertEqual(try store.auditEvents().map(\.kind), AuditKind.allCases)
        XCTAssertEqual(AuditKind.allCases.map(\.rawValue), [
            "daemon-start", "daemon-stop", "run-accepted", "run-refused", "run-finished", "limit-hit",
            "run-cancelled", "run-killed", "run-lost", "policy-rejected", "connection-rejected", "log-pruned",
        ])
        XCTAssertNil(try store.verifyAudit())
    }

    func testSeqIncrementsAndHashesChain() throws {
        let store = try RecordStore(path: dbPath)
        let events = try append(20, to: store)
        XCTAssertEqual(events.map(\.seq), Array(1...20))
        XCTAssertEqual(events.first?.previousHash, AuditEvent.genesisHash)
        for (earlier, later) in zip(events, events.dropFirst()) {
            XCTAssertEqual(later.previousHash, earlier.hash)
        }
        XCTAssertEqual(Set(events.map(\.hash)).count, 20)
        XCTAssertEqual(try store.auditEvents(), events)
        XCTAssertEqual(try store.execute("SELECT count || ' ' || last_hash FROM audit_head"), "20 \(events[19].hash)")
    }

    func testFilters() throws {
        let store = try RecordStore(path: dbPath)
        let events = try append(10, to: store)
        try store.audit(.limitHit, runID: 3, detail: "memory")
        try store.audit(.runFinished, runID: 3, detail: "exit 0")
        let all = try store.auditEvents()
        XCTAssertEqual(all.count, 12)

        // Times are the clock's; rewrite nothing, pick a boundary from what was stored.
        let boundary = all[5].time
        XCTAssertEqual(try store.auditEvents(since: boundary), all.filter { $0.time >= boundary })
        XCTAssertEqual(try store.auditEvents(since: all[11].time + 1), [])
        XCTAssertEqual(try store.auditEvents(since: 0), all)

        XCTAssertEqual(try store.auditEvents(runID: 3).map(\.seq), [3, 11, 12])
        XCTAssertEqual(try store.auditEvents(runID: 3).map(\.detail), ["event 3", "memory", "exit 0"])
        XCTAssertEqual(try store.auditEvents(runID: 99), [])

        // limit: the most recent ones, still in seq order.
        XCTAssertEqual(try store.auditEvents(limit: 3).map(\.seq), [10, 11, 12])
        XCTAssertEqual(try store.auditEvents(limit: 100), all)
        XCTAssertEqual(try store.auditEvents(limit: 0), [])
        XCTAssertEqual(try store.auditEvents(limit: -5), [])
        XCTAssertEqual(try store.auditEvents(runID: 3, limit: 2).map(\.seq), [11, 12])
        XCTAssertEqual(try store.auditEvents(since: boundary, runID: 3, limit: 1).map(\.seq), [12])
        XCTAssertEqual(try store.auditEvents(since: all[11].time + 1, runID: 3, limit: 1), [])
        XCTAssertEqual(events, Array(all.prefix(10)))
    }

    // MARK: Append-only

    func testUpdateAndDeleteAreRefusedByTriggers() throws {
        let store = try RecordStore(path: dbPath)
        try append(3, to: store)

        let update = recordError { try store.execute("UPDATE events SET detail = 'nothing happened' WHERE seq = 2") }
        XCTAssertEqual(update?.code, 19)  // SQLITE_CONSTRAINT
        XCTAssertTrue(update?.message.contains("append-only") ?? false, update?.description ?? "")
        let delete = recordError { try store.execute("DELETE FROM events WHERE seq = 3") }
        XCTAssertEqual(delete?.code, 19)
        XCTAssertTrue(delete?.message.contains("append-only") ?? false, delete?.description ?? "")
        XCTAssertNotNil(recordError { try store.execute("DELETE FROM events") })

        // The head cannot be wound back or removed either.
        XCTAssertNotNil(recordError { try store.execute("UPDATE audit_head SET count = 2") })
        XCTAssertNotNil(recordError { try store.execute("UPDATE audit_head SET last_hash = 'x'") })
        XCTAssertNotNil(recordError { try store.execute("DELETE FROM audit_head") })
        XCTAssertNotNil(recordError { try store.execute("INSERT INTO audit_head (id, count, last_hash) VALUES (2, 0, '')") })

        XCTAssertEqual(try store.auditEvents().map(\.detail), ["event 1", "event 2", "event 3"])
        XCTAssertNil(try store.verifyAudit())
        // Still appendable afterwards.
        XCTAssertEqual(try store.audit(.daemonStop).seq, 4)
        XCTAssertNil(try store.verifyAudit())
    }

    // MARK: Verification

    func testEmptyLogIsIntact() throws {
        let store = try RecordStore(path: dbPath)
        XCTAssertNil(try store.verifyAudit())
        XCTAssertEqual(try store.auditEvents(), [])
    }

    func testEditedDetailIsReported() throws {
        let store = try RecordStore(path: dbPath)
        try append(40, to: store)
        try dropTriggers(store)
        try store.execute("UPDATE events SET detail = 'nothing to see' WHERE seq = 17")
        try store.execute("UPDATE events SET detail = 'nor here' WHERE seq = 30")
        let problem = try XCTUnwrap(try store.verifyAudit())
        XCTAssertEqual(problem.seq, 17)
        XCTAssertEqual(problem.reason, "row 17 was changed (its hash does not match its contents)")
        XCTAssertEqual(problem.description, "the audit chain is broken: row 17 was changed (its hash does not match its contents)")
    }

    func testEveryEditedColumnIsReported() throws {
        let edits = [
            "time = time + 1", "kind = 'daemon-stop'", "run_id = 99", "run_id = NULL", "uid = 0", "uid = NULL",
            "template = 'other'", "template = NULL", "template = ''", "detail = detail || ' '",
            "previous_hash = hash", "hash = previous_hash",
        ]
        for edit in edits {
            let store = try RecordStore(path: directory.appendingPathComponent("\(UUID().uuidString).db").path)
            try append(5, to: store)
            try dropTriggers(store)
            try store.execute("UPDATE events SET \(edit) WHERE seq = 3")
            XCTAssertEqual(try store.verifyAudit()?.seq, 3, edit)
            XCTAssertEqual(try store.verifyAudit()?.reason, "row 3 was changed (its hash does not match its contents)", edit)
        }
    }

    func testRewrittenRowWithRecomputedHashBreaksTheNextLink() throws {
        let store = try RecordStore(path: dbPath)
        let events = try append(20, to: store)
        try dropTriggers(store)
        var forged = events[17]  // seq 18
        forged.detail = "forged"
        forged.hash = forged.computedHash
        try store.execute("UPDATE events SET detail = 'forged', hash = '\(forged.hash)' WHERE seq = 18")
        XCTAssertEqual(try store.verifyAudit(),
                       AuditProblem(seq: 19, reason: "row 19 does not follow row 18 (previous_hash differs)"))
    }

    func testDeletedMiddleRowIsReported() throws {
        let store = try RecordStore(path: dbPath)
        try append(40, to: store)
        try dropTriggers(store)
        try store.execute("DELETE FROM events WHERE seq = 18")
        XCTAssertEqual(try store.verifyAudit(), AuditProblem(seq: 18, reason: "row 18 is missing (row 19 follows row 17)"))

        try store.execute("DELETE FROM events WHERE seq = 19")
        XCTAssertEqual(try store.verifyAudit(), AuditProblem(seq: 18, reason: "rows 18 to 19 are missing (row 20 follows row 17)"))

        try store.execute("DELETE FROM events WHERE seq = 1")
        XCTAssertEqual(try store.verifyAudit(), AuditProblem(seq: 1, reason: "row 1 is missing (the chain starts at row 2)"))
    }

    func testDeletedNewestRowsAreReported() throws {
        let store = try RecordStore(path: dbPath)
        try append(42, to: store)
        try dropTriggers(store)
        try store.execute("DELETE FROM events WHERE seq > 40")
        XCTAssertEqual(try store.verifyAudit(), AuditProblem(
            seq: 41, reason: "the newest rows were removed: the chain ends at 40 but 42 events were recorded"))

        // Every row removed.
        try store.execute("DELETE FROM events")
        XCTAssertEqual(try store.verifyAudit()?.seq, 1)
        XCTAssertEqual(try store.verifyAudit()?.reason, "the newest rows were removed: the chain ends at 0 but 42 events were recorded")
    }

    func testAppendingAfterTruncationKeepsTheGapVisible() throws {
        let store = try RecordStore(path: dbPath)
        try append(42, to: store)
        try dropTriggers(store)
        try store.execute("DELETE FROM events WHERE seq > 40")
        let next = try store.audit(.daemonStart)
        XCTAssertEqual(next.seq, 43)  // seq is never reused
        XCTAssertEqual(try store.verifyAudit(), AuditProblem(seq: 41, reason: "rows 41 to 42 are missing (row 43 follows row 40)"))
    }

    func testReplacedNewestRowAndForgedHeadAreReported() throws {
        let store = try RecordStore(path: dbPath)
        let events = try append(5, to: store)
        try dropTriggers(store)

        // The newest row rewritten with a recomputed hash: nothing follows it, but the head remembers.
        var forged = events[4]
        forged.detail = "forged"
        forged.hash = forged.computedHash
        try store.execute("UPDATE events SET detail = 'forged', hash = '\(forged.hash)' WHERE seq = 5")
        XCTAssertEqual(try store.verifyAudit()?.seq, 5)
        XCTAssertTrue(try store.verifyAudit()?.reason.contains("row 5 was replaced") ?? false)
        try store.execute("UPDATE events SET detail = 'event 5', hash = '\(events[4].hash)' WHERE seq = 5")
        XCTAssertNil(try store.verifyAudit())

        // A row appended behind gloveboxd's back.
        var extra = AuditEvent(seq: 6, time: 1, kind: .daemonStop, previousHash: events[4].hash)
        extra.hash = extra.computedHash
        try store.execute("""
            INSERT INTO events (seq, time, kind, detail, previous_hash, hash)
            VALUES (6, 1.0, 'daemon-stop', '', '\(extra.previousHash)', '\(extra.hash)')
            """)
        XCTAssertEqual(try store.verifyAudit()?.seq, 6)
        XCTAssertTrue(try store.verifyAudit()?.reason.contains("not recorded by gloveboxd") ?? false)
    }

    func testMissingHeadIsAnError() throws {
        let store = try RecordStore(path: dbPath)
        try append(2, to: store)
        try dropTriggers(store)
        try store.execute("DELETE FROM audit_head")
        XCTAssertEqual(recordError { _ = try store.verifyAudit() }?.code, 11)  // SQLITE_CORRUPT
        XCTAssertEqual(recordError { _ = try store.audit(.daemonStart) }?.code, 11)
        XCTAssertEqual(try store.auditEvents().count, 2)
    }

    // MARK: A record and its events in one transaction

    private func sampleRecord() -> RunRecord {
        RunRecord(template: "python", policyDigest: "d", clientUID: 1000, clientPID: 7, argv: ["x"], startedAt: 1)
    }

    func testARecordAndItsEventsAreSavedTogether() throws {
        let store = try RecordStore(path: dbPath)
        try append(1, to: store)
        let (id, auditError) = try store.insert(sampleRecord(), auditing: [AuditNote(.runAccepted, "argv [x]")])
        XCTAssertNil(auditError)
        var record = sampleRecord()
        record.id = id
        record.status = .ok
        record.limitsHit = [.memory]
        XCTAssertNil(try store.update(record, auditing: [AuditNote(.limitHit, "memory"), AuditNote(.runFinished, "ok")]))
        XCTAssertEqual(try store.run(id: id)?.status, .ok)
        let events = try store.auditEvents()
        XCTAssertEqual(events.map(\.kind), [.runAccepted, .runAccepted, .limitHit, .runFinished])
        XCTAssertEqual(events.map(\.seq), [1, 2, 3, 4])
        for event in events.dropFirst() {
            XCTAssertEqual(event.runID, id)
            XCTAssertEqual(event.uid, 1000)
            XCTAssertEqual(event.template, "python")
        }
        XCTAssertEqual(events.map(\.detail).dropFirst(), ["argv [x]", "memory", "ok"])
        XCTAssertNil(try store.verifyAudit())
    }

    /// An event that cannot be appended (here the audit head is gone) is reported, and the record it came
    /// with is saved anyway: nothing of the run is lost to the audit log's trouble.
    func testAnEventThatCannotBeAppendedDoesNotCostTheRecord() throws {
        let store = try RecordStore(path: dbPath)
        try append(1, to: store)
        try dropTriggers(store)
        try store.execute("DELETE FROM audit_head")
        let (id, auditError) = try store.insert(sampleRecord(), auditing: [AuditNote(.runAccepted, "a")])
        XCTAssertEqual(auditError?.code, 11)  // SQLITE_CORRUPT
        XCTAssertEqual(try store.run(id: id)?.template, "python")
        var record = sampleRecord()
        record.id = id
        record.status = .ok
        XCTAssertEqual(try store.update(record, auditing: [AuditNote(.runFinished, "ok")])?.code, 11)
        XCTAssertEqual(try store.run(id: id)?.status, .ok)
        XCTAssertEqual(try store.auditEvents().count, 1, "no half-appended event")
    }

    /// A record that cannot be saved takes its events with it (one transaction).
    func testAMissingRunTakesItsEventsWithIt() throws {
        let store = try RecordStore(path: dbPath)
        var record = sampleRecord()
        record.id = 999
        XCTAssertEqual(recordError { _ = try store.update(record, auditing: [AuditNote(.runFinished, "ok")]) }?.code, 12)  // SQLITE_NOTFOUND
        XCTAssertEqual(try store.auditEvents().count, 0)
        XCTAssertNil(try store.verifyAudit())
    }

    // MARK: Concurrency and persistence

    func testConcurrentAppendsFromEightThreadsKeepOneChain() throws {
        let store = try RecordStore(path: dbPath)
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { thread in
            for n in 0..<125 {
                do {
                    _ = try store.audit(.limitHit, runID: Int64(thread), uid: UInt32(thread), detail: "thread \(thread) event \(n)")
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
        }
        XCTAssertEqual(failures.withLock { $0 }, [])
        XCTAssertNil(try store.verifyAudit())
        let events = try store.auditEvents()
        XCTAssertEqual(events.map(\.seq), Array(1...1000))
        for thread in 0..<8 {
            XCTAssertEqual(try store.auditEvents(runID: Int64(thread)).map(\.detail),
                           (0..<125).map { "thread \(thread) event \($0)" })
        }
    }

    func testReopeningKeepsTheChain() throws {
        var first: [AuditEvent] = []
        do {
            let store = try RecordStore(path: dbPath)
            first = try append(5, to: store)
        }
        let reopened = try RecordStore(path: dbPath)
        XCTAssertEqual(try reopened.auditEvents(), first)
        let next = try reopened.audit(.daemonStart)
        XCTAssertEqual(next.seq, 6)
        XCTAssertEqual(next.previousHash, first[4].hash)
        XCTAssertNil(try reopened.verifyAudit())
        XCTAssertEqual(try reopened.execute("PRAGMA user_version"), "3")
    }

    func testVersion1DatabaseIsMigratedKeepingItsRuns() throws {
        let runID: Int64
        do {
            let store = try RecordStore(path: dbPath)
            runID = try store.insert(RunRecord(template: "t", policyDigest: "d", clientUID: 1, clientPID: 2, argv: [], startedAt: 1))
            // Back to what a version-1 gloveboxd left (dropping a table drops its triggers and indexes).
            try store.execute("DROP TABLE events")
            try store.execute("DROP TABLE audit_head")
            try store.execute("ALTER TABLE runs DROP COLUMN machine")
            try store.execute("PRAGMA user_version = 1")
        }
        let store = try RecordStore(path: dbPath)
        XCTAssertEqual(try store.execute("PRAGMA user_version"), "3")
        XCTAssertEqual(try store.run(id: runID)?.template, "t")
        XCTAssertEqual(try store.audit(.daemonStart).seq, 1)
        XCTAssertNil(try store.verifyAudit())
        let triggers = try store.execute("SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name)")
        XCTAssertEqual(triggers, "audit_head_forward_only,audit_head_no_delete,events_append_only_delete,events_append_only_update")
    }

    func testDiskFullIsReportedAndLeavesTheChainIntact() throws {
        let store = try RecordStore(path: dbPath)
        try store.audit(.daemonStart)
        let pages = try XCTUnwrap(Int(try XCTUnwrap(try store.execute("PRAGMA page_count"))))
        try store.execute("PRAGMA max_page_count = \(pages + 4)")
        let big = String(repeating: "x", count: 64 * 1024)
        let error = recordError {
            for _ in 0..<100 { _ = try store.audit(.runRefused, detail: big) }
        }
        XCTAssertEqual(error?.isDiskFull, true)
        XCTAssertEqual(error?.operation, "append audit event")
        XCTAssertNil(try store.verifyAudit())
        // The failed append used no seq.
        let count = try XCTUnwrap(Int64(try XCTUnwrap(try store.execute("SELECT count FROM audit_head"))))
        XCTAssertEqual(try store.auditEvents().last?.seq, count)
    }

    // MARK: Format

    func testJSONKeys() throws {
        var event = AuditEvent(seq: 7, time: 1_712_345_678.25, kind: .runKilled, runID: 42, uid: 1000,
                               template: "nanogpt", detail: "SIGKILL after 30 s grace", previousHash: AuditEvent.genesisHash)
        event.hash = event.computedHash
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(event)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(Set(object.keys), ["seq", "time", "kind", "run_id", "uid", "template", "detail", "previous_hash", "hash"])
        XCTAssertEqual(object["kind"] as? String, "run-killed")
        XCTAssertEqual(object["run_id"] as? Int, 42)
        XCTAssertEqual(object["previous_hash"] as? String, AuditEvent.genesisHash)
        XCTAssertEqual(try JSONDecoder().decode(AuditEvent.self, from: data), event)

        // Absent values are null, not missing.
        let bare = AuditEvent(seq: 1, time: 0, kind: .daemonStart)
        let bareObject = try XCTUnwrap(try JSONSerialization.jsonObject(with: try encoder.encode(bare)) as? [String: Any])
        XCTAssertEqual(bareObject.count, 9)
        XCTAssertTrue(bareObject["run_id"] is NSNull)
        XCTAssertTrue(bareObject["uid"] is NSNull)
        XCTAssertTrue(bareObject["template"] is NSNull)
    }

    func testCanonicalFormIsPinnedAndUnambiguous() throws {
        // The documented form, byte for byte: a verifier outside gloveboxd recomputes exactly this.
        let form = AuditEvent.canonicalForm(seq: 1, time: 1_700_000_000, kind: "daemon-start", runID: nil, uid: nil,
                                            template: nil, detail: "", previousHash: AuditEvent.genesisHash)
        XCTAssertEqual(String(decoding: form, as: UTF8.self),
                       "glovebox-audit-v1|1:1|16:41d954fc40000000|12:daemon-start|-|-|-|0:|64:" + AuditEvent.genesisHash)
        let withValues = AuditEvent.canonicalForm(seq: 12, time: -0.0, kind: "k", runID: -3, uid: 1000,
                                                  template: "é", detail: "a|b", previousHash: "p")
        XCTAssertEqual(String(decoding: withValues, as: UTF8.self),
                       "glovebox-audit-v1|2:12|16:0000000000000000|1:k|2:-3|4:1000|2:é|3:a|b|1:p")

        func hash(template: String?, detail: String) -> String {
            AuditEvent.chainHash(seq: 1, time: 1, kind: "run-refused", runID: nil, uid: nil, template: template,
                                 detail: detail, previousHash: AuditEvent.genesisHash)
        }
        // Absent vs empty, and text that looks like a separator or a length prefix.
        XCTAssertNotEqual(hash(template: nil, detail: ""), hash(template: "", detail: ""))
        XCTAssertNotEqual(hash(template: "-", detail: ""), hash(template: nil, detail: ""))
        XCTAssertNotEqual(hash(template: "a", detail: "b"), hash(template: "a|1:b", detail: ""))
        XCTAssertNotEqual(hash(template: "ab", detail: ""), hash(template: "a", detail: "b"))
        XCTAssertNotEqual(hash(template: nil, detail: "x\u{0}"), hash(template: nil, detail: "x"))
    }

    func testVersion2DatabaseGainsTheMachineColumnKeepingItsRuns() throws {
        let runID: Int64
        do {
            let store = try RecordStore(path: dbPath)
            runID = try store.insert(RunRecord(template: "t", policyDigest: "d", clientUID: 1, clientPID: 2, argv: [], startedAt: 1, kernel: "6.1"))
            try store.execute("ALTER TABLE runs DROP COLUMN machine")  // what a version-2 gloveboxd left
            try store.execute("PRAGMA user_version = 2")
        }
        let store = try RecordStore(path: dbPath)
        XCTAssertEqual(try store.execute("PRAGMA user_version"), "3")
        let old = try XCTUnwrap(try store.run(id: runID))
        XCTAssertEqual(old.kernel, "6.1")
        XCTAssertNil(old.machine, "a run recorded before gloveboxd kept the machine's facts has none")
        let facts = MachineFacts(kernel: "6.1", cpuModel: "cpu", hostCPUs: 2, cpus: 1, memoryLimitBytes: 1 << 30)
        let new = try store.insert(RunRecord(template: "t", policyDigest: "d", clientUID: 1, clientPID: 2, argv: [], startedAt: 2, machine: facts))
        XCTAssertEqual(try store.run(id: new)?.machine, facts)
    }
}
