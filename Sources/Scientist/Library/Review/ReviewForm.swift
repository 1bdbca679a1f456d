import Foundation

/// One review in the NeurIPS form, as the AI Scientist's reviewer writes it: text fields, lists, scores with
/// exact ranges (1–4 for the sub-scores, 1–10 overall, 1–5 confidence), an ethics flag and a decision. The
/// model's reasoning comes in Thought, where "I am done" ends the reflection rounds.
public struct ReviewForm: ValidatedReply, Codable, Equatable {
    public var thought: String
    public var summary: String
    public var strengths: [String]
    public var weaknesses: [String]
    public var originality: Int
    public var quality: Int
    public var clarity: Int
    public var significance: Int
    public var questions: [String]
    public var limitations: [String]
    public var ethicalConcerns: Bool
    public var soundness: Int
    public var presentation: Int
    public var contribution: Int
    public var overall: Int
    public var confidence: Int
    public var decision: String

    enum CodingKeys: String, CodingKey {
        case thought = "Thought", summary = "Summary", strengths = "Strengths", weaknesses = "Weaknesses"
        case originality = "Originality", quality = "Quality", clarity = "Clarity", significance = "Significance"
        case questions = "Questions", limitations = "Limitations", ethicalConcerns = "Ethical Concerns"
        case soundness = "Soundness", presentation = "Presentation", contribution = "Contribution"
        case overall = "Overall", confidence = "Confidence", decision = "Decision"
    }

    /// The scores and their ranges, by the form's names.
    public static var scoreRanges: [(name: String, key: WritableKeyPath<ReviewForm, Int>, range: ClosedRange<Int>)] { [
        ("Originality", \.originality, 1...4), ("Quality", \.quality, 1...4), ("Clarity", \.clarity, 1...4),
        ("Significance", \.significance, 1...4), ("Soundness", \.soundness, 1...4), ("Presentation", \.presentation, 1...4),
        ("Contribution", \.contribution, 1...4), ("Overall", \.overall, 1...10), ("Confidence", \.confidence, 1...5),
    ] }

    public func validationProblems() -> [String] {
        var problems: [String] = []
        if summary.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { problems.append("Summary is empty") }
        for (name, key, range) in Self.scoreRanges where !range.contains(self[keyPath: key]) {
            problems.append("\(name) must be an integer from \(range.lowerBound) to \(range.upperBound), not \(self[keyPath: key])")
        }
        if decision != "Accept" && decision != "Reject" { problems.append("Decision must be \"Accept\" or \"Reject\", not \"\(decision)\"") }
        if weaknesses.isEmpty { problems.append("Weaknesses must name at least one weakness") }
        return problems
    }

    /// The reviews' scores averaged and rounded, as the AI Scientist does for an ensemble, into `self`.
    public func withAveragedScores(of reviews: [ReviewForm]) -> ReviewForm {
        guard !reviews.isEmpty else { return self }
        var averaged = self
        for (_, key, _) in Self.scoreRanges {
            let mean = Double(reviews.map { $0[keyPath: key] }.reduce(0, +)) / Double(reviews.count)
            averaged[keyPath: key] = Int(mean.rounded())
        }
        return averaged
    }

    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    public static let replySchema: ReplySchema? = {
        func score(_ range: ClosedRange<Int>) -> String { "{\"type\": \"integer\", \"enum\": [\(range.map(String.init).joined(separator: ", "))]}" }
        let list = "{\"type\": \"array\", \"items\": {\"type\": \"string\"}}"
        return ReplySchema(name: "review", json: """
            {"type": "object", "additionalProperties": false,
             "required": ["Thought", "Summary", "Strengths", "Weaknesses", "Originality", "Quality", "Clarity", "Significance", "Questions",
                          "Limitations", "Ethical Concerns", "Soundness", "Presentation", "Contribution", "Overall", "Confidence", "Decision"],
             "properties": {
               "Thought": {"type": "string", "description": "your reasoning; write I am done here when the review needs no more changes"},
               "Summary": {"type": "string"}, "Strengths": \(list), "Weaknesses": \(list),
               "Originality": \(score(1...4)), "Quality": \(score(1...4)), "Clarity": \(score(1...4)), "Significance": \(score(1...4)),
               "Questions": \(list), "Limitations": \(list), "Ethical Concerns": {"type": "boolean"},
               "Soundness": \(score(1...4)), "Presentation": \(score(1...4)), "Contribution": \(score(1...4)),
               "Overall": \(score(1...10)), "Confidence": \(score(1...5)), "Decision": {"type": "string", "enum": ["Accept", "Reject"]}}}
            """)
    }()
}
