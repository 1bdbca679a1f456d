/// One turn of a conversation.
public struct ChatMessage: Codable, Sendable, Equatable {
    public enum Role: String, Codable, Sendable { case user, assistant }
    public var role: Role
    public var content: String

    public init(_ role: Role, _ content: String) {
        self.role = role
        self.content = content
    }
}

/// What is sent to a model: a system prompt, the conversation so far, and sampling limits.
public struct ChatRequest: Sendable, Equatable {
    public var system: String
    public var messages: [ChatMessage]
    public var maxTokens: Int
    public var temperature: Double
    /// The shape the reply must have, sent as the provider's structured-output request when it has one.
    public var schema: ReplySchema?

    public init(system: String, messages: [ChatMessage], maxTokens: Int, temperature: Double) {
        self.system = system
        self.messages = messages
        self.maxTokens = maxTokens
        self.temperature = temperature
    }

    /// A deliberately high estimate of the prompt's tokens for the budget check: one token per 3 UTF-8 bytes
    /// (English averages about 4 characters a token) plus 8 per message for the chat framing.
    public var estimatedInputTokens: Int {
        let bytes = system.utf8.count + messages.reduce(0) { $0 + $1.content.utf8.count }
        return (bytes + 2) / 3 + 8 * (messages.count + 1)
    }
}

/// The model's answer and what it used.
public struct ChatReply: Sendable, Equatable {
    public var text: String
    public var inputTokens: Int
    public var outputTokens: Int
    /// False when the provider sent no usage and the numbers are estimates.
    public var usageReported: Bool
    /// finish_reason / stop_reason as the provider names it ("stop", "length", "end_turn", "max_tokens").
    public var stopReason: String?
}

public enum ProviderKind: String, Sendable, Codable, CaseIterable {
    /// Any OpenAI-compatible chat-completions endpoint: OpenAI, vLLM, llama.cpp server, Ollama, OpenRouter,
    /// DeepSeek, …; chosen by base URL.
    case openai
    /// Anthropic's Messages API.
    case anthropic
}

/// A chat model behind some API.
public protocol ChatProvider: Sendable {
    var kind: ProviderKind { get }
    var model: String { get }
    func complete(_ request: ChatRequest) throws(ModelError) -> ChatReply
}
