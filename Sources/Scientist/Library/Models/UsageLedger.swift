import Foundation
import SQLiteSupport
import Synchronization

/// Counts a launch's spending and refuses any call whose worst case could pass the budget.
///
/// Before a call, `authorize` charges the worst case: the prompt's estimated tokens plus the full `max_tokens`
/// of output at the model's price. After the call, `record` stores the actual usage (or, when the reply came
/// back but could not be used and carries no usage, the estimate) in the archive and adds it to the totals.
public final class UsageLedger: Sendable {
    public let budget: Budget
    public let price: Price?
    public let provider: ProviderKind
    public let model: String
    public let launchID: Int64?
    let store: ScientistStore

    private struct Totals {
        var usd = 0.0
        var tokens = 0
    }
    private let totals = Mutex(Totals())

    public init(budget: Budget, price: Price?, provider: ProviderKind, model: String, launchID: Int64?,
                store: ScientistStore) throws(BudgetError) {
        if budget.usd != nil && price == nil { throw .unpricedModel(model: model) }
        self.budget = budget
        self.price = price
        self.provider = provider
        self.model = model
        self.launchID = launchID
        self.store = store
    }

    public var spentUSD: Double { totals.withLock { $0.usd } }
    public var spentTokens: Int { totals.withLock { $0.tokens } }

    /// Throws when the worst case of `request` could exceed what is left of either limit.
    public func authorize(_ request: ChatRequest, stage: String) throws(BudgetError) {
        let input = request.estimatedInputTokens
        let spent = totals.withLock { $0 }
        if let limit = budget.tokens {
            let worst = input + request.maxTokens
            if spent.tokens + worst > limit {
                throw .wouldExceedTokens(stage: stage, worstCase: worst, remaining: max(0, limit - spent.tokens), limit: limit)
            }
        }
        if let limit = budget.usd, let price {
            let worst = price.cost(input: input, output: request.maxTokens)
            if spent.usd + worst > limit {
                throw .wouldExceedUSD(stage: stage, worstCase: worst, remaining: max(0, limit - spent.usd), limit: limit)
            }
        }
    }

    /// Adds a finished call to the totals and the archive; returns its row id.
    @discardableResult
    public func record(stage: String, ideaID: Int64?, inputTokens: Int, outputTokens: Int, estimated: Bool,
                       startedAt: Double, seconds: Double, outcome: String) throws(SQLiteError) -> Int64 {
        let cost = price?.cost(input: inputTokens, output: outputTokens)
        totals.withLock {
            $0.usd += cost ?? 0
            $0.tokens += inputTokens + outputTokens
        }
        return try store.recordCall(CallRecord(
            launchID: launchID, stage: stage, ideaID: ideaID, provider: provider.rawValue, model: model,
            inputTokens: inputTokens, outputTokens: outputTokens, costUSD: cost, usageEstimated: estimated,
            startedAt: startedAt, seconds: seconds, outcome: outcome))
    }
}
