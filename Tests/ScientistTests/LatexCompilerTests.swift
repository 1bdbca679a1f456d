import Foundation
import GloveboxClient
import PolicyModel
import RecordModel
import XCTest
@testable import GloveboxTestSupport
@testable import Scientist

/// pdflatex → bibtex → pdflatex ×2 through a real gloveboxd under the shipped `latex` policy: model-written
/// LaTeX is code, and it never runs outside a sandbox.
final class LatexCompilerTests: XCTestCase {
    private var daemon: DaemonFixture!
    private var directory: TemporaryDirectory!
    private var compiler: LatexCompiler!

    override func setUpWithError() throws {
        signal(SIGPIPE, SIG_IGN)
        let policy = try String(contentsOfFile: DaemonFixture.repositoryRoot + "/policies/latex.toml", encoding: .utf8)
        daemon = try DaemonFixture(policies: ["latex": policy])
        directory = try TemporaryDirectory("scientist-latex")
        let sink = OutputSink(fd: open("/dev/null", O_WRONLY | O_CLOEXEC))
        compiler = LatexCompiler(runner: GloveboxRunner(socketPath: daemon.socket, policy: LatexCompiler.defaultPolicy, sink: sink,
                                                        canceller: RunCanceller()))
    }

    override func tearDown() {
        daemon?.stop()
        if let daemon { XCTAssertEqual(HostState.gloveboxCgroups(of: daemon), [], "cgroups left behind") }
        directory?.remove()
    }

    private func paper(_ body: String, preamble: String = "") throws -> String {
        let paper = directory.file("latex")
        try FileManager.default.createDirectory(atPath: paper, withIntermediateDirectories: true)
        try """
            \\documentclass{article}
            \\usepackage[numbers]{natbib}
            \\usepackage{booktabs}
            \\usepackage{hyperref}
            \(preamble)
            \\begin{filecontents}{references.bib}
            @article{kingma2014adam, title={Adam: A Method for Stochastic Optimization}, author={Kingma, Diederik P. and Ba, Jimmy},
              journal={arXiv preprint arXiv:1412.6980}, year={2014}}
            \\end{filecontents}
            \\begin{document}
            \(body)
            \\bibliographystyle{plainnat}
            \\bibliography{references}
            \\end{document}
            """.write(toFile: paper + "/template.tex", atomically: false, encoding: .utf8)
        return paper
    }

    func testAPaperWithCitationsAndGeneratedFactsCompilesInTheSandbox() throws {
        let paper = try paper("We trained with Adam~\\citep{kingma2014adam} on \\gbCPU. \\input{results.tex}",
                              preamble: "\\input{environment.tex}")
        try "\\newcommand{\\gbCPU}{AMD EPYC 9654 96-Core Processor} % gloveboxd run 1\n".write(toFile: paper + "/environment.tex", atomically: false, encoding: .utf8)
        try "\\begin{tabular}{lr}\\toprule Run & loss \\\\ \\midrule Baseline & 0.5 % run_0\n\\\\ \\bottomrule\\end{tabular}\n"
            .write(toFile: paper + "/results.tex", atomically: false, encoding: .utf8)
        let outcome = try compiler.compile(directory: paper, label: "paper")
        XCTAssertEqual(outcome.run.status, "ok", outcome.errors.joined(separator: "\n") + outcome.run.stderrTail)
        let pdf = try XCTUnwrap(outcome.pdf)
        XCTAssertEqual(Array(try XCTUnwrap(FileManager.default.contents(atPath: pdf)).prefix(5)), Array("%PDF-".utf8))
        let log = try String(contentsOfFile: paper + "/template.log", encoding: .utf8)
        XCTAssertFalse(log.contains("Citation `kingma2014adam' undefined"), "bibtex ran between the passes")
        XCTAssertEqual(outcome.errors, [])
    }

    func testShellEscapeIsOffAndWritesOutsideAreRefused() throws {
        var paper = try paper("\\immediate\\write18{touch /workspace/pwned}\nHello.")
        let escape = try compiler.compile(directory: paper, label: "write18")
        XCTAssertNotNil(escape.pdf, escape.errors.joined(separator: "\n"))
        let log = try String(contentsOfFile: paper + "/template.log", encoding: .utf8)
        XCTAssertTrue(log.contains("runsystem(touch /workspace/pwned)...disabled"), log)
        XCTAssertFalse(FileManager.default.fileExists(atPath: paper + "/pwned"))

        paper = try self.paper("""
            \\newwrite\\out
            \\immediate\\openout\\out=/workspace/../escaped.txt
            \\immediate\\write\\out{x}
            Hello.
            """)
        let outside = try compiler.compile(directory: paper, label: "openout")
        XCTAssertNil(outside.pdf)
        XCTAssertTrue(outside.errors.first?.hasPrefix("! I can't write on file `/workspace/../escaped.txt'.") ?? false, "\(outside.errors)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.file("escaped.txt")))
    }

    func testALatexErrorIsReportedWithItsLine() throws {
        let paper = try paper("Fine.\n\\undefinedmacro{x}\n")
        let outcome = try compiler.compile(directory: paper, label: "broken")
        XCTAssertNil(outcome.pdf)
        XCTAssertEqual(outcome.run.status, "exited-nonzero")
        XCTAssertTrue(outcome.errors.first?.hasPrefix("! Undefined control sequence. (l.") ?? false, "\(outcome.errors)")
    }

    func testChktexWarningsComeFromTheSandbox() throws {
        let paper = try paper("Results in 1990-2000 were ``good''. A sentence ... that trails.")
        let warnings = try compiler.chktex(directory: paper, label: "chktex")
        XCTAssertTrue(warnings.contains { $0.hasPrefix("Warning 8 in template.tex line") }, "\(warnings)")
        XCTAssertTrue(warnings.allSatisfy { !$0.hasPrefix("Warning 2 ") }, "style-only warnings are left out: \(warnings)")
    }

    /// The default paper, with the generated environment.tex and results.tex, compiles as it ships.
    func testTheDefaultPaperCompilesWithTheGeneratedFacts() throws {
        let workspace = directory.file("workspace")
        try FileManager.default.createDirectory(atPath: workspace + "/latex", withIntermediateDirectories: true)
        let files = WorkspaceFiles(root: workspace)
        XCTAssertTrue(try DefaultPaper.install(in: files))
        XCTAssertFalse(try DefaultPaper.install(in: files), "a paper already there is kept")
        let run = SandboxRun(runID: 4, status: "ok", wallSeconds: 10.5, cpuSeconds: 9, peakMemoryBytes: 20 << 20, gpus: 0, policyDigest: "d",
                             limitsHit: [], limits: [:], message: "", stderrTail: "",
                             machine: MachineFacts(kernel: "6.1", cpuModel: "AMD EPYC_7B13 & co", hostCPUs: 2, cpus: 1, memoryLimitBytes: 1 << 30))
        let rows = [ExperimentRunRow(experimentID: 1, stage: .baseline, number: 0, attempt: 1, run: run, commit: "abc",
                                     metrics: #"{"x_plus_y":{"final_val_acc":0.99,"step_val_acc_99":1617}}"#, outcome: .ok, message: "",
                                     startedAt: 0, finishedAt: 1)]
        try files.write("latex/environment.tex", ProvenanceTeX.environment(runs: rows, software: nil))
        try files.write("latex/results.tex", ProvenanceTeX.results(runs: rows))
        let outcome = try compiler.compile(directory: workspace + "/latex", label: "default paper")
        XCTAssertNotNil(outcome.pdf, outcome.errors.joined(separator: "\n") + outcome.run.stderrTail)
    }

    /// LaTeX that reads a host secret, loops forever or writes without end is contained by the policy (here
    /// tightened by the client, as any client may: 5 s and 16 MiB of storage), and gloveboxd's records say so.
    func testHostileLatexIsContainedAndTheRecordsSayHow() throws {
        let tight = LatexCompiler(runner: GloveboxRunner(socketPath: daemon.socket, policy: LatexCompiler.defaultPolicy,
                                                         sink: OutputSink(fd: open("/dev/null", O_WRONLY | O_CLOEXEC)), canceller: RunCanceller(),
                                                         limits: LimitRequest(timeoutSeconds: 5, storageBytes: 16 << 20)))
        var paper = try paper("\\input{/etc/shadow}")
        let secret = try tight.compile(directory: paper, label: "shadow")
        XCTAssertNil(secret.pdf)
        XCTAssertTrue(secret.errors.first?.contains("File `/etc/shadow.tex' not found") ?? false, "\(secret.errors)")

        paper = try self.paper("\\def\\forever{\\forever}\\forever")
        let loop = try tight.compile(directory: paper, label: "loop")
        XCTAssertEqual(loop.run.status, "timeout")
        XCTAssertEqual(try DaemonQueries.show(socketPath: daemon.socket, runID: try XCTUnwrap(loop.run.runID)).status.rawValue, "timeout")

        paper = try self.paper(#"""
            \def\a{xxxxxxxxxx}\edef\b{\a\a\a\a\a\a\a\a\a\a}\edef\c{\b\b\b\b\b\b\b\b\b\b}\edef\d{\c\c\c\c\c\c\c\c\c\c}
            \newwrite\flood \immediate\openout\flood=flood.txt
            \count255=0
            \loop \immediate\write\flood{\d} \advance\count255 by 1 \ifnum\count255<100000000 \repeat
            """#)
        let flood = try tight.compile(directory: paper, label: "flood")
        XCTAssertNil(flood.pdf)
        // TeX ignores its write errors, so it writes on into a full disk until the time limit ends it: the
        // storage cap held (nothing past 16 MiB was written), and the record names both.
        XCTAssertEqual(flood.run.status, "timeout", flood.errors.joined(separator: "\n"))
        XCTAssertTrue(flood.run.limitsHit.contains("storage"), "\(flood.run.limitsHit)")
    }
}
