import ArgumentParser
import Foundation
import Scientist

/// The reviewer's options, shared by `review` and `launch`.
struct ReviewOptions: ParsableArguments {
    @Option(help: "How many reviews the ensemble writes before the area chair's meta-review.")
    var reviews = 5

    @Option(help: "The most reflection rounds on the final review.")
    var reflections = 5

    @Option(help: "The ensemble's sampling temperature.")
    var reviewTemperature = 0.75

    @Option(help: ArgumentHelp("A directory of example papers with their reviews (NAME.txt and NAME.json), instead of the shipped one.", valueName: "dir"))
    var reviewExamples: String?

    @Option(help: ArgumentHelp("The gloveboxd policy pdftotext and pdftoppm run under.", valueName: "name"))
    var pdfPolicy = PaperText.defaultPolicy

    func validate() throws {
        if !(1...10).contains(reviews) { throw ValidationError("--reviews must be between 1 and 10") }
        if !(0...10).contains(reflections) { throw ValidationError("--reflections must be between 0 and 10") }
        if !(0...2).contains(reviewTemperature) { throw ValidationError("--review-temperature must be between 0 and 2") }
        if pdfPolicy.isEmpty || pdfPolicy.contains("/") { throw ValidationError("--pdf-policy must be a policy's name") }
    }

    func stage(socket: String?) throws -> ReviewStage.Options {
        var options = ReviewStage.Options()
        options.reviewer.ensemble = reviews
        options.reviewer.reflections = reflections
        options.reviewer.temperature = reviewTemperature
        if let reviewExamples { options.reviewer.examples = try ReviewExample.load(directory: reviewExamples) }
        options.policy = pdfPolicy
        options.socket = socket
        return options
    }
}

struct ReviewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "review",
        abstract: "Review a paper in the NeurIPS form: an ensemble, an area chair, reflection, and the measured record.",
        discussion: """
        PDF_OR_IDEA is a paper's PDF (or a .txt or .md text), or an idea's name or id, whose last compiled paper \
        is reviewed. A PDF is untrusted input: its text is read by pdftotext through gloveboxd, under the \
        poppler policy; the scientist never parses it.

        The review follows the AI Scientist's: --reviews reviews in the NeurIPS form (summary, strengths, \
        weaknesses, originality, quality, clarity, significance, questions, limitations, ethical concerns, \
        soundness, presentation, contribution, overall 1-10, confidence 1-5, decision) at \
        --review-temperature, each shown an example paper with its review (review-examples/, or \
        --review-examples DIR); an area chair's meta-review, with the ensemble's scores averaged into it; then \
        up to --reflections rounds until the reviewer is done. Every reply is strict JSON with exact ranges, \
        repaired once.

        When the paper's paper.json lies beside the PDF (or in latex/ beside it), the reviewer is also shown \
        what gloveboxd measured: the environment, the compute of each run against the baseline, and the claims \
        check. A paper whose gain came with more compute than its baseline's must have that among its \
        weaknesses: when the review misses it, the scientist adds it and says so.

        The review is stored in the archive with the idea, the paper and its cost; scientist ideas show shows it.

        Exit status: 0 reviewed; 1 failed; 3 stopped by the budget; 130 interrupted.

        Examples:
          scientist review sparse_targets --budget-usd 1
          scientist review paper.pdf --reviews 3 --reflections 2 --json
        """)

    @OptionGroup var common: CommonOptions

    @Argument(help: ArgumentHelp("A paper's PDF or text, or an idea's name or id.", valueName: "PDF_OR_IDEA"))
    var paper: String

    @Option(help: ArgumentHelp("gloveboxd's socket (default: $GLOVEBOX_SOCKET, else /run/glovebox/glovebox.sock).", valueName: "path"))
    var socket: String?

    @OptionGroup var review: ReviewOptions

    @Flag(help: "Print the stored review as JSON.")
    var json = false

    func run() throws {
        try reporting {
            let config = try common.resolved()
            let options = try review.stage(socket: socket)
            let session = try Session.open(config: config, command: "review", logger: common.logger())
            let canceller = RunCanceller()
            let interrupts = Interrupts.install(canceller)
            defer { interrupts.forEach { $0.cancel() } }
            let stage = ReviewStage(session: session, options: options, sink: OutputSink(fd: 2), canceller: canceller)
            let prompts = try PromptLibrary.load(overrides: [PromptLibrary.userDirectory])
            let outcome = try session.stage(spent: false) { () throws(ScientistError) in try reviewTarget(stage, session: session, prompts: prompts) }
            session.finish(status: "completed", message: nil)
            if json { return try JSONOutput.print(outcome.row) }
            Console.line(ReviewText.detail(outcome.row))
        }
    }

    /// A file when `paper` names one, else an idea; a file that is an archived paper's PDF is linked to it.
    private func reviewTarget(_ stage: ReviewStage, session: Session, prompts: PromptLibrary) throws(ScientistError) -> ReviewStage.Outcome {
        if FileManager.default.fileExists(atPath: paper) {
            let path = URL(fileURLWithPath: paper).standardizedFileURL.path
            let known: PaperRow?
            do { known = try session.store.papers().last { $0.pdf == path } } catch { throw .archive(error) }
            var idea: ArchivedIdea?
            if let known { do { idea = try session.store.idea(id: known.ideaID) } catch { throw .archive(error) } }
            return try stage.review(file: path, idea: idea, paper: known, prompts: prompts)
        }
        let found: ArchivedIdea?
        do { found = try IdeaLookup.find(paper, template: nil, in: session.store) } catch { throw .template("\(error)") }
        guard let found else {
            throw .template("\(paper) is neither a file nor an idea in \(session.store.path) (scientist ideas list shows them)")
        }
        return try stage.review(idea: found, prompts: prompts)
    }
}
