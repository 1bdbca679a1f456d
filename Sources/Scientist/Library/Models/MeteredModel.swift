import Foundation
import SQLiteSupport
import Logging

/// A chat model whose every call passes the budget first and is recorded after, with its stage and idea.
public struct MeteredModel: Sendable {
    public let provider: any ChatProvider
    public let ledger: UsageLedger
    public let maxTokens: Int
    public let temperature: Double
    /// The replies a resumed launch already paid for; nil for a fresh launch.
    public let replay: ReplayCache?
    let logger: Logger

    public init(provider: any ChatProvider, ledger: UsageLedger, maxTokens: Int, temperature: Double, logger: Logger,
                replay: ReplayCache? = nil) {
        self.provider = provider
        self.ledger = ledger
        self.maxTokens = maxTokens
        self.temperature = temperature
        self.logger = logger
        self.replay = replay
    }

    /// The same model, metered by the same ledger, sampled at `temperature` (a review ensemble's).
    public func with(temperature: Double) -> MeteredModel {
        MeteredModel(provider: provider, ledger: ledger, maxTokens: maxTokens, temperature: temperature, logger: logger, replay: replay)
    }

    /// One call: refused before sending when it could pass the budget; recorded (even when it fails after the
    /// server answered) with its tokens and cost, and its reply kept for a resumed launch to replay. A request
    /// the resumed launch already paid for is answered from the replay cache, recorded as replayed, at no cost.
    /// Returns the reply and the call's row id.
    public func chat(system: String, messages: [ChatMessage], stage: String, ideaID: Int64? = nil,
                     schema: ReplySchema? = nil) throws(ScientistError) -> (reply: ChatReply, callID: Int64) {
        var request = ChatRequest(system: system, messages: messages, maxTokens: maxTokens, temperature: temperature)
        request.schema = schema
        let digest = request.digest(provider: ledger.provider.rawValue, model: provider.model)
        if let hit = replay?.take(digest, ideaID: ideaID) {
            do {
                let id = try ledger.record(stage: stage, ideaID: ideaID, inputTokens: 0, outputTokens: 0, estimated: false,
                                           startedAt: Date().timeIntervalSince1970, seconds: 0, outcome: StoredCall.replayed(hit.callID))
                return (ChatReply(text: hit.reply, inputTokens: 0, outputTokens: 0, usageReported: true), id)
            } catch { throw .archive(error) }
        }
        do { try ledger.authorize(request, stage: stage) } catch { throw .budget(error) }
        let started = Date().timeIntervalSince1970
        let clock = ContinuousClock.now
        let result = Result { () throws(ModelError) -> ChatReply in try provider.complete(request) }
        let seconds = HTTPClient.seconds(ContinuousClock.now - clock)
        do {
            switch result {
            case let .success(reply):
                let id = try ledger.record(stage: stage, ideaID: ideaID, inputTokens: reply.inputTokens,
                                           outputTokens: reply.outputTokens, estimated: !reply.usageReported,
                                           startedAt: started, seconds: seconds, outcome: "ok")
                try ledger.store.recordReply(callID: id, requestSHA256: digest, reply: reply.text)
                logger.info("model call", metadata: ["stage": "\(stage)", "model": "\(provider.model)",
                                                     "in": "\(reply.inputTokens)", "out": "\(reply.outputTokens)",
                                                     "spent_usd": "\(String(format: "%.4f", ledger.spentUSD))"])
                return (reply, id)
            case let .failure(error):
                // A reply that came back unusable may still have been billed: charge the worst case then.
                let billed = error.mayHaveBeenBilled
                try ledger.record(stage: stage, ideaID: ideaID, inputTokens: billed ? request.estimatedInputTokens : 0,
                                  outputTokens: billed ? request.maxTokens : 0, estimated: true, startedAt: started,
                                  seconds: seconds, outcome: billed ? "no usable reply" : "request failed")
                logger.error("model call failed", metadata: ["stage": "\(stage)", "error": "\(error)"])
                throw ScientistError.model(error)
            }
        } catch let error as ScientistError {
            throw error
        } catch let error as SQLiteError {
            throw .archive(error)
        } catch {
            throw .archive(SQLiteError(operation: "record model call", code: 1, message: "\(error)"))
        }
    }
}
