import ArgumentParser
import Foundation
import Scientist

struct IdeasCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ideas",
        abstract: "Generate ideas from a template, or list and show the archive.",
        subcommands: [Generate.self, List.self, Show.self],
        defaultSubcommand: Generate.self
    )

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Generate new ideas: drafted from the template's prompt, code, seed ideas and the archive, refined over reflection rounds, duplicates rejected.",
            discussion: "Example: scientist ideas --template toy_regression --count 3 --budget-usd 1")

        @OptionGroup var common: CommonOptions
        @OptionGroup var templates: TemplateOptions

        @Option(help: ArgumentHelp("A template directory, or a template name (see --templates-dir).", valueName: "T"))
        var template: String

        @Option(help: "How many ideas to generate.")
        var count = 1

        @Option(help: "Reflection rounds after the first draft (default: config ideas.reflections, 3).")
        var reflections: Int?

        func validate() throws {
            guard (1...100).contains(count) else { throw ValidationError("--count must be between 1 and 100") }
            if let reflections, !(0...20).contains(reflections) { throw ValidationError("--reflections must be between 0 and 20") }
        }

        func run() throws {
            try reporting {
                let logger = common.logger()
                let config = try common.resolved()
                let template = try templates.load(self.template)
                let session = try Session.open(config: config, command: "ideas --template \(template.name) --count \(count)", logger: logger)
                let generator = IdeaGenerator(model: session.model, store: session.store, template: template,
                                              reflections: reflections ?? config.reflections, prompts: try PromptLibrary.load(for: template),
                                              logger: logger)
                let report: IdeaGenerationReport
                do throws(ScientistError) {
                    report = try generator.generate(count: count) { outcome in print(IdeaText.line(outcome)) }
                } catch {
                    session.finish(status: "failed", message: error.description)
                    throw error
                }
                let spent = IdeaText.spent(session.model.ledger)
                if let stop = report.stoppedByBudget {
                    session.finish(status: "budget exhausted", message: stop)
                    print("stopped: \(stop)\n\(report.archived.count) idea(s) archived; \(spent)")
                    throw BudgetStop(message: stop)
                }
                print("\(report.archived.count) of \(count) idea(s) archived; \(spent)")
                let failures = report.outcomes.compactMap { if case let .failed(message) = $0 { message } else { nil } }
                if failures.count == report.outcomes.count, let last = failures.last {
                    session.finish(status: "failed", message: last)
                    throw ExitCode.failure
                }
                session.finish(status: "completed", message: nil)
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List archived ideas with scores, novelty verdicts and cost.")

        @OptionGroup var common: CommonOptions

        @Option(help: "Only ideas of this template.")
        var template: String?

        @Flag(help: "Print JSON instead of text.")
        var json = false

        func run() throws {
            try reporting {
                let ideas = try common.store().ideas(template: template)
                if json { return try JSONOutput.print(ideas) }
                print(IdeaText.table(ideas))
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one idea: its plan, scores, cost, and every novelty check with the papers consulted.")

        @OptionGroup var common: CommonOptions

        @Argument(help: "The idea's name or id.")
        var idea: String

        @Option(help: "The template, when several have an idea of this name.")
        var template: String?

        @Flag(help: "Print JSON instead of text.")
        var json = false

        func run() throws {
            try reporting {
                let store = try common.store()
                guard let found = try IdeaLookup.find(idea, template: template, in: store) else {
                    throw ScientistError.template("no idea \(idea) in \(store.path)")
                }
                let checks = try store.noveltyChecks(ideaID: found.id)
                let papers = try store.papers(ideaID: found.id)
                let reviews = try store.reviews(ideaID: found.id)
                if json { return try JSONOutput.print(IdeaDetail(idea: found, noveltyChecks: checks, papers: papers, reviews: reviews)) }
                print(IdeaText.detail(found, checks: checks) + IdeaText.papers(papers, reviews: reviews))
            }
        }
    }
}

struct IdeaDetail: Encodable {
    let idea: ArchivedIdea
    let noveltyChecks: [NoveltyCheckRecord]
    let papers: [PaperRow]
    let reviews: [ReviewRow]
}

enum IdeaLookup {
    static func find(_ reference: String, template: String?, in store: ScientistStore) throws -> ArchivedIdea? {
        if let id = Int64(reference) { return try store.idea(id: id) }
        return try store.idea(named: reference, template: template)
    }
}
