import GloveboxProtocol
import Logging
import Policy
import RecordModel
import Records

/// The answers to the questions a client may ask besides a run: a run's record (show), the runs (ps), the
/// audit log and the templates. Each is one frame, made from the records and the policy catalog by what
/// the peer may see: root and the admin group see every run and event, others their own; a run that is
/// not the peer's reads as no run at all. Nothing here touches a socket or the host, so it is tested
/// without root (DaemonUnitTests); the Supervisor sends the frames.
struct Queries {
    let records: RecordStore
    let policies: PolicyCatalog
    let logger: Logger
    /// Whether the peer is root or of the admin group (Supervisor.isAdmin).
    let isAdmin: (Peer) -> Bool

    /// The record of a run the peer may see, or nil (no such run and someone else's run look the same).
    func visibleRecord(_ id: Int64, to peer: Peer) throws -> RunRecord? {
        guard let record = try records.run(id: id), record.clientUID == peer.uid || isAdmin(peer) else { return nil }
        return record
    }

    func show(_ show: ShowRequest, peer: Peer) throws -> Frame {
        guard let record = try visibleRecord(show.runID, to: peer) else {
            return Wire.encode(.error, ErrorMessage(message: "no run \(show.runID) of yours"))
        }
        return Wire.encode(.record, record)
    }

    /// The peer's runs (an admin's: everyone's), running or all, newest first; at most 1000.
    func ps(_ ps: PsRequest, peer: Peer) throws -> Frame {
        let owner: UInt32? = isAdmin(peer) ? nil : peer.uid
        let runs = try records.runs(clientUID: owner, status: ps.all ? nil : .running, limit: max(1, min(ps.limit, 1000)))
        return Wire.encodeFitting(.runList, runs)
    }

    /// Admins see every event and may verify the chain; others see the events of their own runs.
    func audit(_ request: AuditRequest, peer: Peer) throws -> Frame {
        if request.verify {
            guard isAdmin(peer) else {
                return Wire.encode(.error, ErrorMessage(message: "only root and the admin group may verify the audit log"))
            }
            let note: String
            if let problem = try records.verifyAudit() {
                note = problem.description
                logger.critical("audit log verification failed", metadata: ["problem": "\(problem)"])
            } else {
                note = "the audit log is intact (\(try records.auditEvents(limit: 1).first?.seq ?? 0) events)"
            }
            return Wire.encode(.done, OutputNote(path: "", reason: note))
        }
        var events = try records.auditEvents(since: request.since, runID: request.runID, limit: max(1, min(request.limit, 100_000)))
        if !isAdmin(peer) { events = events.filter { $0.uid == peer.uid } }
        return Wire.encodeFitting(.auditList, events, keepEnd: true)
    }

    /// Every template the daemon serves, marked usable or not for the peer; or the one asked for.
    func policies(_ request: PolicyRequest, peer: Peer) -> Frame {
        var entries = policies.entries.values.map(\.policy).sorted { $0.template < $1.template }
        if let name = request.template {
            entries = entries.filter { $0.template == name }
            if entries.isEmpty {
                return Wire.encode(.error, ErrorMessage(message: RunAdmission.unknownTemplate(name, known: policies.names).message))
            }
        }
        let summaries = entries.map { PolicySummary($0, usable: Authorization.allows($0, uid: peer.uid, gid: peer.gid)) }
        return Wire.encode(.policyList, summaries)
    }
}
