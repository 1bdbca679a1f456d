import Foundation
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

    /// A paper's or a review's calls are reported at what they cost: a reply replayed at no cost on a resumed
    /// launch carries the tokens and cost of the call that paid for it.
    @Test func aReplayedCallIsReportedAtWhatItsReplyCost() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("replay-costs-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try ScientistStore(path: directory + "/scientist.db")
        let idea = try store.insertIdea(IdeaProposal(name: "x", title: "X", experiment: "e", interestingness: 1, feasibility: 1, novelty: 1),
                                        template: "t", source: .generated, launchID: nil, reflections: 0)
        func call(_ stage: String, tokens: Int, cost: Double?, outcome: String) throws -> Int64 {
            try store.recordCall(CallRecord(launchID: nil, stage: stage, ideaID: idea, provider: "openai", model: "gpt-4o", inputTokens: tokens,
                                            outputTokens: tokens / 10, costUSD: cost, usageEstimated: false, startedAt: 100,
                                            seconds: 1, outcome: outcome))
        }
        let paid = try call("writeup", tokens: 1000, cost: 0.25, outcome: "ok")
        let replayed = try call("writeup", tokens: 0, cost: 0, outcome: StoredCall.replayed(paid))
        let fresh = try call("citations", tokens: 500, cost: 0.1, outcome: "ok")
        let calls = try store.calls(ids: [replayed, fresh])
        #expect(calls.map(\.costUSD) == [0.25, 0.1])
        #expect(calls.map(\.inputTokens) == [1000, 500])
        #expect(calls.first?.outcome == "replayed call \(paid)", "still marked replayed")
        #expect(try store.calls(ideaID: idea, stages: ["writeup"], since: 0).map(\.costUSD) == [0.25, 0.25])
        #expect(try store.calls(ideaID: idea, stages: ["citations", "it's"], since: 0).map(\.id) == [fresh], "stage names are bound, not quoted")
    }
}
