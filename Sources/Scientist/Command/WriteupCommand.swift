import ArgumentParser
import Foundation
import Scientist

/// The write-up's options, shared by `writeup` and `launch`.
struct WriteupOptions: ParsableArguments {
    @Option(help: "The most rounds of adding citations (a search and a choice each; 0 for none).")
    var citationRounds = 20

    @Option(help: "The most rounds of fixing check, claim and LaTeX problems.")
    var fixRounds = 5

    @Option(help: ArgumentHelp("The gloveboxd policy LaTeX compiles under.", valueName: "name"))
    var latexPolicy = LatexCompiler.defaultPolicy

    func validate() throws {
        if !(0...50).contains(citationRounds) { throw ValidationError("--citation-rounds must be between 0 and 50") }
        if !(0...20).contains(fixRounds) { throw ValidationError("--fix-rounds must be between 0 and 20") }
        if latexPolicy.isEmpty || latexPolicy.contains("/") { throw ValidationError("--latex-policy must be a policy's name") }
    }

    func stage(socket: String?, resultsPerQuery: Int) -> WriteupStage.Options {
        var options = WriteupStage.Options()
        options.citationRounds = citationRounds
        options.fixRounds = fixRounds
        options.policy = latexPolicy
        options.socket = socket
        options.resultsPerQuery = resultsPerQuery
        options.progress = { Console.line("writeup: " + $0) }
        return options
    }
}

struct WriteupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "writeup",
        abstract: "Write the paper of an idea whose experiments completed: LaTeX, citations, checks, compiled through gloveboxd.",
        discussion: """
        The model fills the workspace's latex/template.tex (the template's, or the default paper for a template \
        without latex/) one section at a time and refines each; adds citations in up to --citation-rounds rounds \
        of a literature search and a choice among the results (the BibTeX comes from Semantic Scholar, or is built \
        from OpenAlex's metadata; no reference is written by the model); and refines every section again.

        The paper's facts are measured, not written: environment.tex (macros such as \\gbCPU, \\gbGPU, \
        \\gbPython, \\gbRunWall{2}), results.tex (the results tables) and compute.tex (each run's wall time, GPU \
        time, peak memory and parameters against the baseline) are generated from gloveboxd's records, the \
        software probe and the runs' final_info.json. Before compiling, the paper is checked: \\cite keys, \
        figures, duplicate sections, \\ref labels, chktex, and the claims check (a GPU, CPU, version, GPU count, \
        duration or number that no run backs). Each problem goes back to the model, up to --fix-rounds rounds.

        LaTeX is untrusted: pdflatex, bibtex and chktex run only through gloveboxd, under the latex policy \
        (TeX Live read-only, no shell escape, no network, limits on time and memory).

        The paper is <workspace>/latex/template.pdf (copied to <workspace>/<idea>.pdf), with paper.json beside \
        it: every number with the runs and output digests behind it, the figures, the manifest, the compute \
        against the baseline (a gain that came with more compute is flagged for the review), the bibliography \
        with each entry's source, the problems left, and the model calls and their cost. scientist verify checks \
        a paper against the archive and gloveboxd's records.

        Exit status: 0 compiled and every check passed; 1 failed, not compiled, or compiled with problems left \
        (listed); 3 stopped by the budget; 130 interrupted.

        Examples:
          scientist writeup sparse_targets --budget-usd 3
          scientist writeup 12 --citation-rounds 5 --socket /run/glovebox/glovebox.sock
          scientist verify ~/.local/share/glovebox/results/20261206_sparse_targets
        """)

    @OptionGroup var common: CommonOptions
    @OptionGroup var templates: TemplateOptions

    @OptionGroup var choice: IdeaChoice

    @Option(help: ArgumentHelp("gloveboxd's socket (default: the experiment's, else $GLOVEBOX_SOCKET, else /run/glovebox/glovebox.sock).", valueName: "path"))
    var socket: String?

    @OptionGroup var writeup: WriteupOptions

    func run() throws {
        try reporting {
            let config = try common.resolved()
            let session = try Session.open(config: config, command: "writeup", logger: common.logger())
            let (found, researchTemplate) = try choice.find(in: session, templates: templates)
            let canceller = RunCanceller()
            let interrupts = Interrupts.install(canceller)
            defer { interrupts.forEach { $0.cancel() } }
            let stage = WriteupStage(session: session, options: writeup.stage(socket: socket, resultsPerQuery: config.literature.resultsPerQuery),
                                     sink: OutputSink(fd: 1), canceller: canceller)
            let outcome = try session.stage { () throws(ScientistError) in try stage.run(idea: found, template: researchTemplate) }
            Console.line(WriteupText.summary(outcome, idea: found.proposal.name))
            Console.line(IdeaText.spent(session.model.ledger))
            session.finish(status: outcome.status == "compiled" ? "completed" : "failed", message: outcome.status)
            if outcome.status != "compiled" { throw ExitCode.failure }
        }
    }
}

enum WriteupText {
    static func summary(_ outcome: WriteupStage.Outcome, idea: String) -> String {
        var lines = ["\(idea): \(outcome.status)"]
        if let pdf = outcome.pdf { lines.append("paper: \(pdf)") }
        lines.append("provenance: \(outcome.directory)/\(PaperRecord.fileName)")
        let record = outcome.record
        lines.append("\(record.claims.count) number(s) in the text (\(record.claims.filter(\.external).count) marked as from elsewhere), \(record.bibliography.count) reference(s), \(record.figures.filter(\.used).count) figure(s)")
        for flag in record.checks.computeFlags { lines.append("flagged for review: \(flag.text)") }
        for problem in outcome.unresolved { lines.append("unresolved: \(problem)") }
        return lines.joined(separator: "\n")
    }
}

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a written paper against the archive and gloveboxd's records, and name every mismatch.",
        discussion: """
        PAPER_DIR is a paper's directory (the one holding paper.json) or its workspace. The checks:
          - the paper's files (template.tex, the generated .tex files, the PDF) against paper.json's digests;
          - the runs paper.json names against the archive's records of them;
          - each run's outputs in the workspace against the SHA-256 taken when the run brought them back;
          - environment.tex, results.tex and compute.tex against what the archive's runs give now;
          - the claims check on template.tex: a number no run backs, a GPU, CPU or version not measured;
          - each run against gloveboxd's own record (status, wall time, policy digest).

        Exit status: 0 everything matches; 1 a mismatch (each listed); 2 nothing mismatched but gloveboxd's \
        records could not be read (or --no-daemon).

        Examples:
          scientist verify ~/.local/share/glovebox/results/20261206_sparse_targets
          scientist verify results/launch4_sparse_targets/latex --json
        """)

    @OptionGroup var common: CommonOptions

    @Argument(help: ArgumentHelp("The paper's directory, or its workspace.", valueName: "PAPER_DIR"))
    var paper: String

    @Option(help: ArgumentHelp("gloveboxd's socket (default: $GLOVEBOX_SOCKET, else /run/glovebox/glovebox.sock).", valueName: "path"))
    var socket: String?

    @Flag(help: "Check against the archive only, not gloveboxd's records.")
    var noDaemon = false

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() throws {
        try reporting {
            let verifier = PaperVerifier(store: try common.store(), socket: noDaemon ? nil : ExperimentStage.resolvedSocket(socket))
            let report = try verifier.verify(URL(fileURLWithPath: paper).standardizedFileURL.path)
            if json {
                let object: [String: Any] = ["paper": report.paper, "mismatches": report.mismatches, "checked": report.checked,
                                             "unchecked": report.unchecked]
                let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
                Console.line(String(decoding: data, as: UTF8.self))
            } else {
                Console.line("paper: \(report.paper)")
                for line in report.checked { Console.line("checked: \(line)") }
                for line in report.unchecked { Console.line("not checked: \(line)") }
                for line in report.mismatches { Console.line("MISMATCH: \(line)") }
                Console.line(report.mismatches.isEmpty ? "no mismatch" : "\(report.mismatches.count) mismatch(es)")
            }
            if !report.mismatches.isEmpty { throw ExitCode.failure }
            if !report.unchecked.isEmpty { throw ExitCode(2) }
        }
    }
}
