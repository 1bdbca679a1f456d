import Foundation

/// The JSON Schema a reply must follow, sent with the request where the provider supports structured output,
/// so that even a small model answers in shape. The strict parser and its one repair prompt stay behind it.
public struct ReplySchema: Sendable, Equatable {
    /// The schema's name as the APIs want it: letters, digits, underscores ("idea", "novelty_round").
    public var name: String
    /// The JSON Schema, as JSON text.
    public var json: String

    public init(name: String, json: String) {
        self.name = name
        self.json = json
    }

    /// The schema as a JSON object for a request body.
    var object: Any { (try? JSONSerialization.jsonObject(with: Data(json.utf8))) ?? [String: Any]() }
}

/// How a provider is asked for structured replies (`model.structured_output` in the config).
public enum StructuredOutput: String, Sendable, Codable, CaseIterable {
    /// OpenAI's `response_format: {"type": "json_schema", "json_schema": {"name", "schema", "strict": true}}`;
    /// also vLLM, llama.cpp's llama-server and Ollama's OpenAI-compatible endpoint.
    case jsonSchema = "json_schema"
    /// `response_format: {"type": "json_object", "schema": …}`: llama-cpp-python's server.
    case jsonObject = "json_object"
    /// Anthropic: a tool whose `input_schema` is the schema, forced with `tool_choice`.
    case tool
    /// No schema is sent; the prompt and the repair prompt alone.
    case off

    /// The default per provider.
    public static func defaultMode(for provider: ProviderKind) -> StructuredOutput {
        provider == .anthropic ? .tool : .jsonSchema
    }

    /// The modes a provider's API has.
    public static func modes(for provider: ProviderKind) -> [StructuredOutput] {
        provider == .anthropic ? [.tool, .off] : [.jsonSchema, .jsonObject, .off]
    }
}

extension IdeaProposal {
    /// The idea, with the THOUGHT the prompt asks for as a field (where "I am done" goes).
    public static let replySchema: ReplySchema? = ReplySchema(name: "idea", json: """
        {"type": "object", "additionalProperties": false,
         "required": ["Thought", "Name", "Title", "Experiment", "Interestingness", "Feasibility", "Novelty"],
         "properties": {
           "Thought": {"type": "string", "description": "Your reasoning; write I am done here when the idea needs no more changes."},
           "Name": {"type": "string", "description": "a short identifier: lowercase letters, digits and underscores"},
           "Title": {"type": "string"},
           "Experiment": {"type": "string"},
           "Interestingness": {"type": "integer", "enum": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]},
           "Feasibility": {"type": "integer", "enum": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]},
           "Novelty": {"type": "integer", "enum": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}}}
        """)
}

extension NoveltyReply {
    /// A search (Query) or a verdict (Decision and Reasons); the other fields null.
    public static let replySchema: ReplySchema? = ReplySchema(name: "novelty_round", json: """
        {"type": "object", "additionalProperties": false,
         "required": ["Thought", "Query", "Decision", "Reasons"],
         "properties": {
           "Thought": {"type": "string"},
           "Query": {"type": ["string", "null"], "description": "a literature search query, or null when deciding"},
           "Decision": {"type": ["string", "null"], "enum": ["novel", "not novel", null]},
           "Reasons": {"type": ["string", "null"]}}}
        """)
}
