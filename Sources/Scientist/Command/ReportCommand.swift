import ArgumentParser
import Foundation
import Scientist

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a launch's report again: <results>/launch<N>/report/index.html.",
        discussion: """
        scientist launch writes it when it ends; this writes it again from the archive (after a resume, say). \
        The page is static and self-contained: it opens from the file system, needs no JavaScript, embeds its \
        images, and links each paper's PDF, copied beside it into papers/. For each idea: its scores and \
        novelty verdict with the papers consulted, its runs against the baseline with the compute each used, its \
        plots, its paper with its first page drawn (pdftoppm through gloveboxd, under the poppler policy), its \
        reviews, and the cost of each stage; a summary at the top compares the ideas.

        Example: scientist report 7 && xdg-open ~/.local/share/glovebox/results/launch7/report/index.html
        """)

    @OptionGroup var common: CommonOptions

    @Argument(help: "The launch's number.")
    var launch: Int64

    @Option(help: ArgumentHelp("Where workspaces are (default: ~/.local/share/glovebox/results).", valueName: "dir"))
    var results: String?

    @Option(help: ArgumentHelp("gloveboxd's socket, for drawing first pages (default: $GLOVEBOX_SOCKET, else /run/glovebox/glovebox.sock).", valueName: "path"))
    var socket: String?

    @Option(help: ArgumentHelp("The gloveboxd policy pdftoppm runs under.", valueName: "name"))
    var pdfPolicy = PaperText.defaultPolicy

    func run() throws {
        try reporting {
            let store = try common.store()
            let runner = GloveboxRunner(socketPath: ExperimentStage.resolvedSocket(socket), policy: pdfPolicy, sink: OutputSink(fd: 2),
                                        canceller: RunCanceller())
            let directory = results.map { URL(fileURLWithPath: $0).standardizedFileURL.path } ?? ExperimentStage.defaultResults
            Console.line(try LaunchReport(store: store, pages: PaperText(runner: runner)).write(launchID: launch, results: directory))
        }
    }
}
