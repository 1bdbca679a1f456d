import Foundation
import XCTest
@testable import Scientist

/// The `scientist` executable end to end, against the scripted model and literature server, with a config
/// file and the key in the environment, as a user runs it.
final class CommandLineTests: XCTestCase {
    private var lab: ScriptedLab!
    private var directory: TemporaryDirectory!
    private let secret = "sk-cli-secret-9876543210"

    override func setUpWithError() throws {
        ignoreSIGPIPE()
        directory = try TemporaryDirectory("scientist-cli")
        lab = try ScriptedLab()
    }

    override func tearDown() {
        lab?.server.stop()
        directory?.remove()
    }

    /// The built executable, next to the test bundle.
    private func executable() throws -> String {
        var url = Bundle.main.bundleURL
        for _ in 0..<3 {
            let candidate = url.appendingPathComponent("scientist").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            url.deleteLastPathComponent()
        }
        throw XCTSkip("the scientist executable is not built next to the tests (swift build --build-tests builds it)")
    }

    private func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try executable())
        process.arguments = arguments + ["--config", directory.file("scientist.toml")]
        process.environment = ["HOME": directory.path, "PATH": "/usr/bin:/bin", "OPENAI_API_KEY": secret]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }

    func testIdeasNoveltyListShowAndUsageFromTheCommandLine() throws {
        let template = try writeTemplate(in: directory)
        try """
        [model]
        base_url = "\(lab.server.baseURL)/v1"
        name = "gpt-4o-2024-08-06"
        max_tokens = 1000

        [http]
        attempts = 1

        [literature]
        base_url = "\(lab.server.baseURL)"
        min_interval = 0

        [archive]
        path = "\(directory.file("archive.db"))"
        """.write(toFile: directory.file("scientist.toml"), atomically: false, encoding: .utf8)

        // Budget: two calls of ≈ $0.0103 fit in $0.025, a third's worst case does not.
        lab.say(ScriptedLab.idea("first_idea", title: "First Idea"), input: 100, output: 1000)
        lab.say(ScriptedLab.idea("first_idea", title: "First Idea", done: true), input: 100, output: 1000)
        let ideas = try run(["ideas", "--template", template.directory, "--count", "3", "--budget-usd", "0.025", "--reflections", "2"])
        XCTAssertEqual(ideas.status, 3, "exit status 3: stopped by the budget\n\(ideas.stdout)\n\(ideas.stderr)")
        XCTAssertTrue(ideas.stdout.contains("archived toy/first_idea (I7 F8 N6, 1 reflection(s), $0.0205): First Idea"), ideas.stdout)
        XCTAssertTrue(ideas.stderr.contains("scientist: budget: the next ideas call could cost up to"), ideas.stderr)

        lab.say(ScriptedLab.query("first idea toy"))
        lab.find(LiteratureWire.semanticScholar([("p9", "A Related Paper")]))
        lab.say(ScriptedLab.decision("novel", "Nothing overlaps."))
        let novelty = try run(["novelty", "first_idea", "--template", template.directory])
        XCTAssertEqual(novelty.status, 0, novelty.stderr)
        XCTAssertTrue(novelty.stdout.contains("first_idea: novel after 2 round(s): Nothing overlaps."), novelty.stdout)

        let list = try run(["ideas", "list", "--json"])
        XCTAssertEqual(list.status, 0, list.stderr)
        let listed = try JSONDecoder().decode([ArchivedIdea].self, from: Data(list.stdout.utf8))
        XCTAssertEqual(listed.map(\.proposal.name), ["learning_rate_warmup", "first_idea"])
        XCTAssertEqual(listed.last?.novelty, .novel)

        let show = try run(["ideas", "show", "first_idea"])
        XCTAssertTrue(show.stdout.contains("Round 1: query \"first idea toy\"\n    1. A Related Paper (2020)"), show.stdout)

        let usage = try run(["usage", "--by", "stage"])
        XCTAssertTrue(usage.stdout.contains("ideas"), usage.stdout)
        XCTAssertTrue(usage.stdout.contains("novelty"), usage.stdout)

        for output in [ideas, novelty, list, show, usage] {
            XCTAssertFalse(output.stdout.contains(secret) || output.stderr.contains(secret))
        }
        let help = try run(["--help"])
        XCTAssertTrue(help.stdout.contains("OPENAI_API_KEY") && !help.stdout.contains(secret))
    }

    func testAKeyFileReadableByOthersStopsTheCommandWithAClearMessage() throws {
        let keyFile = directory.file("openai.key")
        try "sk-from-file-123456\n".write(toFile: keyFile, atomically: false, encoding: .utf8)
        chmod(keyFile, 0o644)
        try "[model]\napi_key_env = \"UNSET_VARIABLE\"\napi_key_file = \"\(keyFile)\"\n[archive]\npath = \"\(directory.file("a.db"))\"\n"
            .write(toFile: directory.file("scientist.toml"), atomically: false, encoding: .utf8)
        let template = try writeTemplate(in: directory)
        let result = try run(["ideas", "--template", template.directory])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stderr, "scientist: \(keyFile): API key file has mode 0644: it must not be readable by group or others (chmod 600 \(keyFile))\n")
        XCTAssertEqual(lab.chatRequests.count, 0)
    }

    func testConfigurationErrorsAndAllIdeasFailingExitWithStatus1() throws {
        try "[archive]\npath = \"\(directory.file("a.db"))\"\n[http]\nattempts = 1\n"
            .write(toFile: directory.file("scientist.toml"), atomically: false, encoding: .utf8)
        let template = try writeTemplate(in: directory)
        let unpriced = try run(["ideas", "--template", template.directory, "--model", "my-local", "--base-url", lab.server.baseURL, "--budget-usd", "1"])
        XCTAssertEqual(unpriced.status, 1, "a budget that cannot be enforced is an error, not a budget stop")
        XCTAssertTrue(unpriced.stderr.contains("add [prices.\"my-local\"]"), unpriced.stderr)

        // The lab has no replies scripted: every chat request gets 599, and http.attempts = 1.
        let refused = try run(["ideas", "--template", template.directory, "--count", "2", "--base-url", lab.server.baseURL + "/v1"])
        XCTAssertEqual(refused.status, 1, refused.stdout + refused.stderr)
        XCTAssertTrue(refused.stdout.contains("failed: model gpt-4o-2024-08-06: request failed: POST \(lab.server.baseURL)/v1/chat/completions: HTTP 599: chat script exhausted"), refused.stdout)
        XCTAssertEqual(lab.chatRequests.count, 2, "one per idea, each failing on its own")
    }

    func testTheShippedTemplateFollowsTheContract() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let template = try ResearchTemplate.load(directory: root.appendingPathComponent("templates/toy_regression").path)
        XCTAssertEqual(template.missingFiles, [])
        XCTAssertGreaterThanOrEqual(template.seedIdeas.count, 2)
        XCTAssertTrue(template.code.contains("--out_dir"))
        let info = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: template.directory + "/run_0/final_info.json"))) as? [String: [String: [String: Double]]]
        XCTAssertEqual(info?.keys.sorted(), ["abs", "sine", "step"])
        XCTAssertNotNil(info?["sine"]?["means"]?["final_val_loss"])
    }
}
