import Foundation
import XCTest
@testable import Scientist

final class KeyAndConfigTests: XCTestCase {
    private var directory: TemporaryDirectory!

    override func setUpWithError() throws { directory = try TemporaryDirectory("scientist-config") }
    override func tearDown() { directory?.remove() }

    private func keyFile(_ mode: mode_t, contents: String = "sk-file-key-abcdef\n") throws -> String {
        let path = directory.file("key-\(mode)")
        try contents.write(toFile: path, atomically: false, encoding: .utf8)
        XCTAssertEqual(chmod(path, mode), 0)
        return path
    }

    func testEnvironmentVariableComesFirstThenTheFile() throws {
        let file = try keyFile(0o600)
        let fromEnv = try KeyLoader.load(environmentVariable: "K", file: file, environment: ["K": " sk-env \n"])
        XCTAssertEqual(fromEnv?.value, "sk-env")
        XCTAssertEqual(fromEnv?.origin, "environment variable K")
        let fromFile = try KeyLoader.load(environmentVariable: "K", file: file, environment: [:])
        XCTAssertEqual(fromFile?.value, "sk-file-key-abcdef")
        XCTAssertNil(try KeyLoader.load(environmentVariable: "K", file: nil, environment: ["K": ""]))
    }

    func testKeyFileReadableByOthersIsRefusedNamingFileAndMode() throws {
        for mode: mode_t in [0o644, 0o640, 0o604, 0o660] {
            let file = try keyFile(mode)
            let error = expectError(ConfigError.self) { try KeyLoader.load(environmentVariable: nil, file: file, environment: [:]) }
            XCTAssertEqual(error?.description,
                           "\(file): API key file has mode \(String(format: "%04o", mode)): it must not be readable by group or others (chmod 600 \(file))")
            XCTAssertFalse(error?.description.contains("sk-file") ?? true)
        }
        XCTAssertNotNil(try KeyLoader.load(environmentVariable: nil, file: try keyFile(0o400), environment: [:]))
    }

    func testKeyFileThatIsASymlinkOrEmptyOrMissingIsRefused() throws {
        let target = try keyFile(0o600)
        let link = directory.file("link")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        XCTAssertTrue(expectError(ConfigError.self) { try KeyLoader.read(file: link) }?.message.contains("symbolic link") ?? false)
        let empty = try keyFile(0o600, contents: "\n")
        XCTAssertEqual(expectError(ConfigError.self) { try KeyLoader.read(file: empty) }?.message, "API key file is empty")
        XCTAssertTrue(expectError(ConfigError.self) { try KeyLoader.read(file: directory.file("none")) }?.message.contains("No such file") ?? false)
    }

    func testFullConfigParses() throws {
        let text = """
        # scientist.toml
        [model]
        provider = "anthropic"
        name = "claude-3-5-sonnet-20241022"
        base_url = "http://127.0.0.1:8080"
        temperature = 0.5
        max_tokens = 2048
        api_key_env = "MY_KEY"
        api_key_file = "/etc/k"

        [http]
        connect_timeout = 5
        timeout = 120.5
        attempts = 3

        [budget]
        usd = 2.5
        tokens = 1000000

        [literature]
        engine = "openalex"
        mailto = "me@example.org"
        min_interval = 0.2
        results_per_query = 5

        [prices."claude-3-5-sonnet-20241022"]
        input = 3
        output = 15.0

        [archive]
        path = "/tmp/x.db"

        [ideas]
        reflections = 4

        [novelty]
        rounds = 7
        """
        let config = try ScientistConfig.parse(text, source: "s.toml")
        XCTAssertEqual(config.model.provider, .anthropic)
        XCTAssertEqual(config.model.resolvedBaseURL, "http://127.0.0.1:8080")
        XCTAssertEqual(config.model.resolvedKeyEnv, "MY_KEY")
        XCTAssertEqual(config.model.maxTokens, 2048)
        XCTAssertEqual(config.http.timeout, 120.5)
        XCTAssertEqual(config.budget, Budget(usd: 2.5, tokens: 1_000_000))
        XCTAssertEqual(config.literature.engine, .openAlex)
        XCTAssertEqual(config.literature.mailto, "me@example.org")
        XCTAssertEqual(config.prices["claude-3-5-sonnet-20241022"], Price(inputPerMillion: 3, outputPerMillion: 15))
        XCTAssertEqual(config.archivePath, "/tmp/x.db")
        XCTAssertEqual(config.reflections, 4)
        XCTAssertEqual(config.noveltyRounds, 7)
        XCTAssertEqual(try ScientistConfig.parse("", source: "e").model.resolvedKeyEnv, "OPENAI_API_KEY")
    }

    func testConfigErrorsNameFileLineAndKey() {
        func error(_ text: String) -> String? { expectError(ConfigError.self) { try ScientistConfig.parse(text, source: "s.toml") }?.description }
        XCTAssertEqual(error("[model]\nname = \"m\"\ntemprature = 0.5\n"),
                       "s.toml:3: model.temprature: unknown key (known in [model]: api_key_env, api_key_file, base_url, max_tokens, name, provider, structured_output, temperature, token_limit_field)")
        XCTAssertEqual(error("\n[model]\n\nmax_tokens = \"lots\"\n"), "s.toml:4: model.max_tokens: expected an integer, found a string")
        XCTAssertEqual(error("[model]\nprovider = \"gemini\"\n"),
                       "s.toml:2: model.provider: unknown provider \"gemini\" (openai for any OpenAI-compatible endpoint, or anthropic)")
        XCTAssertEqual(error("[budget]\nusd = -1\n"), "s.toml:2: budget.usd: must be greater than 0")
        XCTAssertEqual(error("[prices.\"gpt-x\"]\ninput = 1\n"), "s.toml:1: prices.gpt-x: a price needs both input and output (USD per million tokens)")
        XCTAssertEqual(error("[model]\nbase_url = \"file:///etc\"\n"), "s.toml:2: model.base_url: must be an http:// or https:// URL")
        XCTAssertTrue(error("[model\nname = 1")?.hasPrefix("s.toml:1: TOML syntax error") ?? false)
        XCTAssertTrue(error("[gpu]\n")?.hasPrefix("s.toml:1: gpu: unknown table") ?? false)
    }
}
