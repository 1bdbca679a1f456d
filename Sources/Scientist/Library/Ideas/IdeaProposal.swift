import Foundation

/// An idea as the model writes it, in the AI Scientist's JSON shape:
/// `{"Name", "Title", "Experiment", "Interestingness", "Feasibility", "Novelty"}` (scores 1–10).
public struct IdeaProposal: Codable, Sendable, Equatable {
    public var name: String
    public var title: String
    public var experiment: String
    public var interestingness: Int
    public var feasibility: Int
    public var novelty: Int

    enum CodingKeys: String, CodingKey {
        case name = "Name", title = "Title", experiment = "Experiment"
        case interestingness = "Interestingness", feasibility = "Feasibility", novelty = "Novelty"
    }

    /// Decoded strictly (every field, its exact type), with the Name made an identifier: lowercased, every run of
    /// other characters an underscore ("Sparse Targets!" → "sparse_targets"), or, when nothing is left, the
    /// Title's. Names become directory names; a small model's "Abu's MLP" should not cost the idea.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        title = try c.decode(String.self, forKey: .title)
        experiment = try c.decode(String.self, forKey: .experiment)
        interestingness = try c.decode(Int.self, forKey: .interestingness)
        feasibility = try c.decode(Int.self, forKey: .feasibility)
        novelty = try c.decode(Int.self, forKey: .novelty)
        let raw = try c.decode(String.self, forKey: .name)
        let fromName = Self.identifier(raw)
        name = fromName.isEmpty ? Self.identifier(title) : fromName
    }

    /// Lowercase ASCII letters and digits, every other run of characters one underscore, none at either end,
    /// at most 60 characters.
    static func identifier(_ text: String) -> String {
        var out = ""
        var pendingUnderscore = false
        for scalar in text.lowercased().unicodeScalars {
            if scalar.isASCII, CharacterSet.alphanumerics.contains(scalar) {
                if pendingUnderscore && !out.isEmpty { out += "_" }
                pendingUnderscore = false
                out.unicodeScalars.append(scalar)
            } else {
                pendingUnderscore = true
            }
            if out.count >= 60 { break }
        }
        return out
    }

    public init(name: String, title: String, experiment: String, interestingness: Int, feasibility: Int, novelty: Int) {
        self.name = name
        self.title = title
        self.experiment = experiment
        self.interestingness = interestingness
        self.feasibility = feasibility
        self.novelty = novelty
    }
}

extension IdeaProposal: ValidatedReply {
    /// Names are identifiers (lowercase letters, digits, underscores; they become directory names later),
    /// texts are non-empty, scores lie in 1…10.
    public func validationProblems() -> [String] {
        var problems: [String] = []
        if name.isEmpty { problems.append("Name is empty") }
        else if name.count > 80 || !name.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") }) {
            problems.append("Name \"\(name.prefix(80))\" must be lowercase letters, digits and underscores, at most 80 characters")
        }
        if title.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { problems.append("Title is empty") }
        if experiment.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { problems.append("Experiment is empty") }
        for (field, score) in [("Interestingness", interestingness), ("Feasibility", feasibility), ("Novelty", novelty)]
        where !(1...10).contains(score) {
            problems.append("\(field) is \(score), must be 1 to 10")
        }
        return problems
    }
}
