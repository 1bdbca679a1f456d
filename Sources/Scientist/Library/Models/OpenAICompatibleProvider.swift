import Foundation

/// Any endpoint speaking OpenAI's chat completions: POST `<base>/chat/completions` with
/// `Authorization: Bearer <key>` (omitted without a key, for local servers such as llama.cpp or Ollama).
public struct OpenAICompatibleProvider: ChatProvider {
    public var kind: ProviderKind { .openai }
    public let model: String
    let baseURL: String
    let key: APIKey?
    /// "max_tokens", or "max_completion_tokens" for OpenAI's reasoning models.
    let tokenLimitField: String
    /// How a request's schema is sent (json_schema, json_object, or not at all).
    let structuredOutput: StructuredOutput
    let http: HTTPClient

    public init(model: String, baseURL: String, key: APIKey?, tokenLimitField: String = "max_tokens",
                structuredOutput: StructuredOutput = .jsonSchema, http: HTTPClient) {
        self.model = model
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.key = key
        self.tokenLimitField = tokenLimitField
        self.structuredOutput = structuredOutput
        self.http = http
    }

    public func complete(_ request: ChatRequest) throws(ModelError) -> ChatReply {
        var messages: [[String: String]] = [["role": "system", "content": request.system]]
        messages += request.messages.map { ["role": $0.role.rawValue, "content": $0.content] }
        var body: [String: Any] = ["model": model, "messages": messages, "temperature": request.temperature,
                                   tokenLimitField: request.maxTokens]
        if let schema = request.schema {
            switch structuredOutput {
            case .jsonSchema:
                body["response_format"] = ["type": "json_schema", "json_schema": ["name": schema.name, "schema": schema.object, "strict": true]]
            case .jsonObject:
                body["response_format"] = ["type": "json_object", "schema": schema.object]
            case .tool, .off:
                break
            }
        }
        var headers = [(name: "Content-Type", value: "application/json")]
        if let key { headers.append((name: "Authorization", value: "Bearer \(key.value)")) }
        let response = try ProviderHTTP.post(http, url: baseURL + "/chat/completions", headers: headers, json: body,
                                             model: model, key: key)
        let decoded: Reply
        do {
            decoded = try JSONDecoder().decode(Reply.self, from: Data(response.body))
        } catch {
            throw .malformedReply(model: model, detail: key.redact("not a chat.completions reply: \(ProviderHTTP.describe(error)); body: \(response.bodyExcerpt())"))
        }
        guard let choice = decoded.choices.first else { throw .malformedReply(model: model, detail: "no choices in the reply") }
        let text = choice.message.content ?? ""
        guard !text.isEmpty else { throw .emptyReply(model: model, stopReason: choice.finish_reason) }
        if let usage = decoded.usage {
            return ChatReply(text: text, inputTokens: usage.prompt_tokens, outputTokens: usage.completion_tokens,
                             usageReported: true, stopReason: choice.finish_reason)
        }
        return ChatReply(text: text, inputTokens: request.estimatedInputTokens, outputTokens: (text.utf8.count + 2) / 3,
                         usageReported: false, stopReason: choice.finish_reason)
    }

    private struct Reply: Decodable {
        struct Choice: Decodable {
            struct Message: Decodable { let content: String? }
            let message: Message
            let finish_reason: String?
        }
        struct Usage: Decodable {
            let prompt_tokens: Int
            let completion_tokens: Int
        }
        let choices: [Choice]
        let usage: Usage?
    }
}
