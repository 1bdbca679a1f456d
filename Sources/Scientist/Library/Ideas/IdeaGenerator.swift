import Foundation
import Logging
import SQLiteSupport

/// What happened to the ideas of one `scientist ideas` run.
public struct IdeaGenerationReport: Sendable {
    public enum Outcome: Sendable {
        case archived(ArchivedIdea)
        case rejectedDuplicate(name: String, reason: String)
        case failed(String)
    }
    public var outcomes: [Outcome] = []
    /// Set when the budget ended the run early: the message says what was refused.
    public var stoppedByBudget: String?

    public var archived: [ArchivedIdea] {
        outcomes.compactMap { if case let .archived(idea) = $0 { idea } else { nil } }
    }
}

/// Generates ideas as the AI Scientist does — a first draft from the template's prompt, code and the ideas
/// already archived (seeds included), refined over reflection rounds until the model says "I am done" — and
/// archives each one that is not a duplicate as soon as it is final. The budget can stop the run between any
/// two calls; what was archived stays, and a draft that had reached valid JSON before the stop is kept too.
public struct IdeaGenerator: Sendable {
    public let model: MeteredModel
    public let store: ScientistStore
    public let template: ResearchTemplate
    public let reflections: Int
    public let prompts: PromptLibrary
    let logger: Logger

    public init(model: MeteredModel, store: ScientistStore, template: ResearchTemplate, reflections: Int,
                prompts: PromptLibrary = PromptLibrary(), logger: Logger) {
        self.model = model
        self.store = store
        self.template = template
        self.reflections = reflections
        self.prompts = prompts
        self.logger = logger
    }

    /// Adds the template's seed ideas to the archive once (as source "seed"), so they count as previous ideas.
    public func importSeeds() throws(ScientistError) {
        do {
            let known = Set(try store.ideas(template: template.name).map(\.proposal.name))
            for seed in template.seedIdeas where !known.contains(seed.name) {
                try store.insertIdea(seed, template: template.name, source: .seed, launchID: nil, reflections: 0)
            }
        } catch {
            throw .archive(error)
        }
    }

    /// Generates up to `count` ideas; `progress` hears about each as it is settled.
    public func generate(count: Int, progress: (IdeaGenerationReport.Outcome) -> Void = { _ in }) throws(ScientistError) -> IdeaGenerationReport {
        try importSeeds()
        var report = IdeaGenerationReport()
        for index in 1...max(count, 1) where count > 0 {
            let outcome: IdeaGenerationReport.Outcome
            var budgetStop: BudgetError?
            do {
                (outcome, budgetStop) = try generateOne()
            } catch {
                if error.isBudgetStop {
                    report.stoppedByBudget = error.description
                    break
                }
                if error.isArchiveFailure { throw error }
                logger.info("idea failed", metadata: ["index": "\(index)", "error": "\(error)"])
                outcome = .failed(error.description)
            }
            report.outcomes.append(outcome)
            progress(outcome)
            if let budgetStop {
                report.stoppedByBudget = budgetStop.description
                break
            }
        }
        return report
    }

    private func archiveProposals() throws(ScientistError) -> [IdeaProposal] {
        do { return try store.ideas(template: template.name).map(\.proposal) } catch { throw .archive(error) }
    }

    /// One idea: draft, reflect, dedupe, archive. A budget stop after a valid draft settles that draft and is
    /// returned beside it, so the caller reports both and stops.
    private func generateOne() throws(ScientistError) -> (IdeaGenerationReport.Outcome, BudgetError?) {
        let archive = try archiveProposals()
        let first = IdeaPrompts.first(prompts, template: template, archive: archive, reflections: reflections + 1)
        var answer = try model.ask(IdeaProposal.self, system: template.system, messages: [ChatMessage(.user, first)], stage: "ideas")
        var callIDs = answer.callIDs
        var rounds = 0
        var budgetStop: BudgetError?
        if !IdeaPrompts.isDone(answer.text) {
            for round in stride(from: 2, through: reflections + 1, by: 1) {
                let messages = answer.messages + [ChatMessage(.user, IdeaPrompts.reflection(prompts, round: round, of: reflections + 1))]
                do {
                    answer = try model.ask(IdeaProposal.self, system: template.system, messages: messages, stage: "ideas")
                } catch {
                    // Keep the last valid version; a budget stop is passed on after it is settled.
                    if error.isBudgetStop, case let .budget(reason) = error { budgetStop = reason }
                    logger.warning("reflection stopped; keeping the previous version",
                                   metadata: ["round": "\(round)", "error": "\(error)"])
                    break
                }
                callIDs += answer.callIDs
                rounds += 1
                if IdeaPrompts.isDone(answer.text) { break }
            }
        }
        let outcome = try settle(answer.value, archive: archive, reflections: rounds, callIDs: callIDs)
        return (outcome, budgetStop)
    }

    /// Rejects a duplicate, or archives the idea and attributes its calls to it.
    private func settle(_ idea: IdeaProposal, archive: [IdeaProposal], reflections: Int, callIDs: [Int64]) throws(ScientistError) -> IdeaGenerationReport.Outcome {
        if let reason = IdeaDeduplicator.duplicate(idea, among: archive) {
            logger.info("duplicate idea rejected", metadata: ["name": "\(idea.name)", "reason": "\(reason)"])
            return .rejectedDuplicate(name: idea.name, reason: reason)
        }
        do throws(SQLiteError) {
            let id = try store.insertIdea(idea, template: template.name, source: .generated, launchID: model.ledger.launchID,
                                          reflections: reflections)
            try store.assignCalls(callIDs, toIdea: id)
            guard let archived = try store.idea(id: id) else {
                throw SQLiteError(operation: "read idea \(id)", code: 12, message: "the idea just inserted is missing", path: store.path)
            }
            return .archived(archived)
        } catch {
            throw .archive(error)
        }
    }
}
