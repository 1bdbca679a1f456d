/// One novelty round's answer: either a search (`Query`) or a verdict (`Decision` with `Reasons`), never both.
public struct NoveltyReply: ValidatedReply, Equatable {
    public var thought: String
    public var query: String?
    public var decision: String?
    public var reasons: String?

    enum CodingKeys: String, CodingKey {
        case thought = "Thought", query = "Query", decision = "Decision", reasons = "Reasons"
    }

    public var verdict: NoveltyDecision? {
        switch decision?.lowercased() {
        case "novel": .novel
        case "not novel": .notNovel
        default: nil
        }
    }

    public func validationProblems() -> [String] {
        var problems: [String] = []
        if thought.isEmpty { problems.append("Thought is empty") }
        switch (query, decision) {
        case (nil, nil): problems.append("give either Query (to search) or Decision (to decide)")
        case (.some, .some): problems.append("give Query or Decision, not both")
        case let (query?, nil):
            if query.isEmpty || query.count > 300 { problems.append("Query must be 1 to 300 characters") }
        case (nil, .some):
            if verdict == nil { problems.append("Decision must be \"novel\" or \"not novel\"") }
            if (reasons ?? "").isEmpty { problems.append("Reasons must explain the Decision") }
        }
        return problems
    }
}
