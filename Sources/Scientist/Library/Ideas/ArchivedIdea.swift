/// An idea in the archive, with where it came from, its novelty verdict and what it has cost so far.
public struct ArchivedIdea: Codable, Sendable, Equatable {
    public enum Source: String, Codable, Sendable { case seed, generated }

    public var id: Int64
    public var template: String
    public var proposal: IdeaProposal
    public var source: Source
    public var launchID: Int64?
    /// Reflection rounds completed after the first draft.
    public var reflections: Int
    /// Seconds since the epoch.
    public var createdAt: Double
    /// The latest novelty verdict, nil before any check.
    public var novelty: NoveltyDecision?
    /// USD of every model call attributed to this idea (nil when a model without a price was used).
    public var costUSD: Double?
    public var inputTokens: Int
    public var outputTokens: Int
}

/// The outcome of a novelty check.
public enum NoveltyDecision: String, Codable, Sendable, Equatable {
    case novel
    case notNovel = "not novel"
    /// The rounds ran out without a decision.
    case undecided
    /// The check could not finish (model or literature errors, budget).
    case failed
}
