import Foundation
import GloveboxClient
import Synchronization
@testable import GloveboxTestSupport
@testable import Scientist

/// A fake model and literature service on one local server: chat completions are answered from a queue of
/// model texts (in OpenAI's wire format, each reporting `usage`), Semantic Scholar searches from a queue of
/// replies. An exhausted queue answers 599, which fails the test's expectations visibly.
final class ScriptedLab: Sendable {
    private struct Queues {
        var chat: [(text: String, input: Int, output: Int)] = []
        /// Replies for conversations whose first message contains the key (two ideas' loops at once).
        var chatFor: [String: [(text: String, input: Int, output: Int)]] = [:]
        var literature: [TestHTTPServer.Reply] = []
        /// Markers of requests to refuse once (HTTP 400), matched against the last message; and how many were.
        var failures: [String] = []
        var failed = 0
    }
    /// Shared by reference with the server's handler.
    private final class Box: Sendable {
        let state = Mutex(Queues())
        func withLock<T>(_ body: (inout Queues) -> T) -> T { state.withLock { body(&$0) } }
    }
    private let queues = Box()
    let server: TestHTTPServer

    init() throws {
        let queues = self.queues
        server = try TestHTTPServer { request in
            if request.path.hasSuffix("/chat/completions") {
                let opening = ((request.json?["messages"] as? [[String: String]])?.first { $0["role"] == "user" }?["content"]) ?? ""
                let last = ((request.json?["messages"] as? [[String: String]])?.last?["content"]) ?? ""
                let refused = queues.withLock { queues -> Bool in
                    guard let index = queues.failures.firstIndex(where: { last.contains($0) }) else { return false }
                    queues.failures.remove(at: index)
                    queues.failed += 1
                    return true
                }
                if refused { return .text("refused once for the test", status: 400) }
                let next = queues.withLock { queues -> (text: String, input: Int, output: Int)? in
                    if let key = queues.chatFor.keys.sorted().first(where: { opening.contains($0) }) {
                        return queues.chatFor[key]!.isEmpty ? nil : queues.chatFor[key]!.removeFirst()
                    }
                    return queues.chat.isEmpty ? nil : queues.chat.removeFirst()
                }
                guard let next else {
                    return .text("chat script exhausted", status: 599)
                }
                return Wire.openAI(next.text, input: next.input, output: next.output)
            }
            if request.path == "/graph/v1/paper/search" {
                return queues.withLock { $0.literature.isEmpty ? .text("literature script exhausted", status: 599) : $0.literature.removeFirst() }
            }
            return .text("unknown path \(request.path)", status: 404)
        }
    }

    func say(_ text: String, input: Int = 100, output: Int = 100) {
        queues.withLock { $0.chat.append((text, input, output)) }
    }

    /// A reply for the conversation whose first user message contains `marker`.
    func say(_ text: String, when marker: String, input: Int = 100, output: Int = 100) {
        queues.withLock { $0.chatFor[marker, default: []].append((text, input, output)) }
    }

    /// Refuses (HTTP 400, not retried) the first chat request whose last message contains `marker`: a stage
    /// failing there, to be resumed.
    func failOnce(when marker: String) {
        queues.withLock { $0.failures.append(marker) }
    }

    /// How many requests were refused by `failOnce`.
    var refusedCount: Int { queues.withLock { $0.failed } }

    func find(_ reply: TestHTTPServer.Reply) {
        queues.withLock { $0.literature.append(reply) }
    }

    var chatRequests: [TestHTTPServer.Request] { server.requests.filter { $0.path.hasSuffix("/chat/completions") } }
    var literatureRequests: [TestHTTPServer.Request] { server.requests.filter { $0.path == "/graph/v1/paper/search" } }

    /// The messages of the n-th chat request.
    func messages(_ n: Int) -> [[String: String]] {
        (chatRequests[n].json?["messages"] as? [[String: String]]) ?? []
    }

    /// A reply proposing an idea, optionally declaring itself done.
    static func idea(_ name: String, title: String, done: Bool = false, novelty: Int = 6) -> String {
        Wire.fenced(done ? "Looks good. I am done" : "Here is my idea about \(name).",
                    ["Name": name, "Title": title, "Experiment": "Modify experiment.py to test \(name).",
                     "Interestingness": 7, "Feasibility": 8, "Novelty": novelty])
    }

    static func query(_ query: String) -> String {
        Wire.fenced("I should search.", ["Thought": "I should search for \(query).", "Query": query])
    }

    static func decision(_ decision: String, _ reasons: String) -> String {
        Wire.fenced("Decided.", ["Thought": "Enough evidence.", "Decision": decision, "Reasons": reasons])
    }
}

extension ScriptedLab {
    /// A scientist.toml whose model and Semantic Scholar are this lab, with its archive at `archive`; `launch`
    /// adds a launch's settings (no idea reflections, two novelty rounds); `extra` more sections.
    func config(archive: String, model: String = "local-model", launch: Bool = false, extra: String = "") -> String {
        var text = """
            [model]
            base_url = "\(server.baseURL)/v1"
            name = "\(model)"

            [literature]
            engine = "semanticscholar"
            base_url = "\(server.baseURL)"
            min_interval = 0.01

            [archive]
            path = "\(archive)"

            """
        if launch { text += "[ideas]\nreflections = 0\n\n[novelty]\nrounds = 2\n\n" }
        return text + extra
    }

    /// A home for the user nobody at `home`, holding the archive and scientist.toml (a launch's, as `config`
    /// writes it); returns the config's path.
    func nobodysHome(_ home: String, extra: String = "") throws -> String {
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        let path = home + "/scientist.toml"
        try config(archive: home + "/scientist.db", launch: true, extra: extra).write(toFile: path, atomically: false, encoding: .utf8)
        let chown = try DaemonFixture.run(["/bin/chown", "-R", "65534:65534", home])
        guard chown.status == 0 else { throw ClientError("chown \(home): \(chown.stderr)") }
        return path
    }
}

/// A minimal template in the AI Scientist's layout.
func writeTemplate(in directory: TemporaryDirectory, name: String = "toy") throws -> ResearchTemplate {
    let root = directory.file(name)
    try FileManager.default.createDirectory(atPath: root + "/latex", withIntermediateDirectories: true)
    try #"{"system": "You are a careful ML researcher.", "task_description": "Study a toy regression task."}"#
        .write(toFile: root + "/prompt.json", atomically: false, encoding: .utf8)
    try "import argparse\nprint('experiment')\n".write(toFile: root + "/experiment.py", atomically: false, encoding: .utf8)
    let seeds = #"[{"Name": "learning_rate_warmup", "Title": "Learning Rate Warmup for Toy Regression", "Experiment": "Add warmup.", "Interestingness": 4, "Feasibility": 9, "Novelty": 2}]"#
    try seeds.write(toFile: root + "/seed_ideas.json", atomically: false, encoding: .utf8)
    return try ResearchTemplate.load(directory: root)
}
