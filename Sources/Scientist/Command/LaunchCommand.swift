import ArgumentParser
import Foundation
import Logging
import Scientist
#if canImport(Glibc)
import Glibc
#endif

struct LaunchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "launch",
        abstract: "The pipeline in one launch: new ideas, novelty checks, experiments for the novel ones, their papers and reviews.",
        discussion: """
        Generates --ideas new ideas from the template (as scientist ideas), checks each for novelty (as scientist \
        novelty), runs the experiments and plots of those judged novel (as scientist experiment), and writes the \
        paper of each whose experiments completed (as scientist writeup; --no-writeup skips it) and reviews it \
        (as scientist review; --no-review skips it), up to --parallel ideas at once. Every run, LaTeX and \
        pdftotext included, goes through gloveboxd under the template's policy (or the latex and poppler \
        policies), which is checked before anything is spent; GPUs are leased by gloveboxd's queue, never \
        counted here. Workspaces are <results>/launch<N>_<idea>.

        The budget (--budget-usd, --budget-tokens) covers this run of the launch; when it runs out, every stage \
        stops before its next model call and everything finished is kept. Ctrl-C cancels the runs in flight. \
        scientist launch --resume N goes on with launch N as it was planned: what finished is kept, and the \
        replies already paid for are replayed at no cost.

        Exit status: 0 everything asked for finished (a paper that did not compile counts as finished); 1 every \
        novel idea's experiments failed, something was left unfinished (the resume command is printed), or the \
        launch could not start; 3 stopped by the budget; 130 interrupted.

        Examples:
          scientist launch --template toy_regression --ideas 3 --budget-usd 5
          scientist launch --template modular_arithmetic --ideas 4 --parallel 2 \\
            --base-url http://127.0.0.1:8080/v1 --model local --budget-tokens 2000000
        """)

    @OptionGroup var common: CommonOptions
    @OptionGroup var templates: TemplateOptions

    @Option(help: ArgumentHelp("A template directory, or a template name (see --templates-dir).", valueName: "T"))
    var template: String?

    @Option(help: ArgumentHelp("Go on with launch N from the last finished step of every idea, with the options it was started with.", valueName: "N"))
    var resume: Int64?

    @Option(help: "How many new ideas to generate.")
    var ideas = 2

    @Option(help: "How many ideas' experiments run at once.")
    var parallel = 1

    @OptionGroup var experiments: ExperimentOptions

    @Option(help: "semanticscholar or openalex (default: config literature.engine).")
    var engine: String?

    @OptionGroup var writeup: WriteupOptions

    @Flag(help: "Stop after the experiments: write no paper.")
    var noWriteup = false

    @OptionGroup var review: ReviewOptions

    @Flag(help: "Write the papers but do not review them.")
    var noReview = false

    func validate() throws {
        if !(1...100).contains(ideas) { throw ValidationError("--ideas must be between 1 and 100") }
        if !(1...32).contains(parallel) { throw ValidationError("--parallel must be between 1 and 32") }
        if let engine, LiteratureEngine(rawValue: engine) == nil { throw ValidationError("--engine must be semanticscholar or openalex") }
        if template == nil && resume == nil { throw ValidationError("give --template T for a new launch, or --resume N to go on with one") }
        if template != nil && resume != nil { throw ValidationError("--resume goes on with the launch's own template and options; give no --template") }
    }

    func run() throws {
        try reporting {
            let logger = common.logger()
            let config = try common.resolved()
            if let resume {
                // The launch's own options, as it was started with them; the model, budget and archive flags are this run's.
                let store = try common.store()
                guard let text = try store.launchPlan(launchID: resume),
                      let arguments = try? JSONDecoder().decode([String].self, from: Data(text.utf8)) else {
                    throw ScientistError.template("launch \(resume) in \(store.path) is not a scientist launch that can be resumed (it has no plan)")
                }
                var planned = try LaunchCommand.parse(arguments)
                planned.common = common
                try planned.launch(config: config, logger: logger, resuming: resume, arguments: arguments)
            } else {
                try launch(config: config, logger: logger, resuming: nil, arguments: Array(CommandLine.arguments.drop { $0 != "launch" }.dropFirst()))
            }
        }
    }

    /// What the launch left undone: ideas not generated, novelty checks that failed, experiments, papers or
    /// reviews that did not finish.
    static func unfinished(_ report: LaunchPipeline.Report, asked: Int) -> [String] {
        var undone: [String] = []
        if report.generated < asked { undone.append("\(report.generated) of \(asked) idea(s) generated") }
        for result in report.results {
            let name = result.idea.proposal.name
            if result.novelty == nil || result.novelty == .failed { undone.append("\(name): novelty not decided") }
            if result.novelty == .novel && !result.succeeded { undone.append("\(name): experiments \(result.experiment)") }
            // A paper that ran to its end, even "not compiled", is a result: a resume would only write it again.
            if let paper = result.paper, LaunchPipeline.stoppedShort(paper) { undone.append("\(name): paper \(paper)") }
            if let review = result.review, LaunchPipeline.stoppedShort(review) { undone.append("\(name): review \(review)") }
        }
        return undone
    }

    /// Runs the launch; `arguments` are its options, kept as its plan so that --resume can go on with them.
    func launch(config: ScientistConfig, logger: Logger, resuming: Int64?, arguments: [String]) throws {
        var config = config
        if let engine, let kind = LiteratureEngine(rawValue: engine) { config.literature.engine = kind }
        let researchTemplate = try templates.load(template ?? "")
        let session = try Session.open(config: config, command: "launch --template \(researchTemplate.name) --ideas \(ideas)", logger: logger,
                                       resuming: resuming)
        if resuming == nil {
            let plan = String(decoding: try JSONEncoder().encode(arguments), as: UTF8.self)
            do { try session.store.saveLaunchPlan(launchID: session.launchID, plan: plan) } catch { throw ScientistError.archive(error) }
            Console.line("launch \(session.launchID) (scientist launch --resume \(session.launchID) goes on with it)")
        } else {
            Console.line("launch \(session.launchID), resumed")
        }
        var options = LaunchPipeline.Options()
        options.ideas = ideas
        options.parallel = parallel
        options.reflections = config.reflections
        options.noveltyRounds = config.noveltyRounds
        options.resultsPerQuery = config.literature.resultsPerQuery
        options.experiment = experiments.stage
        options.experiment.prefix = "launch\(session.launchID)"
        options.writeup = noWriteup ? nil : writeup.stage(socket: nil, resultsPerQuery: config.literature.resultsPerQuery)
        options.review = noReview || noWriteup ? nil : try review.stage(socket: nil)
        let canceller = RunCanceller()
        let interrupts = Interrupts.install(canceller)
        defer { interrupts.forEach { $0.cancel() } }
        // On a terminal, a line per idea redrawn in place, and the runs' output in a log; otherwise plain lines.
        let inPlace = isatty(1) != 0 && ProcessInfo.processInfo.environment["TERM"].map { $0 != "dumb" } ?? false
        let board = LaunchProgress(store: session.store, launchID: session.launchID, inPlace: inPlace)
        let sink = inPlace ? OutputSink(fd: try Self.log(options.experiment.results, launchID: session.launchID)) : OutputSink(fd: 1)
        let pipeline = LaunchPipeline(session: session, template: researchTemplate, options: options, sink: sink, canceller: canceller)
        let report: LaunchPipeline.Report
        do throws(ScientistError) {
            report = try pipeline.run { board.record($0) }
        } catch {
            session.finish(status: "failed", message: error.description)
            throw error
        }
        Console.line("")
        for result in report.results {
            Console.line("\(result.idea.proposal.name): \(result.experiment)\(result.workspace.map { " (\($0))" } ?? "")")
            if let paper = result.paper { Console.line("  paper: \(paper)\(result.pdf.map { " (\($0))" } ?? "")") }
            if let review = result.review { Console.line("  review: \(review)") }
        }
        Console.line("\(report.generated) idea(s); \(IdeaText.spent(session.model.ledger))")
        let (status, message, ending) = Self.ending(report, asked: ideas, launchID: session.launchID)
        session.finish(status: status, message: message)
        let reporter = LaunchReport(store: session.store, pages: PaperText(runner: GloveboxRunner(
            socketPath: ExperimentStage.resolvedSocket(experiments.socket), policy: review.pdfPolicy, sink: OutputSink(fd: 2), canceller: RunCanceller())))
        do throws(ScientistError) {
            Console.line("report: " + (try reporter.write(launchID: session.launchID, results: options.experiment.results)))
        } catch {
            FileHandle.standardError.write(Data("scientist: the report could not be written: \(error)\n".utf8))
        }
        if let ending { throw ending }
    }

    /// The runs' output's log when the progress is drawn in place: <results>/launch<N>.log.
    static func log(_ results: String, launchID: Int64) throws -> Int32 {
        try FileManager.default.createDirectory(atPath: results, withIntermediateDirectories: true)
        let path = results + "/launch\(launchID).log"
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw ScientistError.workspace("cannot open \(path): \(String(cString: strerror(errno)))") }
        Console.line("the runs' output goes to \(path)")
        return fd
    }

    /// How the launch ended: its status and message for the archive, and the error that sets the exit status.
    static func ending(_ report: LaunchPipeline.Report, asked: Int, launchID: Int64) -> (String, String?, Error?) {
        let resume = "scientist launch --resume \(launchID) goes on"
        if let stop = report.budgetStop {
            return ("budget exhausted", stop, BudgetStop(message: stop + "; " + resume))
        }
        if report.interrupted {
            FileHandle.standardError.write(Data("scientist: interrupted; \(resume)\n".utf8))
            return ("interrupted", nil, ExitCode(130))
        }
        let novel = report.results.filter { $0.novelty == .novel }
        if !novel.isEmpty && !novel.contains(where: \.succeeded) {
            return ("failed", "every novel idea's experiments failed", ExitCode.failure)
        }
        let unfinished = unfinished(report, asked: asked)
        if !unfinished.isEmpty {
            FileHandle.standardError.write(Data("scientist: not finished: \(unfinished.joined(separator: "; ")); \(resume)\n".utf8))
            return ("failed", unfinished.joined(separator: "; "), ExitCode.failure)
        }
        return ("completed", nil, nil)
    }
}
