import Foundation
import GloveboxProtocol
import Logging
import Policy
import RecordModel
import Records
import Sandbox
import Testing
@testable import Supervisor

/// The answers to show, ps, audit and policy requests, from a real RecordStore on a scratch directory: what
/// each peer may see. No daemon, no root.
final class QueriesTests {
    let scratch: String
    let records: RecordStore
    static let alice = Peer(pid: 10, uid: 1000, gid: 1000, groups: [])
    static let bob = Peer(pid: 11, uid: 1001, gid: 1001, groups: [])
    static let admin = Peer(pid: 12, uid: 1002, gid: 1002, groups: [])

    init() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("glovebox-queries-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        records = try RecordStore(path: scratch + "/glovebox.db")
    }

    deinit { try? FileManager.default.removeItem(atPath: scratch) }

    func queries(templates: [String] = []) throws -> Queries {
        var entries: [String: PolicyCatalog.Entry] = [:]
        for name in templates {
            let policy = try Policy.parse("""
                [limits]
                timeout = "1m"
                memory = "256MiB"
                pids = 16
                cpus = 1
                storage = "64MiB"
                """, template: name, source: "policies/\(name).toml")
            entries[name] = PolicyCatalog.Entry(policy: policy, seccomp: try SeccompProfile.build(extraDenied: []))
        }
        return Queries(records: records, policies: PolicyCatalog(entries: entries, problems: []), logger: Logger(label: "test"),
                       isAdmin: { $0.uid == Self.admin.uid })
    }

    @discardableResult
    func run(of peer: Peer, status: RunStatus = .ok) throws -> Int64 {
        var record = RunRecord(template: "python", policyDigest: "d", clientUID: peer.uid, clientPID: peer.pid, argv: ["python3"], startedAt: 1)
        record.status = status
        let id = try records.insert(record)
        try records.audit(.runAccepted, runID: id, uid: peer.uid, template: "python", detail: "argv python3")
        return id
    }

    static func error(_ frame: Frame) throws -> String? {
        frame.kind == .error ? try Wire.decode(ErrorMessage.self, frame).message : nil
    }

    @Test func aRunOfSomeoneElseReadsAsNoRunAtAll() throws {
        let mine = try run(of: Self.alice)
        let theirs = try run(of: Self.bob)
        let q = try queries()
        let own = try q.show(ShowRequest(runID: mine), peer: Self.alice)
        #expect(own.kind == .record)
        #expect(try Wire.decode(RunRecord.self, own).clientUID == 1000)
        #expect(try Self.error(q.show(ShowRequest(runID: theirs), peer: Self.alice)) == "no run \(theirs) of yours")
        #expect(try Self.error(q.show(ShowRequest(runID: 999), peer: Self.alice)) == "no run 999 of yours", "the same words as for a run of another")
        #expect(try q.show(ShowRequest(runID: theirs), peer: Self.admin).kind == .record, "an admin sees every run")
    }

    @Test func psListsThePeersRunsAndAnAdminsEveryone() throws {
        try run(of: Self.alice, status: .running)
        try run(of: Self.alice)
        try run(of: Self.bob, status: .running)
        let q = try queries()
        let running = try Wire.decode([RunRecord].self, q.ps(PsRequest(all: false, limit: 50), peer: Self.alice))
        #expect(running.map(\.clientUID) == [1000])
        let all = try Wire.decode([RunRecord].self, q.ps(PsRequest(all: true, limit: 50), peer: Self.alice))
        #expect(all.count == 2)
        #expect(Set(try Wire.decode([RunRecord].self, q.ps(PsRequest(all: true, limit: 50), peer: Self.admin)).map(\.clientUID)) == [1000, 1001])
        #expect(try Wire.decode([RunRecord].self, q.ps(PsRequest(all: true, limit: 0), peer: Self.admin)).count == 1, "a limit below 1 is 1")
    }

    @Test func theAuditLogShowsThePeersEventsAndOnlyAnAdminVerifies() throws {
        try run(of: Self.alice)
        try run(of: Self.bob)
        let q = try queries()
        let request = AuditRequest(since: nil, runID: nil, limit: 100, verify: false)
        #expect(Set(try Wire.decode([AuditEvent].self, q.audit(request, peer: Self.alice)).map(\.uid)) == [1000])
        #expect(Set(try Wire.decode([AuditEvent].self, q.audit(request, peer: Self.admin)).map(\.uid)) == [1000, 1001])
        let verify = AuditRequest(since: nil, runID: nil, limit: 100, verify: true)
        #expect(try Self.error(q.audit(verify, peer: Self.bob)) == "only root and the admin group may verify the audit log")
        let verdict = try Wire.decode(OutputNote.self, q.audit(verify, peer: Self.admin))
        #expect(verdict.reason == "the audit log is intact (2 events)")
    }

    @Test func templatesAreListedAsUsableOrNotForThePeer() throws {
        let q = try queries(templates: ["python", "latex"])
        let listed = try Wire.decode([PolicySummary].self, q.policies(PolicyRequest(template: nil), peer: Self.bob))
        #expect(listed.map(\.template) == ["latex", "python"])
        #expect(try Self.error(q.policies(PolicyRequest(template: "cuda"), peer: Self.bob)) == "unknown template 'cuda'; templates: latex, python")
        let one = try Wire.decode([PolicySummary].self, q.policies(PolicyRequest(template: "python"), peer: Self.bob))
        #expect(one.map(\.template) == ["python"])
    }
}
