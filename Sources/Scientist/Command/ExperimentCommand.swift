import ArgumentParser
import Dispatch
import Foundation
import Scientist
#if canImport(Glibc)
import Glibc
#endif

struct ExperimentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "experiment",
        abstract: "Run one archived idea's experiments: the model edits the code, gloveboxd runs it.",
        discussion: """
        The idea's workspace is a copy of its template under --results, named <date>_<idea>, kept in git: every \
        applied edit is a commit, and every run records the commit it ran. Each run is \
        `python experiment.py --out_dir=run_i` through gloveboxd, under the template's policy (the gloveboxd \
        policy of the template's name, unless the template's scientist.toml or --policy names another); run_i \
        comes back into the workspace. The model sees each run's results (run_i/final_info.json), or its failure \
        with gloveboxd's facts (status, limits reached) and the end of its stderr, and edits again, until it \
        replies ALL_COMPLETED, --max-runs runs have finished, or a run fails --max-attempts times in a row.

        Nothing the model writes runs outside gloveboxd. The model may edit only the template's editable files \
        (default experiment.py, plot.py, notes.txt), never through `..` or a symbolic link.

        Ctrl-C cancels the run in flight and stops; everything finished is kept, and running the same command \
        again resumes after the last finished run. A second Ctrl-C quits at once.

        Exit status: 0 the loop ended (ALL_COMPLETED or the runs used up); 1 it failed (a run failed \
        --max-attempts times in a row, gloveboxd refused, the model could not be reached); 3 stopped by the \
        budget; 130 interrupted.

        Examples:
          scientist experiment sparse_targets --budget-usd 2
          scientist experiment 12 --template toy_regression --max-runs 3 --socket /run/glovebox/glovebox.sock
          scientist runs sparse_targets
        """)

    @OptionGroup var common: CommonOptions
    @OptionGroup var templates: TemplateOptions

    @OptionGroup var choice: IdeaChoice

    @OptionGroup var experiments: ExperimentOptions

    @Flag(help: "Write the runs' output to <results>/<workspace>.log instead of the terminal.")
    var quiet = false

    func run() throws {
        try reporting {
            let logger = common.logger()
            let config = try common.resolved()
            let session = try Session.open(config: config, command: "experiment", logger: logger)
            let (found, researchTemplate) = try choice.find(in: session, templates: templates)
            let options = experiments.stage
            let canceller = RunCanceller()
            let interrupts = Interrupts.install(canceller)
            defer { interrupts.forEach { $0.cancel() } }
            let sink = try quiet ? OutputSink(fd: logFile(options, found)) : OutputSink(fd: 1)
            let stage = ExperimentStage(session: session, options: options, sink: sink, canceller: canceller)
            let outcome = try session.stage { () throws(ScientistError) in try stage.run(idea: found, template: researchTemplate) }
            session.finish(status: outcome.report.ending == .failed ? "failed" : "completed", message: outcome.report.message)
            Console.line("\(found.proposal.name): \(outcome.report.ending.rawValue), \(outcome.report.successfulRuns) run(s) with results: \(outcome.report.message)")
            Console.line("workspace: \(outcome.workspace)")
            Console.line(IdeaText.spent(session.model.ledger))
            if outcome.report.ending == .failed { throw ExitCode.failure }
        }
    }

    private func logFile(_ options: ExperimentStage.Options, _ idea: ArchivedIdea) throws -> Int32 {
        try FileManager.default.createDirectory(atPath: options.results, withIntermediateDirectories: true)
        let path = options.results + "/" + options.prefix + "_" + idea.proposal.name + ".log"
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw ScientistError.workspace("cannot open \(path): \(String(cString: strerror(errno)))") }
        Console.line("the runs' output goes to \(path)")
        return fd
    }
}

/// Ctrl-C (SIGINT), SIGTERM and SIGHUP: the first cancels the runs in flight through gloveboxd and lets the
/// loop stop and record what it finished; the second quits at once.
enum Interrupts {
    static func install(_ canceller: RunCanceller) -> [DispatchSourceSignal] {
        [SIGINT, SIGTERM, SIGHUP].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                if canceller.isCancelled { _exit(130) }
                FileHandle.standardError.write(Data("scientist: stopping: the run in flight is being cancelled (again to quit at once)\n".utf8))
                canceller.cancelAll()
            }
            source.resume()
            return source
        }
    }
}
