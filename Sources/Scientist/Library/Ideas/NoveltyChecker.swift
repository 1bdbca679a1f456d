import Foundation
import Logging
import SQLiteSupport

/// The AI Scientist's novelty check: up to `rounds` rounds in which the model either writes a literature query
/// (and sees the top results with abstracts next round) or decides "novel" / "not novel" with its reasons.
/// Every round, query and paper shown is stored with the check, and the idea gets the verdict. Running out of
/// rounds is "undecided"; a model or literature failure is "failed" with the error as the reason; a budget stop
/// is stored as "failed" too and then passed on, so the caller stops.
public struct NoveltyChecker: Sendable {
    public let model: MeteredModel
    public let literature: any LiteratureSearch
    public let store: ScientistStore
    public let template: ResearchTemplate
    public let rounds: Int
    public let resultsPerQuery: Int
    public let prompts: PromptLibrary
    let logger: Logger

    public init(model: MeteredModel, literature: any LiteratureSearch, store: ScientistStore, template: ResearchTemplate,
                rounds: Int, resultsPerQuery: Int, prompts: PromptLibrary = PromptLibrary(), logger: Logger) {
        self.model = model
        self.literature = literature
        self.store = store
        self.template = template
        self.rounds = rounds
        self.resultsPerQuery = resultsPerQuery
        self.prompts = prompts
        self.logger = logger
    }

    public struct Outcome: Sendable {
        public var decision: NoveltyDecision
        public var reasons: String
        public var roundsUsed: Int
        public var checkID: Int64
    }

    /// Checks one archived idea. Throws only for archive failures and budget stops (after recording them).
    public func check(_ idea: ArchivedIdea) throws(ScientistError) -> Outcome {
        let checkID: Int64
        do { checkID = try store.beginNoveltyCheck(ideaID: idea.id, launchID: model.ledger.launchID, engine: literature.engine) }
        catch { throw .archive(error) }
        var messages: [ChatMessage] = []
        var lastResults = ""
        for round in 1...rounds {
            messages.append(ChatMessage(.user, NoveltyPrompts.round(prompts, round, of: rounds, idea: idea.proposal, results: lastResults)))
            let answer: (value: NoveltyReply, text: String, messages: [ChatMessage], callIDs: [Int64])
            do {
                answer = try model.ask(NoveltyReply.self, system: NoveltyPrompts.system(prompts, template: template, engine: literature.engine,
                                                                                       rounds: rounds, results: resultsPerQuery),
                                       messages: messages, stage: "novelty", ideaID: idea.id)
            } catch {
                try finish(checkID, idea, .failed, "round \(round): \(error)", rounds: round - 1)
                if error.isBudgetStop || error.isArchiveFailure { throw error }
                return Outcome(decision: .failed, reasons: error.description, roundsUsed: round - 1, checkID: checkID)
            }
            messages = answer.messages
            let reply = answer.value
            if let verdict = reply.verdict {
                try record(checkID, round, reply.thought, nil, [])
                let reasons = reply.reasons ?? reply.thought
                try finish(checkID, idea, verdict, reasons, rounds: round)
                return Outcome(decision: verdict, reasons: reasons, roundsUsed: round, checkID: checkID)
            }
            let query = reply.query ?? ""
            let result: SearchResult
            do {
                result = try literature.search(query, limit: resultsPerQuery)
            } catch {
                try record(checkID, round, reply.thought, query, [])
                try finish(checkID, idea, .failed, error.description, rounds: round)
                return Outcome(decision: .failed, reasons: error.description, roundsUsed: round, checkID: checkID)
            }
            try record(checkID, round, reply.thought, query, result.papers)
            lastResults = NoveltyPrompts.format(result.papers)
            logger.info("novelty query", metadata: ["idea": "\(idea.proposal.name)", "round": "\(round)", "query": "\(query)",
                                                    "papers": "\(result.papers.count)", "cached": "\(result.cached)"])
        }
        let reasons = "no decision after \(rounds) rounds"
        try finish(checkID, idea, .undecided, reasons, rounds: rounds)
        return Outcome(decision: .undecided, reasons: reasons, roundsUsed: rounds, checkID: checkID)
    }

    private func record(_ checkID: Int64, _ round: Int, _ thought: String, _ query: String?, _ papers: [Paper]) throws(ScientistError) {
        do { try store.addNoveltyRound(checkID: checkID, round: round, thought: thought, query: query, papers: papers) }
        catch { throw .archive(error) }
    }

    private func finish(_ checkID: Int64, _ idea: ArchivedIdea, _ decision: NoveltyDecision, _ reasons: String, rounds: Int) throws(ScientistError) {
        do { try store.finishNoveltyCheck(checkID, ideaID: idea.id, decision: decision, reasons: reasons, rounds: rounds) }
        catch { throw .archive(error) }
    }
}

/// The novelty prompts, after the AI Scientist's, with a JSON reply that carries the decision explicitly.
enum NoveltyPrompts {
    static func system(_ prompts: PromptLibrary, template: ResearchTemplate, engine: String, rounds: Int, results: Int) -> String {
        prompts.render("novelty_system", ["task": template.taskDescription, "code": template.code, "engine": engine,
                                          "results_per_query": "\(results)", "rounds": "\(rounds)"])
    }

    static func round(_ prompts: PromptLibrary, _ round: Int, of rounds: Int, idea: IdeaProposal, results: String) -> String {
        prompts.render("novelty_round", ["round": "\(round)", "rounds": "\(rounds)", "idea": IdeaPrompts.archiveText([idea]),
                                         "results": results])
    }

    /// Results as the model sees them: numbered, with authors, venue, year, citations and abstract.
    static func format(_ papers: [Paper]) -> String {
        guard !papers.isEmpty else { return "No papers found." }
        return papers.enumerated().map { index, paper in
            let authors = paper.authors.count > 3 ? paper.authors.prefix(3).joined(separator: ", ") + " et al." : paper.authors.joined(separator: ", ")
            let venue = [paper.venue, paper.year.map(String.init)].compactMap { $0 }.joined(separator: ", ")
            return """
            \(index + 1): \(paper.title). \(authors). \(venue).
            Number of citations: \(paper.citationCount.map(String.init) ?? "unknown")
            Abstract: \(paper.abstract ?? "(none)")
            """
        }.joined(separator: "\n\n")
    }
}
