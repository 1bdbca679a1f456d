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
