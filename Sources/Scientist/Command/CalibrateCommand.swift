import ArgumentParser
import Foundation
import Scientist

struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Measure the reviewer against human decisions on a dataset of papers.",
        discussion: """
        DATASET is a directory of papers (PDFs, or .txt and .md texts) with decisions.csv, whose header names \
        the columns id, file, decision and, where the human scores are known, overall:

          id,file,decision,overall
          paper-1,paper-1.pdf,Accept,6.7
          paper-2,paper-2.pdf,Reject,3.3

        or decisions.jsonl, one {"id", "file", "decision", "overall"?} per line. file is relative to DATASET; a \
        decision is Accept or Reject (one that begins with "Accept", such as "Accept (oral)", counts as Accept).

        Every paper is reviewed as scientist review does (its PDF read by pdftotext through gloveboxd), and the \
        review is cached by the file's SHA-256, the model and the reviewer's settings and prompts: a second run, \
        or one resumed after Ctrl-C or a failure, reviews only what is not cached and pays for nothing twice.

        The report, against the human decisions (Accept is the positive class): accuracy, balanced accuracy, \
        F1, the AUC of the reviewer's overall score, the confusion matrix, and the cost.

        datasets/review-sample is a tiny sample written for the tests and this help. The AI Scientist measured \
        its reviewer on 500 ICLR 2022 papers from OpenReview; that set is not shipped: fetch the PDFs and \
        decisions from OpenReview (https://openreview.net/group?id=ICLR.cc/2022/Conference, or its API \
        https://api.openreview.net/notes?invitation=ICLR.cc/2022/Conference/-/Blind_Submission) and write \
        decisions.csv as above.

        Exit status: 0 done; 1 failed (what was reviewed stays cached); 3 stopped by the budget; 130 interrupted.

        Examples:
          scientist calibrate datasets/review-sample --reviews 1 --reflections 0
          scientist calibrate ~/iclr2022 --budget-usd 50 --json
        """)

    @OptionGroup var common: CommonOptions

    @Argument(help: ArgumentHelp("The dataset's directory.", valueName: "DATASET"))
    var dataset: String

    @Option(help: ArgumentHelp("gloveboxd's socket (default: $GLOVEBOX_SOCKET, else /run/glovebox/glovebox.sock).", valueName: "path"))
    var socket: String?

    @OptionGroup var review: ReviewOptions

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() throws {
        try reporting {
            let set = try CalibrationSet.load(directory: URL(fileURLWithPath: dataset).standardizedFileURL.path)
            let config = try common.resolved()
            let options = try review.stage(socket: socket)
            let session = try Session.open(config: config, command: "calibrate \(set.name)", logger: common.logger())
            let canceller = RunCanceller()
            let interrupts = Interrupts.install(canceller)
            defer { interrupts.forEach { $0.cancel() } }
            let calibrator = Calibrator(stage: ReviewStage(session: session, options: options, sink: OutputSink(fd: 2), canceller: canceller),
                                        prompts: try PromptLibrary.load(overrides: [PromptLibrary.userDirectory]))
            let report = try session.stage(note: "; the reviews so far are cached", spent: false) { () throws(ScientistError) in
                try calibrator.run(set) { result in
                    if !json {
                        Console.line("\(result.id): human \(result.humanAccept ? "Accept" : "Reject"), reviewer \(result.decision) (overall \(result.overall))\(result.cached ? ", cached" : "")")
                    }
                }
            }
            session.finish(status: "completed", message: nil)
            if json { return try JSONOutput.print(report) }
            Console.line("")
            Console.line(CalibrationText.summary(report))
        }
    }
}

enum CalibrationText {
    static func summary(_ report: Calibrator.Report) -> String {
        let m = report.metrics
        func figure(_ value: Double?) -> String { value.map { String(format: "%.3f", $0) } ?? "undefined" }
        return """
        \(m.papers) paper(s), reviewer \(report.model)
        accuracy \(figure(m.accuracy)), balanced accuracy \(figure(m.balancedAccuracy)), F1 \(figure(m.f1)), AUC \(figure(m.auc))
        confusion (rows: human, columns: reviewer):
                      Accept  Reject
          Accept      \(String(m.truePositives).padding(toLength: 8, withPad: " ", startingAt: 0))\(m.falseNegatives)
          Reject      \(String(m.falsePositives).padding(toLength: 8, withPad: " ", startingAt: 0))\(m.trueNegatives)
        cost: \(IdeaText.cost(m.costUSD))\(m.unpricedReviews > 0 ? " (\(m.unpricedReviews) review(s) without a price)" : "")
        """
    }
}
