import Foundation
import XCTest
@testable import Scientist

final class ProviderTests: XCTestCase {
    private var server: TestHTTPServer?
    private var directory: TemporaryDirectory?
    private let key = APIKey(value: "sk-test-secret-0123456789", origin: "test")

    override func setUpWithError() throws {
        ignoreSIGPIPE()
        directory = try TemporaryDirectory("scientist-provider")
    }

    override func tearDown() {
        server?.stop()
        directory?.remove()
    }

    private func http() -> HTTPClient {
        HTTPClient(configuration: .init(totalTimeout: .seconds(5), retry: SleepRecorder().policy(maxAttempts: 2)), logger: quietLogger())
    }

    private func request() -> ChatRequest {
        ChatRequest(system: "You are a scientist.", messages: [ChatMessage(.user, "Propose an idea.")], maxTokens: 777, temperature: 0.3)
    }

    func testOpenAICompatibleRequestAndReplyFollowTheWireFormat() throws {
        let server = try TestHTTPServer(script: [Wire.openAI("An idea.", input: 31, output: 7)])
        self.server = server
        let provider = OpenAICompatibleProvider(model: "gpt-4o-2024-08-06", baseURL: server.baseURL + "/v1/", key: key, http: http())
        let reply = try provider.complete(request())
        XCTAssertEqual(reply, ChatReply(text: "An idea.", inputTokens: 31, outputTokens: 7, usageReported: true, stopReason: "stop"))

        let sent = try XCTUnwrap(server.requests.first)
        XCTAssertEqual(sent.method, "POST")
        XCTAssertEqual(sent.path, "/v1/chat/completions")
        XCTAssertEqual(sent.headers["authorization"], "Bearer sk-test-secret-0123456789")
        XCTAssertEqual(sent.headers["content-type"], "application/json")
        let body = try XCTUnwrap(sent.json)
        XCTAssertEqual(body["model"] as? String, "gpt-4o-2024-08-06")
        XCTAssertEqual(body["max_tokens"] as? Int, 777)
        XCTAssertEqual(body["temperature"] as? Double, 0.3)
        let messages = try XCTUnwrap(body["messages"] as? [[String: String]])
        XCTAssertEqual(messages, [["role": "system", "content": "You are a scientist."], ["role": "user", "content": "Propose an idea."]])
    }

    func testReasoningModelsCanUseMaxCompletionTokens() throws {
        let server = try TestHTTPServer(script: [Wire.openAI("ok")])
        self.server = server
        let provider = OpenAICompatibleProvider(model: "o3-mini", baseURL: server.baseURL, key: key,
                                                tokenLimitField: "max_completion_tokens", http: http())
        _ = try provider.complete(request())
        let body = try XCTUnwrap(server.requests.first?.json)
        XCTAssertEqual(body["max_completion_tokens"] as? Int, 777)
        XCTAssertNil(body["max_tokens"])
    }

    func testLocalServerWithoutKeyGetsNoAuthorizationHeader() throws {
        let server = try TestHTTPServer(script: [Wire.openAI("ok")])
        self.server = server
        _ = try OpenAICompatibleProvider(model: "llama3", baseURL: server.baseURL + "/v1", key: nil, http: http()).complete(request())
        XCTAssertNil(server.requests.first?.headers["authorization"])
    }

    func testAnthropicRequestAndReplyFollowTheWireFormat() throws {
        let reply: [String: Any] = [
            "id": "msg_1", "type": "message", "role": "assistant", "stop_reason": "end_turn",
            "content": [["type": "text", "text": "Part one, "], ["type": "tool_use", "id": "t", "name": "x", "input": [:] as [String: Any]],
                        ["type": "text", "text": "part two."]],
            "usage": ["input_tokens": 12, "output_tokens": 34],
        ]
        let server = try TestHTTPServer(script: [Wire.json(reply)])
        self.server = server
        let provider = AnthropicProvider(model: "claude-3-5-sonnet-20241022", baseURL: server.baseURL, key: key, http: http())
        let answer = try provider.complete(request())
        XCTAssertEqual(answer, ChatReply(text: "Part one, part two.", inputTokens: 12, outputTokens: 34, usageReported: true, stopReason: "end_turn"))

        let sent = try XCTUnwrap(server.requests.first)
        XCTAssertEqual(sent.path, "/v1/messages")
        XCTAssertEqual(sent.headers["x-api-key"], "sk-test-secret-0123456789")
        XCTAssertEqual(sent.headers["anthropic-version"], "2023-06-01")
        XCTAssertNil(sent.headers["authorization"])
        let body = try XCTUnwrap(sent.json)
        XCTAssertEqual(body["system"] as? String, "You are a scientist.")
        XCTAssertEqual(body["max_tokens"] as? Int, 777)
        XCTAssertEqual(body["messages"] as? [[String: String]], [["role": "user", "content": "Propose an idea."]])
    }

    func testNonJSONBodyIsAMalformedReplyNotACrash() throws {
        let server = try TestHTTPServer(script: [.respond(status: 200, headers: [("Content-Type", "text/html")], body: Array("<html>gateway</html>".utf8))])
        self.server = server
        let error = expectError(ModelError.self) {
            try OpenAICompatibleProvider(model: "m", baseURL: server.baseURL, key: key, http: http()).complete(request())
        }
        guard case let .malformedReply(_, detail) = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertTrue(detail.contains("not valid JSON"), detail)
        XCTAssertTrue(detail.contains("<html>gateway</html>"), detail)
    }

    func testReplyWithWrongShapeNamesTheMissingField() throws {
        let server = try TestHTTPServer(script: [Wire.json(["content": [["type": "text", "text": "x"]]])])
        self.server = server
        let error = expectError(ModelError.self) {
            try AnthropicProvider(model: "m", baseURL: server.baseURL, key: key, http: http()).complete(request())
        }
        XCTAssertTrue(error?.description.contains("missing key 'usage'") ?? false, "\(String(describing: error))")
    }

    func testMissingUsageIsEstimatedAndMarked() throws {
        let server = try TestHTTPServer(script: [Wire.json(["choices": [["message": ["content": "hello there"], "finish_reason": "stop"]]])])
        self.server = server
        let reply = try OpenAICompatibleProvider(model: "m", baseURL: server.baseURL, key: nil, http: http()).complete(request())
        XCTAssertFalse(reply.usageReported)
        XCTAssertEqual(reply.inputTokens, request().estimatedInputTokens)
        XCTAssertGreaterThan(reply.outputTokens, 0)
    }

    func testEmptyContentIsAnError() throws {
        let server = try TestHTTPServer(script: [Wire.openAI("", finish: "content_filter")])
        self.server = server
        let error = expectError(ModelError.self) {
            try OpenAICompatibleProvider(model: "m", baseURL: server.baseURL, key: nil, http: http()).complete(request())
        }
        XCTAssertEqual(error, .emptyReply(model: "m", stopReason: "content_filter"))
    }

    func testKeyEchoedByTheServerIsRedactedFromErrorsAndLogs() throws {
        let echo = #"{"error":{"message":"Incorrect API key provided: sk-test-secret-0123456789.","type":"invalid_request_error"}}"#
        let server = try TestHTTPServer(script: [.json(echo, status: 401), .json(#"{"garbage": "sk-test-secret-0123456789"}"#)])
        self.server = server
        let directory = try XCTUnwrap(directory)
        let logs = CapturedLogs()
        let harness = try ModelHarness(server: server, directory: directory, logger: logs.logger())
        let first = expectError(ScientistError.self) { try harness.model.chat(system: "s", messages: [ChatMessage(.user, "u")], stage: "ideas") }
        let second = expectError(ScientistError.self) { try harness.model.chat(system: "s", messages: [ChatMessage(.user, "u")], stage: "ideas") }
        for text in [first?.description ?? "", second?.description ?? "", logs.text] {
            XCTAssertFalse(text.contains("sk-test-secret-0123456789"), text)
        }
        XCTAssertTrue(first?.description.contains("HTTP 401") ?? false)
        XCTAssertTrue(first?.description.contains("<redacted>") ?? false)
        XCTAssertTrue(logs.text.contains("model call failed"), logs.text)
        // Nor does the archive hold it.
        let dump = try String(contentsOfFile: directory.file("scientist.db"), encoding: .isoLatin1)
        XCTAssertFalse(dump.contains("sk-test-secret"))
    }

    func testKeyDoesNotPrintOrDump() {
        XCTAssertEqual("\(key)", "<redacted>")
        XCTAssertEqual(String(reflecting: key), "<redacted>")
        var dumped = ""
        dump(key, to: &dumped)
        XCTAssertFalse(dumped.contains("sk-test"), dumped)
    }
}
