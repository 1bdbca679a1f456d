import ArgumentParser
import FoundationEssentials
import GloveboxClient
import GloveboxProtocol
import GloveboxSystem
import PolicyModel
import RecordModel

struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Read gloveboxd's audit log (root and admins: everything; others: their own runs).",
        discussion: """
        Every request and decision is an event: accepted, refused and why, limits hit, cancels and kills, \
        daemon starts and stops. Each event carries the hash of the one before it. --verify walks the whole \
        chain and names the first event that was changed or removed (exit status 1 then).
        """)

    @OptionGroup var socket: SocketOption

    @Option(help: "Only events of the last DURATION (e.g. 30m, 2h, 7d).")
    var since: String?

    @Option(name: .customLong("run"), help: "Only the events of this run.")
    var runID: Int64?

    @Option(help: "At most the N most recent events.")
    var limit = 1000

    @Flag(help: "Check the hash chain instead of listing events (root and admins).")
    var verify = false

    @Flag(help: "JSON: an array of events.")
    var json = false

    func run() throws {
        let path = DaemonConnection.socketPath(socket.socket)
        if verify {
            let result = try daemonRequest { try DaemonQueries.verifyAudit(socketPath: path) }
            print(result)
            if !result.hasPrefix("the audit log is intact") { throw ExitCode(1) }
            return
        }
        var sinceTime: Double?
        if let since {
            guard let seconds = DurationText.parse(since) else { throw ValidationError("--since: '\(since)' is not a duration (e.g. 30m, 2h, 7d)") }
            sinceTime = Monotonic.wallNow() - seconds
        }
        let events = try daemonRequest { try DaemonQueries.audit(socketPath: path, request: AuditRequest(since: sinceTime, runID: runID, limit: limit)) }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(events), as: UTF8.self))
            return
        }
        for e in events {
            let who = [e.runID.map { "run \($0)" }, e.uid.map { "user \(RecordText.user($0))" }, e.template.map { "template \($0)" }]
                .compactMap { $0 }.joined(separator: ", ")
            print("\(e.seq)  \(RecordText.time(e.time))  \(e.kind.rawValue)" + (who.isEmpty ? "" : "  [\(who)]") + (e.detail.isEmpty ? "" : "  \(e.detail)"))
        }
    }
}
