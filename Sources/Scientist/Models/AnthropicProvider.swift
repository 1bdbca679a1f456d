import Foundation

/// Anthropic's Messages API: POST `<base>/v1/messages` with `x-api-key` and `anthropic-version`.
public struct AnthropicProvider: ChatProvider {
    public var kind: ProviderKind { .anthropic }
    public let model: String
    let baseURL: String
    let key: APIKey?
    let http: HTTPClient
    static let apiVersion = "2023-06-01"

    public init(model: String, baseURL: String, key: APIKey?, http: HTTPClient) {
        self.model = model
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.key = key
        self.http = http
    }

    public func complete(_ request: ChatRequest) throws(ModelError) -> ChatReply {
        let body: [String: Any] = [
            "model": model, "system": request.system, "max_tokens": request.maxTokens, "temperature": request.temperature,
            "messages": request.messages.map { ["role": $0.role.rawValue, "content": $0.content] },
        ]
        var headers = [(name: "Content-Type", value: "application/json"), (name: "anthropic-version", value: Self.apiVersion)]
        if let key { headers.append((name: "x-api-key", value: key.value)) }
        let response = try ProviderHTTP.post(http, url: baseURL + "/v1/messages", headers: headers, json: body,
                                             model: model, key: key)
        let decoded: Reply
        do {
            decoded = try JSONDecoder().decode(Reply.self, from: Data(response.body))
        } catch {
            throw .malformedReply(model: model, detail: key.redact("not a Messages API reply: \(ProviderHTTP.describe(error)); body: \(response.bodyExcerpt())"))
        }
        let text = decoded.content.filter { $0.type == "text" }.compactMap(\.text).joined()
        guard !text.isEmpty else { throw .emptyReply(model: model, stopReason: decoded.stop_reason) }
        return ChatReply(text: text, inputTokens: decoded.usage.input_tokens, outputTokens: decoded.usage.output_tokens,
                         usageReported: true, stopReason: decoded.stop_reason)
    }

    private struct Reply: Decodable {
        struct Block: Decodable {
            let type: String
            let text: String?
        }
        struct Usage: Decodable {
            let input_tokens: Int
            let output_tokens: Int
        }
        let content: [Block]
        let usage: Usage
        let stop_reason: String?
    }
}
