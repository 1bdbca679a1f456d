import Foundation
import Scientist

enum JSONOutput {
    static func print<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        Swift.print(String(decoding: data, as: UTF8.self))
    }
}

/// Human-readable text for ideas and usage.
enum IdeaText {
    static func line(_ outcome: IdeaGenerationReport.Outcome) -> String {
        switch outcome {
        case let .archived(idea):
            let p = idea.proposal
            return "archived \(idea.template)/\(p.name) (I\(p.interestingness) F\(p.feasibility) N\(p.novelty), \(idea.reflections) reflection(s), \(cost(idea.costUSD))): \(p.title)"
        case let .rejectedDuplicate(name, reason): return "rejected \(name): duplicate: \(reason)"
        case let .failed(message): return "failed: \(message)"
        }
    }

    static func spent(_ ledger: UsageLedger) -> String {
        let limit = ledger.budget.usd.map { String(format: " of $%.2f", $0) } ?? ""
        let tokenLimit = ledger.budget.tokens.map { " of \($0)" } ?? ""
        let usd = ledger.price == nil ? "cost unknown (no price for \(ledger.model))" : String(format: "$%.4f", ledger.spentUSD) + limit
        return "spent \(usd), \(ledger.spentTokens)\(tokenLimit) tokens"
    }

    static func cost(_ usd: Double?) -> String {
        usd.map { String(format: "$%.4f", $0) } ?? "cost unknown"
    }

    static func table(_ ideas: [ArchivedIdea]) -> String {
        guard !ideas.isEmpty else { return "no ideas" }
        var rows = [["ID", "TEMPLATE", "NAME", "I", "F", "N", "NOVELTY", "COST", "TITLE"]]
        for idea in ideas {
            let p = idea.proposal
            rows.append(["\(idea.id)", idea.template, p.name, "\(p.interestingness)", "\(p.feasibility)", "\(p.novelty)",
                         idea.novelty?.rawValue ?? (idea.source == .seed ? "seed" : "-"),
                         idea.source == .seed && idea.costUSD == 0 ? "-" : cost(idea.costUSD), p.title])
        }
        return columns(rows)
    }

    static func detail(_ idea: ArchivedIdea, checks: [NoveltyCheckRecord]) -> String {
        let p = idea.proposal
        var text = """
        \(idea.template)/\(p.name) (id \(idea.id), \(idea.source.rawValue))
        Title: \(p.title)
        Scores: interestingness \(p.interestingness), feasibility \(p.feasibility), novelty \(p.novelty)
        Novelty verdict: \(idea.novelty?.rawValue ?? "not checked")
        Cost: \(cost(idea.costUSD)), \(idea.inputTokens) tokens in, \(idea.outputTokens) out
        Experiment:
        \(p.experiment)
        """
        for check in checks {
            text += "\n\nNovelty check \(check.id) (\(check.engine)): \(check.decision?.rawValue ?? "unfinished")"
            if let reasons = check.reasons { text += "\n  Reasons: \(reasons)" }
            for round in check.rounds {
                text += "\n  Round \(round.round): " + (round.query.map { "query \"\($0)\"" } ?? "decided")
                for (index, paper) in round.papers.enumerated() {
                    let year = paper.year.map { " (\($0))" } ?? ""
                    text += "\n    \(index + 1). \(paper.title)\(year)"
                }
            }
        }
        return text
    }

    /// An idea's papers and their reviews, for `ideas show`.
    static func papers(_ papers: [PaperRow], reviews: [ReviewRow]) -> String {
        var text = ""
        for paper in papers {
            text += "\n\nPaper \(paper.id): \(paper.status)" + (paper.pdf.map { " (\($0))" } ?? "") + (paper.message.map { "\n  \($0.replacingOccurrences(of: "\n", with: "\n  "))" } ?? "")
        }
        for review in reviews {
            text += "\n\n" + ReviewText.detail(review)
        }
        return text
    }

    static func usage(_ totals: [UsageTotal]) -> String {
        guard !totals.isEmpty else { return "  no model calls" }
        var rows = [["", "CALLS", "TOKENS IN", "TOKENS OUT", "COST"]]
        for total in totals {
            let unpriced = total.unpricedCalls > 0 ? " + \(total.unpricedCalls) unpriced" : ""
            rows.append([total.key, "\(total.calls)", "\(total.inputTokens)", "\(total.outputTokens)", String(format: "$%.4f", total.costUSD) + unpriced])
        }
        return columns(rows).split(separator: "\n").map { "  " + $0 }.joined(separator: "\n")
    }

    static func columns(_ rows: [[String]]) -> String {
        let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}

/// Lines to standard output written at once, unbuffered, so they stay in order with the runs' output, which
/// the scientist writes to the same descriptor directly.
enum Console {
    static func line(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }
}

enum ReviewText {
    /// A review as text: the decision and scores, the summary, strengths, weaknesses, questions, the compute
    /// flag, and its cost.
    static func detail(_ row: ReviewRow) -> String {
        let r = row.review
        var lines = ["Review \(row.id) of \(row.source) by \(row.model): \(r.decision), overall \(r.overall)/10, confidence \(r.confidence)/5",
                     "  Originality \(r.originality), quality \(r.quality), clarity \(r.clarity), significance \(r.significance); soundness \(r.soundness), presentation \(r.presentation), contribution \(r.contribution) (each of 4)",
                     "  \(row.ensemble.count) review(s) in the ensemble, \(row.reflections) reflection round(s); \(IdeaText.cost(row.costUSD)), \(row.inputTokens) tokens in, \(row.outputTokens) out",
                     "  Summary: \(r.summary)"]
        lines += r.strengths.map { "  + \($0)" }
        lines += r.weaknesses.map { "  - \($0)" }
        lines += r.questions.map { "  ? \($0)" }
        if r.ethicalConcerns { lines.append("  Ethical concerns: yes") }
        if let flag = row.computeFlag { lines.append("  Compute flag: \(flag)") }
        lines += row.failures.map { "  (\($0))" }
        return lines.joined(separator: "\n")
    }
}
