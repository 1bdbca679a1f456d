import Foundation

/// The most one launch may spend. Either limit may be absent; with neither, nothing is refused.
public struct Budget: Sendable, Equatable, Codable {
    public var usd: Double?
    public var tokens: Int?

    public init(usd: Double? = nil, tokens: Int? = nil) {
        self.usd = usd
        self.tokens = tokens
    }

    public static let unlimited = Budget()
}

/// A call refused because it could exceed the budget, or a budget that cannot be enforced.
public enum BudgetError: Error, Sendable, CustomStringConvertible, Equatable {
    case wouldExceedUSD(stage: String, worstCase: Double, remaining: Double, limit: Double)
    case wouldExceedTokens(stage: String, worstCase: Int, remaining: Int, limit: Int)
    /// A USD budget with a model whose price is unknown.
    case unpricedModel(model: String)

    public var description: String {
        switch self {
        case let .wouldExceedUSD(stage, worst, remaining, limit):
            return "budget: the next \(stage) call could cost up to \(Self.usd(worst)), but only \(Self.usd(remaining)) of the \(Self.usd(limit)) budget is left; stopping before it"
        case let .wouldExceedTokens(stage, worst, remaining, limit):
            return "budget: the next \(stage) call could use up to \(worst) tokens, but only \(remaining) of the \(limit)-token budget are left; stopping before it"
        case let .unpricedModel(model):
            return "no price is known for model \(model), so a USD budget cannot be enforced: add [prices.\"\(model)\"] with input and output (USD per million tokens) to the config, or give only a token budget"
        }
    }

    static func usd(_ value: Double) -> String { String(format: "$%.4f", value) }
}
