import Foundation
import Logging
@testable import Scientist

/// Wire-format replies of each provider, as their real APIs send them.
enum Wire {
    static func openAI(_ text: String, input: Int = 100, output: Int = 50, finish: String = "stop") -> TestHTTPServer.Reply {
        let body: [String: Any] = [
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1_700_000_000, "model": "gpt-4o-2024-08-06",
            "choices": [["index": 0, "message": ["role": "assistant", "content": text], "finish_reason": finish]],
            "usage": ["prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output],
        ]
        return json(body)
    }

    static func anthropic(_ text: String, input: Int = 100, output: Int = 50) -> TestHTTPServer.Reply {
        let body: [String: Any] = [
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-3-5-sonnet-20241022",
            "content": [["type": "text", "text": text]], "stop_reason": "end_turn", "stop_sequence": NSNull(),
            "usage": ["input_tokens": input, "output_tokens": output],
        ]
        return json(body)
    }

    static func json(_ object: Any, status: Int = 200) -> TestHTTPServer.Reply {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return .respond(status: status, headers: [("Content-Type", "application/json")], body: Array(data))
    }

    /// A model reply in the AI Scientist's shape: a thought, then one ```json block.
    static func fenced(_ thought: String, _ object: Any) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])) ?? Data()
        return "THOUGHT:\n\(thought)\n\nJSON:\n```json\n\(String(decoding: data, as: UTF8.self))\n```"
    }
}

/// The pieces a test needs to call a model through the full stack: server, store, ledger.
struct ModelHarness {
    let server: TestHTTPServer
    let store: ScientistStore
    let model: MeteredModel
    let launchID: Int64

    init(server: TestHTTPServer, directory: TemporaryDirectory, provider kind: ProviderKind = .openai,
         modelName: String = "gpt-4o-2024-08-06", budget: Budget = .unlimited, price: Price? = Price(inputPerMillion: 2.5, outputPerMillion: 10),
         maxTokens: Int = 1000, key: APIKey? = APIKey(value: "sk-test-secret-0123456789", origin: "test"),
         logger: Logger = quietLogger(), attempts: Int = 2, timeout: Duration = .seconds(5)) throws {
        self.server = server
        store = try ScientistStore(path: directory.file("scientist.db"))
        // As Session configures model calls: no retry once the request has gone out.
        var retry = SleepRecorder().policy(maxAttempts: attempts)
        retry.retriesAfterSending = false
        let http = HTTPClient(configuration: .init(connectTimeout: .seconds(2), totalTimeout: timeout, retry: retry), logger: logger)
        let provider: any ChatProvider = switch kind {
        case .openai: OpenAICompatibleProvider(model: modelName, baseURL: server.baseURL + "/v1", key: key, http: http)
        case .anthropic: AnthropicProvider(model: modelName, baseURL: server.baseURL, key: key, http: http)
        }
        launchID = try store.beginLaunch(command: "test", model: modelName, budget: budget)
        let ledger = try UsageLedger(budget: budget, price: price, provider: kind, model: modelName, launchID: launchID, store: store)
        model = MeteredModel(provider: provider, ledger: ledger, maxTokens: maxTokens, temperature: 0.5, logger: logger)
    }
}
