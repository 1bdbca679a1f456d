import Foundation
import XCTest
@testable import Scientist

/// Structured replies: the reply's JSON Schema travels as each provider's structured-output request, and the
/// strict parser reads what comes back.
final class StructuredOutputTests: XCTestCase {
    private var server: TestHTTPServer?

    override func setUp() { ignoreSIGPIPE() }
    override func tearDown() { server?.stop() }

    private func http() -> HTTPClient {
        HTTPClient(configuration: .init(totalTimeout: .seconds(5), retry: SleepRecorder().policy(maxAttempts: 1)), logger: quietLogger())
    }

    private func request(schema: ReplySchema? = IdeaProposal.replySchema) -> ChatRequest {
        var request = ChatRequest(system: "s", messages: [ChatMessage(.user, "Propose an idea.")], maxTokens: 100, temperature: 0.3)
        request.schema = schema
        return request
    }

    private func sentBody() throws -> [String: Any] { try XCTUnwrap(server?.requests.first?.json) }

    func testOpenAIGetsAStrictJSONSchemaResponseFormat() throws {
        server = try TestHTTPServer(script: [Wire.openAI("{}")])
        _ = try OpenAICompatibleProvider(model: "gpt-4o", baseURL: server!.baseURL, key: nil, http: http()).complete(request())
        let format = try XCTUnwrap(try sentBody()["response_format"] as? [String: Any])
        XCTAssertEqual(format["type"] as? String, "json_schema")
        let jsonSchema = try XCTUnwrap(format["json_schema"] as? [String: Any])
        XCTAssertEqual(jsonSchema["name"] as? String, "idea")
        XCTAssertEqual(jsonSchema["strict"] as? Bool, true)
        let schema = try XCTUnwrap(jsonSchema["schema"] as? [String: Any])
        XCTAssertEqual(schema["additionalProperties"] as? Bool, false)
        XCTAssertEqual(Set(try XCTUnwrap(schema["required"] as? [String])),
                       ["Thought", "Name", "Title", "Experiment", "Interestingness", "Feasibility", "Novelty"])
        let novelty = try XCTUnwrap((schema["properties"] as? [String: Any])?["Novelty"] as? [String: Any])
        XCTAssertEqual(novelty["enum"] as? [Int], Array(1...10), "an enum: grammar-constrained servers cannot enforce a range")
    }

    func testLlamaCppPythonGetsAJSONObjectWithItsSchemaAndOffSendsNone() throws {
        server = try TestHTTPServer(script: [Wire.openAI("{}"), Wire.openAI("{}"), Wire.openAI("{}")])
        _ = try OpenAICompatibleProvider(model: "m", baseURL: server!.baseURL, key: nil, structuredOutput: .jsonObject, http: http()).complete(request())
        let format = try XCTUnwrap(try sentBody()["response_format"] as? [String: Any])
        XCTAssertEqual(format["type"] as? String, "json_object")
        XCTAssertEqual((format["schema"] as? [String: Any])?["type"] as? String, "object")
        _ = try OpenAICompatibleProvider(model: "m", baseURL: server!.baseURL, key: nil, structuredOutput: .off, http: http()).complete(request())
        XCTAssertNil(server!.requests[1].json?["response_format"])
        _ = try OpenAICompatibleProvider(model: "m", baseURL: server!.baseURL, key: nil, http: http()).complete(request(schema: nil))
        XCTAssertNil(server!.requests[2].json?["response_format"], "no schema, no response_format")
    }

    func testAnthropicGetsAForcedToolAndItsInputIsTheReply() throws {
        let input: [String: Any] = ["Thought": "I am done", "Name": "sparse", "Title": "Sparse", "Experiment": "E",
                                    "Interestingness": 5, "Feasibility": 6, "Novelty": 7]
        server = try TestHTTPServer(script: [Wire.json([
            "id": "msg", "type": "message", "role": "assistant", "stop_reason": "tool_use",
            "content": [["type": "text", "text": "Here it is."], ["type": "tool_use", "id": "t1", "name": "idea", "input": input]],
            "usage": ["input_tokens": 10, "output_tokens": 20],
        ])])
        let reply = try AnthropicProvider(model: "claude", baseURL: server!.baseURL, key: nil, http: http()).complete(request())
        let body = try sentBody()
        let tools = try XCTUnwrap(body["tools"] as? [[String: Any]])
        XCTAssertEqual(tools.first?["name"] as? String, "idea")
        XCTAssertEqual((tools.first?["input_schema"] as? [String: Any])?["type"] as? String, "object")
        XCTAssertEqual(body["tool_choice"] as? [String: String], ["type": "tool", "name": "idea"])
        let idea = try JSONReply.decode(IdeaProposal.self, from: reply.text).get()
        XCTAssertEqual(idea, IdeaProposal(name: "sparse", title: "Sparse", experiment: "E", interestingness: 5, feasibility: 6, novelty: 7))
        XCTAssertTrue(IdeaPrompts.isDone(reply.text), "the Thought field carries I am done")
    }

    func testAnIdeasNameIsMadeAnIdentifier() throws {
        func name(_ name: String, title: String = "Sparse Targets") throws -> String {
            let json = #"{"Name": "\#(name)", "Title": "\#(title)", "Experiment": "E", "Interestingness": 1, "Feasibility": 1, "Novelty": 1}"#
            return try JSONReply.decode(IdeaProposal.self, from: json).get().name
        }
        XCTAssertEqual(try name("sparse_targets"), "sparse_targets")
        XCTAssertEqual(try name("Abu's MLP (v2)!"), "abu_s_mlp_v2")
        XCTAssertEqual(try name(""), "sparse_targets", "the title's when the name has nothing usable")
        XCTAssertEqual(try name("...", title: "Ünïcode Ideas"), "n_code_ideas")
        XCTAssertNotNil(JSONReply.decode(IdeaProposal.self, from: #"{"Name": "", "Title": "!!", "Experiment": "E", "Interestingness": 1, "Feasibility": 1, "Novelty": 1}"#).failureMessage,
                        "nothing usable in either: refused as before")
    }

    func testNoveltyRepliesWithNullFieldsDecode() throws {
        let search = try JSONReply.decode(NoveltyReply.self, from: #"{"Thought": "t", "Query": "sparse targets", "Decision": null, "Reasons": null}"#).get()
        XCTAssertEqual(search.query, "sparse targets")
        XCTAssertNil(search.decision)
        let verdict = try JSONReply.decode(NoveltyReply.self, from: #"{"Thought": "t", "Query": null, "Decision": "novel", "Reasons": "none like it"}"#).get()
        XCTAssertEqual(verdict.verdict, .novel)
    }

    func testTheConfigChoosesTheModePerProvider() throws {
        XCTAssertEqual(try ScientistConfig.parse("[model]\nprovider = \"openai\"\n", source: "s").model.resolvedStructuredOutput, .jsonSchema)
        XCTAssertEqual(try ScientistConfig.parse("[model]\nprovider = \"anthropic\"\n", source: "s").model.resolvedStructuredOutput, .tool)
        XCTAssertEqual(try ScientistConfig.parse("[model]\nstructured_output = \"json_object\"\n", source: "s").model.resolvedStructuredOutput, .jsonObject)
        let error = expectError(ConfigError.self) { try ScientistConfig.parse("[model]\nprovider = \"anthropic\"\nstructured_output = \"json_schema\"\n", source: "s") }
        XCTAssertEqual(error?.description, "s:3: model.structured_output: must be one of tool, off for provider anthropic")
    }
}

extension Result {
    var failureMessage: String? { if case .failure(let error) = self { "\(error)" } else { nil } }
}
