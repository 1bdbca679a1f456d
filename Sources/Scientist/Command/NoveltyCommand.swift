import ArgumentParser
import Foundation
import Scientist

struct NoveltyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "novelty",
        abstract: "Check archived ideas for novelty against Semantic Scholar or OpenAlex.",
        discussion: """
        For each idea, up to --rounds rounds: the model writes a query, sees the top results with abstracts, and \
        decides "novel" or "not novel" when sure. The decision, its reasons and every paper consulted are kept \
        (scientist ideas show NAME). Without IDEA arguments, every idea of --template without a verdict is checked.

        Examples:
          scientist novelty --template toy_regression
          scientist novelty sparse_targets 12 --engine openalex --rounds 5
        """)

    @OptionGroup var common: CommonOptions
    @OptionGroup var templates: TemplateOptions

    @Argument(help: "Idea names or ids.")
    var ideas: [String] = []

    @Option(help: ArgumentHelp("Check the ideas of this template (a name or directory).", valueName: "T"))
    var template: String?

    @Option(help: "semanticscholar or openalex (default: config literature.engine).")
    var engine: String?

    @Option(help: "The most rounds per idea (default: config novelty.rounds, 10).")
    var rounds: Int?

    @Flag(help: "Check again ideas that already have a verdict.")
    var recheck = false

    func validate() throws {
        if ideas.isEmpty && template == nil { throw ValidationError("name the ideas to check, or give --template") }
        if let engine, LiteratureEngine(rawValue: engine) == nil { throw ValidationError("--engine must be semanticscholar or openalex") }
        if let rounds, !(1...50).contains(rounds) { throw ValidationError("--rounds must be between 1 and 50") }
    }

    func run() throws {
        try reporting {
            let logger = common.logger()
            var config = try common.resolved()
            if let engine, let kind = LiteratureEngine(rawValue: engine) { config.literature.engine = kind }
            let session = try Session.open(config: config, command: "novelty", logger: logger)
            let targets = try selectIdeas(session.store)
            let literature = try session.literature()
            var templatesByName: [String: ResearchTemplate] = [:]
            for idea in targets {
                let template = try templatesByName[idea.template] ?? templates.load(self.template ?? idea.template)
                templatesByName[idea.template] = template
                let checker = NoveltyChecker(model: session.model, literature: literature, store: session.store, template: template,
                                             rounds: rounds ?? config.noveltyRounds, resultsPerQuery: config.literature.resultsPerQuery,
                                             prompts: try PromptLibrary.load(for: template), logger: logger)
                do throws(ScientistError) {
                    let outcome = try checker.check(idea)
                    print("\(idea.proposal.name): \(outcome.decision.rawValue) after \(outcome.roundsUsed) round(s): \(outcome.reasons)")
                } catch where error.isBudgetStop {
                    session.finish(status: "budget exhausted", message: error.description)
                    print("stopped at \(idea.proposal.name); \(IdeaText.spent(session.model.ledger))")
                    throw BudgetStop(message: error.description)
                } catch {
                    session.finish(status: "failed", message: error.description)
                    throw error
                }
            }
            session.finish(status: "completed", message: nil)
            print("\(targets.count) idea(s) checked; \(IdeaText.spent(session.model.ledger))")
        }
    }

    private func selectIdeas(_ store: ScientistStore) throws -> [ArchivedIdea] {
        if ideas.isEmpty, let template {
            let name = URL(fileURLWithPath: template).lastPathComponent
            return try store.ideas(template: name).filter { recheck || $0.novelty == nil }
        }
        return try ideas.map { reference in
            guard let idea = try IdeaLookup.find(reference, template: template.map { URL(fileURLWithPath: $0).lastPathComponent }, in: store) else {
                throw ScientistError.template("no idea \(reference) in \(store.path)")
            }
            return idea
        }
    }
}
