/// USD per million tokens, in and out.
public struct Price: Sendable, Codable, Equatable {
    public var inputPerMillion: Double
    public var outputPerMillion: Double

    public init(inputPerMillion: Double, outputPerMillion: Double) {
        self.inputPerMillion = inputPerMillion
        self.outputPerMillion = outputPerMillion
    }

    public func cost(input: Int, output: Int) -> Double {
        (Double(input) * inputPerMillion + Double(output) * outputPerMillion) / 1_000_000
    }
}

/// Built-in list prices (USD per million tokens, as published by each provider in 2025; check and override in
/// the config's `[prices]` table). A model matches its exact name, else the longest entry that its name starts
/// with ("claude-sonnet-4-20250514" → "claude-sonnet-4"). Configured prices always win.
public enum PriceTable {
    public static let builtIn: [String: Price] = [
        "gpt-4o": Price(inputPerMillion: 2.5, outputPerMillion: 10),
        "gpt-4o-mini": Price(inputPerMillion: 0.15, outputPerMillion: 0.6),
        "gpt-4.1": Price(inputPerMillion: 2, outputPerMillion: 8),
        "gpt-4.1-mini": Price(inputPerMillion: 0.4, outputPerMillion: 1.6),
        "gpt-4.1-nano": Price(inputPerMillion: 0.1, outputPerMillion: 0.4),
        "o1": Price(inputPerMillion: 15, outputPerMillion: 60),
        "o3": Price(inputPerMillion: 2, outputPerMillion: 8),
        "o3-mini": Price(inputPerMillion: 1.1, outputPerMillion: 4.4),
        "o4-mini": Price(inputPerMillion: 1.1, outputPerMillion: 4.4),
        "claude-3-5-sonnet": Price(inputPerMillion: 3, outputPerMillion: 15),
        "claude-3-7-sonnet": Price(inputPerMillion: 3, outputPerMillion: 15),
        "claude-sonnet-4": Price(inputPerMillion: 3, outputPerMillion: 15),
        "claude-3-5-haiku": Price(inputPerMillion: 0.8, outputPerMillion: 4),
        "claude-opus-4": Price(inputPerMillion: 15, outputPerMillion: 75),
        "deepseek-chat": Price(inputPerMillion: 0.27, outputPerMillion: 1.10),
        "deepseek-reasoner": Price(inputPerMillion: 0.55, outputPerMillion: 2.19),
    ]

    /// The price of `model`: `overrides` (exact name) first, then the built-in table.
    public static func price(for model: String, overrides: [String: Price] = [:]) -> Price? {
        if let price = overrides[model] ?? builtIn[model] { return price }
        let match = builtIn.keys.filter { model.hasPrefix($0 + "-") }.max { $0.count < $1.count }
        return match.flatMap { builtIn[$0] }
    }
}
