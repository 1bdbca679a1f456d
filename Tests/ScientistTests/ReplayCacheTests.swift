import Testing
@testable import Scientist

/// The replies a resumed launch gets back without a call: by idea and request digest, each once, in order.
struct ReplayCacheTests {
    @Test func eachReplyIsUsedOnceInOrderAndOnlyForItsIdea() throws {
        let cache = ReplayCache(replies: [(1, 7, "d", "a"), (2, 7, "d", "b"), (3, 8, "d", "c"), (4, nil, "e", "f")])
        #expect(cache.take("d", ideaID: 7)?.reply == "a")
        #expect(cache.take("d", ideaID: 7)?.reply == "b", "an ensemble asking twice gets both replies")
        #expect(cache.take("d", ideaID: 7) == nil, "and then none")
        #expect(cache.take("d", ideaID: nil) == nil, "another idea's reply is not this one's")
        #expect(cache.take("d", ideaID: 8)?.callID == 3)
        #expect(cache.take("e", ideaID: nil)?.reply == "f", "a call for no idea (the launch's own) is kept apart")
        #expect(cache.take("e", ideaID: 7) == nil)
    }

    static func request(system: String = "s", messages: [String] = ["ab", "c"], temperature: Double = 0.3,
                        schema: ReplySchema? = nil) -> ChatRequest {
        var request = ChatRequest(system: system, messages: messages.map { ChatMessage(.user, $0) }, maxTokens: 100, temperature: temperature)
        request.schema = schema
        return request
    }

    /// Everything that makes a request what it is changes its digest; the parts are length-prefixed, so two
    /// requests whose texts only split differently are two requests.
    @Test func theDigestCoversEveryPartOfTheRequest() {
        let base = Self.request().digest(provider: "openai", model: "gpt-4o")
        #expect(base == Self.request().digest(provider: "openai", model: "gpt-4o"))
        let others = [
            Self.request().digest(provider: "anthropic", model: "gpt-4o"),
            Self.request().digest(provider: "openai", model: "gpt-4o-mini"),
            Self.request(system: "t").digest(provider: "openai", model: "gpt-4o"),
            Self.request(messages: ["a", "bc"]).digest(provider: "openai", model: "gpt-4o"),
            Self.request(temperature: 0.75).digest(provider: "openai", model: "gpt-4o"),
            Self.request(schema: ReplySchema(name: "idea", json: "{}")).digest(provider: "openai", model: "gpt-4o"),
        ]
        #expect(!others.contains(base))
        #expect(Set(others).count == others.count)
    }
}
