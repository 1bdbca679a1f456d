import Foundation

/// Anthropic's Messages API: POST `<base>/v1/messages` with `x-api-key` and `anthropic-version`.
public struct AnthropicProvider: ChatProvider {
    public var kind: ProviderKind { .anthropic }
    public let model: String
    let baseURL: String
    let key: APIKey?
    /// `.tool`: a request's schema becomes a forced tool; `.off`: it is not sent.
    let structuredOutput: StructuredOutput
    let http: HTTPClient
    static let apiVersion = "2023-06-01"

    public init(model: String, baseURL: String, key: APIKey?, structuredOutput: StructuredOutput = .tool, http: HTTPClient) {
        self.model = model
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.key = key
        self.structuredOutput = structuredOutput
        self.http = http
    }

    public func complete(_ request: ChatRequest) throws(ModelError) -> ChatReply {
        var body: [String: Any] = [
            "model": model, "system": request.system, "max_tokens": request.maxTokens, "temperature": request.temperature,
            "messages": request.messages.map { ["role": $0.role.rawValue, "content": $0.content] },
        ]
        if let schema = request.schema, structuredOutput == .tool {
            body["tools"] = [["name": schema.name, "description": "Give your reply in this shape.", "input_schema": schema.object]]
            body["tool_choice"] = ["type": "tool", "name": schema.name]
        }
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
        // The forced tool's input is the reply's JSON; otherwise the text blocks.
        let forced = request.schema != nil && structuredOutput == .tool
        let toolInput = forced ? decoded.content.first { $0.type == "tool_use" }?.input?.json : nil
        let text = toolInput ?? decoded.content.filter { $0.type == "text" }.compactMap(\.text).joined()
        guard !text.isEmpty else { throw .emptyReply(model: model, stopReason: decoded.stop_reason) }
        return ChatReply(text: text, inputTokens: decoded.usage.input_tokens, outputTokens: decoded.usage.output_tokens,
                         usageReported: true, stopReason: decoded.stop_reason)
    }

    private struct Reply: Decodable {
        struct Block: Decodable {
            let type: String
            let text: String?
            let input: RawJSON?
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

/// Any JSON value, kept as compact JSON text (a tool call's `input`).
struct RawJSON: Decodable {
    let json: String

    init(from decoder: any Decoder) throws {
        let value = try JSONValue(from: decoder)
        let data = try JSONEncoder().encode(value)
        json = String(decoding: data, as: UTF8.self)
    }

    private enum JSONValue: Codable {
        case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() { self = .null }
            else if let value = try? container.decode(Bool.self) { self = .bool(value) }
            else if let value = try? container.decode(Double.self) { self = .number(value) }
            else if let value = try? container.decode(String.self) { self = .string(value) }
            else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
            else { self = .object(try container.decode([String: JSONValue].self)) }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .null: try container.encodeNil()
            case .bool(let value): try container.encode(value)
            case .number(let value):
                if value == value.rounded(), abs(value) < 1e15 { try container.encode(Int64(value)) } else { try container.encode(value) }
            case .string(let value): try container.encode(value)
            case .array(let value): try container.encode(value)
            case .object(let value): try container.encode(value)
            }
        }
    }
}
