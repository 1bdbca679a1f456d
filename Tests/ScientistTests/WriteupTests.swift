import Foundation
import GloveboxClient
import XCTest
@testable import GloveboxTestSupport
@testable import Scientist

/// The write-up against a real gloveboxd (the experiment's runs and every LaTeX compile go through it, under
/// the shipped latex policy), a scripted model and a literature server in Semantic Scholar's wire format.
final class WriteupTests: XCTestCase {
    nonisolated(unsafe) private static var daemon: DaemonFixture!
    private var lab: ScriptedLab!
    private var directory: TemporaryDirectory!
    private var template: ResearchTemplate!
    private var session: Session!
    private var daemon: DaemonFixture { Self.daemon }

    static let experiment = """
        import argparse, json, os
        SCORE = 1.0
        parser = argparse.ArgumentParser()
        parser.add_argument("--out_dir", default="run_0")
        args = parser.parse_args()
        os.makedirs(args.out_dir, exist_ok=True)
        with open(os.path.join(args.out_dir, "final_info.json"), "w") as f:
            json.dump({"toy": {"means": {"score": SCORE}}}, f)

        """

    /// A real PNG, drawn without any plotting library.
    static let plot = """
        import struct, zlib
        w, h = 64, 32
        rows = b"".join(b"\\x00" + b"".join(bytes((x * 4 % 256, y * 8 % 256, 160)) for x in range(w)) for y in range(h))
        def chunk(kind, data):
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
        with open("scores.png", "wb") as f:
            f.write(b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))

        """

    override class func setUp() {
        super.setUp()
        signal(SIGPIPE, SIG_IGN)
        do {
            let shipped = { (name: String) in try String(contentsOfFile: DaemonFixture.repositoryRoot + "/policies/\(name).toml", encoding: .utf8) }
            daemon = try DaemonFixture(policies: ["toy": ExperimentLoopTests.policy, "latex": try shipped("latex"), "poppler": try shipped("poppler")])
        } catch { fatalError("cannot start gloveboxd: \(error)") }
    }

    override class func tearDown() {
        daemon?.stop()
        XCTAssertEqual(HostState.gloveboxCgroups(of: daemon), [], "cgroups left behind")
        super.tearDown()
    }

    override func setUpWithError() throws {
        directory = try TemporaryDirectory("scientist-writeup")
        lab = try ScriptedLab()
        let root = directory.file("toy")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try #"{"system": "You are a careful researcher.", "task_description": "Raise the score."}"#.write(toFile: root + "/prompt.json", atomically: false, encoding: .utf8)
        try "[]".write(toFile: root + "/seed_ideas.json", atomically: false, encoding: .utf8)
        try Self.experiment.write(toFile: root + "/experiment.py", atomically: false, encoding: .utf8)
        try Self.plot.write(toFile: root + "/plot.py", atomically: false, encoding: .utf8)
        template = try ResearchTemplate.load(directory: root)
        try lab.config(archive: directory.file("scientist.db")).write(toFile: directory.file("scientist.toml"), atomically: false, encoding: .utf8)
        session = try Session.open(config: try ScientistConfig.load(path: directory.file("scientist.toml"), required: true), command: "test",
                                   logger: quietLogger())
    }

    override func tearDown() {
        lab?.server.stop()
        directory?.remove()
    }

    // MARK: - Helpers

    private var sink: OutputSink { OutputSink(fd: open("/dev/null", O_WRONLY | O_CLOEXEC)) }

    /// An idea whose experiments ran through gloveboxd: run 1 doubles the score, plot.py draws scores.png.
    private func finishedExperiment(_ name: String) throws -> (ArchivedIdea, ExperimentStage.Outcome) {
        let id = try session.store.insertIdea(IdeaProposal(name: name, title: "Doubling the Score", experiment: "Raise SCORE to 2.",
                                                           interestingness: 5, feasibility: 8, novelty: 5),
                                              template: "toy", source: .generated, launchID: session.launchID, reflections: 0)
        let idea = try XCTUnwrap(session.store.idea(id: id))
        lab.say(ExperimentLoopTests.edit("SCORE = 1.0", "SCORE = 2.0"))
        lab.say("ALL_COMPLETED")
        lab.say("plot.py is fine as it is.")
        lab.say(ExperimentLoopTests.edit("", "scores.png: the score of the baseline and of run 1.", file: "notes.txt"))
        var options = ExperimentStage.Options()
        options.results = directory.file("results")
        options.socket = daemon.socket
        options.prefix = "test"
        let outcome = try ExperimentStage(session: session, options: options, sink: sink, canceller: RunCanceller()).run(idea: idea, template: template)
        XCTAssertEqual(outcome.report.ending, .completed, outcome.report.message)
        return (idea, outcome)
    }

    static func paperEdit(_ search: String, _ replace: String, say: String = "Here is the section.") -> String {
        "\(say)\n\nlatex/template.tex\n```latex\n<<<<<<< SEARCH\n\(search)\n=======\n\(replace)\n>>>>>>> REPLACE\n```\n"
    }

    static func edits(_ pairs: [(String, String)]) -> String {
        "Fixed.\n\n" + pairs.map { "latex/template.tex\n```latex\n<<<<<<< SEARCH\n\($0.0)\n=======\n\($0.1)\n>>>>>>> REPLACE\n```\n" }.joined(separator: "\n")
    }

    /// Each section's text: the four planted faults are in the introduction (an unknown key), the setup (an
    /// A100 the machine does not have) and the results (an invented value and a figure that does not exist).
    static let sectionTexts: [String: (String, String)] = [
        "Title": ("\\title{TITLE HERE}", "\\title{Doubling the Score of a Toy Task}"),
        "Abstract": ("ABSTRACT HERE", "We study whether a larger constant raises the score of a toy task, and find that it does."),
        "Introduction": ("INTRO HERE", "Scores matter~\\citep{smith2020imaginary}. We raise the score of a toy task and measure the effect."),
        "Background": ("BACKGROUND HERE", "The task reports one score per run."),
        "Method": ("METHOD HERE", "We change the constant that sets the score."),
        "Experimental Setup": ("EXPERIMENTAL SETUP HERE", "The runs used an NVIDIA A100 and \\gbCPU, with Python \\gbPython."),
        "Results": ("RESULTS HERE", """
            The score rose to 0.87316 in run 1.
            \\begin{figure}[t]
            \\centering
            \\includegraphics[width=0.5\\linewidth]{accuracy_curve.png}
            \\caption{The score of each run.}
            \\label{fig:scores}
            \\end{figure}
            """),
        "Conclusion": ("CONCLUSIONS HERE", "A larger constant gives a larger score."),
        "Related Work": ("RELATED WORK HERE", "Work on scores is wide."),
    ]

    /// The replies of a whole write-up: each section written and refined (no change), one citation round
    /// that adds p1 and cites it, then a query of null; the second pass (no change); one fix round that fixes
    /// the four planted faults.
    private func scriptWriteup() { Self.scriptWriteup(lab) }

    static func scriptWriteup(_ lab: ScriptedLab) {
        for (section, _) in PaperDraft.sections {
            let (search, replace) = Self.sectionTexts[section]!
            lab.say(Self.paperEdit(search, replace), when: "Write the \(section) section")
            lab.say("The section needs no change.", when: "Write the \(section) section")
            lab.say("No change.", when: "now the \(section) section")
        }
        lab.say(Wire.fenced("A citation.", ["Thought": "Scores need a source.", "Description": "In the introduction, for scores.", "Query": "toy task scores"]),
                when: "Adding citations, round 1")
        lab.find(LiteratureWire.semanticScholar([("p1", "Scores of Toy Tasks"), ("p2", "Something Else")]))
        lab.say(Wire.fenced("The first.", ["Thought": "p1 fits.", "Selected": [1], "Description": "Cite it for scores."]), when: "Adding citations, round 1")
        lab.say(Self.paperEdit("Work on scores is wide.", "Work on scores is wide~\\citep{p1}."), when: "These entries were added")
        lab.say(Wire.fenced("Enough.", ["Thought": "Done.", "Description": NSNull(), "Query": NSNull()]), when: "Adding citations, round 2")
        lab.say(Self.edits([
            ("Scores matter~\\citep{smith2020imaginary}. We raise the score of a toy task and measure the effect.",
             "Scores matter~\\citep{p1}. We raise the score of a toy task and measure the effect."),
            ("The runs used an NVIDIA A100 and \\gbCPU, with Python \\gbPython.", "The runs used \\gbGPU{} and \\gbCPU, with Python \\gbPython; Table~\\ref{tab:compute} gives their compute."),
            ("The score rose to 0.87316 in run 1.", "The score rose to 2.0 in run 1, from 1.0 for the baseline."),
            ("\\includegraphics[width=0.5\\linewidth]{accuracy_curve.png}", "\\includegraphics[width=0.5\\linewidth]{scores.png}"),
        ]), when: "The paper has problems")
    }

    private func writeup(_ idea: ArchivedIdea, citationRounds: Int = 2) throws -> WriteupStage.Outcome {
        var options = WriteupStage.Options()
        options.citationRounds = citationRounds
        options.socket = daemon.socket
        return try WriteupStage(session: session, options: options, sink: sink, canceller: RunCanceller()).run(idea: idea, template: template)
    }

    private func chat(containing marker: String) -> [String] {
        lab.chatRequests.compactMap { request in
            let messages = (request.json?["messages"] as? [[String: String]]) ?? []
            return messages.first { $0["role"] == "user" && ($0["content"] ?? "").contains(marker) }?["content"]
        }
    }

    // MARK: - Tests

    /// A paper written by the scripted model compiles through gloveboxd; its pages render; its citation is
    /// the literature server's BibTeX; and each planted fault (an A100 on a machine without one, an invented
    /// value, an unknown key, a missing figure) is caught and fixed.
    func testAPaperIsWrittenCheckedFixedAndCompiledInTheSandbox() throws {
        let (idea, experiment) = try finishedExperiment("doubled")
        scriptWriteup()
        let outcome = try writeup(idea)
        XCTAssertEqual(outcome.status, "compiled", outcome.unresolved.joined(separator: "\n"))
        XCTAssertEqual(outcome.unresolved, [])
        let pdf = try XCTUnwrap(outcome.pdf)
        XCTAssertEqual(pdf, experiment.workspace + "/latex/template.pdf")
        XCTAssertTrue(FileManager.default.fileExists(atPath: experiment.workspace + "/doubled.pdf"))

        // The faults were each named to the model, once, in the one fix round.
        let fix = try XCTUnwrap(chat(containing: "The paper has problems").first)
        XCTAssertTrue(fix.contains("\\cite{smith2020imaginary}: no entry smith2020imaginary in the bibliography"), fix)
        XCTAssertTrue(fix.contains("figure accuracy_curve.png does not exist; the figures are scores.png"), fix)
        XCTAssertTrue(fix.contains("the text names the GPU \"A100\", but the runs used no GPU; use \\gbGPU"), fix)
        XCTAssertTrue(fix.contains("the number 0.87316 matches no run's metric or time"), fix)
        let tex = try String(contentsOfFile: experiment.workspace + "/latex/template.tex", encoding: .utf8)
        for gone in ["A100", "0.87316", "smith2020imaginary", "accuracy_curve"] { XCTAssertFalse(tex.contains(gone), gone) }

        // The citation is the literature server's BibTeX, and it resolved.
        let record = outcome.record
        XCTAssertEqual(record.bibliography.map(\.key), ["p1"])
        XCTAssertEqual(record.bibliography.first?.bibtex, "@inproceedings{p1,\n title={Scores of Toy Tasks}\n}")
        XCTAssertEqual(record.bibliography.first?.source, "semanticscholar")
        XCTAssertTrue(tex.contains("@inproceedings{p1,\n title={Scores of Toy Tasks}\n}"), tex)
        let log = try String(contentsOfFile: experiment.workspace + "/latex/template.log", encoding: .utf8)
        XCTAssertFalse(log.contains("undefined"), "every citation and reference resolved")
        let text = try DaemonFixture.run(["/usr/bin/pdftotext", pdf, "-"])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains("[1] Scores of toy tasks."), text.stdout)
        XCTAssertTrue(text.stdout.contains("Doubling the Score of a Toy Task"), text.stdout)

        // The pages render.
        let pages = directory.file("page")
        let render = try DaemonFixture.run(["/usr/bin/pdftoppm", "-png", "-r", "40", pdf, pages])
        XCTAssertEqual(render.status, 0, render.stderr)
        let rendered = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix("page") && $0.hasSuffix(".png") }
        XCTAssertFalse(rendered.isEmpty)
        for page in rendered {
            XCTAssertEqual(Array(try XCTUnwrap(FileManager.default.contents(atPath: directory.file(page))).prefix(4)), [0x89, 0x50, 0x4E, 0x47])
        }

        // paper.json: the claims with the runs behind them, the figure with its plot run, the compiles, the cost.
        let saved = try PaperRecord.decode(try Data(contentsOf: URL(fileURLWithPath: experiment.workspace + "/latex/paper.json")))
        XCTAssertEqual(saved, record)
        let claim = try XCTUnwrap(record.claims.first { $0.number == "2.0" })
        XCTAssertEqual(claim.sentence, "The score rose to 2.0 in run 1, from 1.0 for the baseline.")
        // Every value that prints as 2.0 backs it (a run's wall time may too); run 1's score is one of them.
        let score = try XCTUnwrap(claim.backedBy.first { $0.what == "toy.score" })
        XCTAssertEqual(score.run, 1)
        let runs = try session.store.experimentRuns(experimentID: experiment.experiment.id)
        let run1 = try XCTUnwrap(runs.first { $0.stage == .experiment && $0.outcome == .ok })
        XCTAssertEqual(score.gloveboxRunID, run1.run.runID)
        XCTAssertEqual(score.digest, run1.outputs["run_1/final_info.json"])
        XCTAssertEqual(record.figures.map(\.file), ["scores.png"])
        XCTAssertEqual(record.figures.first?.used, true)
        XCTAssertNotNil(record.figures.first?.sha256)
        XCTAssertEqual(record.checks.fixRounds, 1)
        XCTAssertFalse(record.checks.compileRuns.isEmpty)
        for id in record.checks.compileRuns {
            XCTAssertEqual(try DaemonQueries.show(socketPath: daemon.socket, runID: id).template, "latex", "every compile ran under the latex policy")
        }
        XCTAssertEqual(record.cost.calls.count, lab.chatRequests.count - 4, "every write-up call, and no experiment call")
        XCTAssertEqual(record.manifest.runs.map(\.number), [0, 1])
        XCTAssertEqual(try session.store.papers(ideaID: idea.id).map(\.status), ["compiled"])
    }

    /// `scientist verify` passes a paper as written, and names a number edited by hand afterwards.
    func testVerifyCatchesANumberEditedByHand() throws {
        let (idea, experiment) = try finishedExperiment("verified")
        scriptWriteup()
        XCTAssertEqual(try writeup(idea).status, "compiled")
        let verify = [DaemonFixture.buildDirectory + "/scientist", "verify", experiment.workspace, "--archive", directory.file("scientist.db"),
                      "--socket", daemon.socket]
        let clean = try DaemonFixture.run(verify)
        XCTAssertEqual(clean.status, 0, clean.stdout + clean.stderr)
        XCTAssertTrue(clean.stdout.contains("checked: 2 run(s) against gloveboxd's records"), clean.stdout)
        XCTAssertTrue(clean.stdout.hasSuffix("no mismatch\n"), clean.stdout)

        let path = experiment.workspace + "/latex/template.tex"
        let tex = try String(contentsOfFile: path, encoding: .utf8)
        try tex.replacingOccurrences(of: "rose to 2.0 in run 1", with: "rose to 2.71828 in run 1").write(toFile: path, atomically: false, encoding: .utf8)
        let line = tex.prefix(upTo: try XCTUnwrap(tex.range(of: "rose to 2.0")).lowerBound).filter { $0 == "\n" }.count + 1
        let edited = try DaemonFixture.run(verify)
        XCTAssertEqual(edited.status, 1, edited.stdout + edited.stderr)
        XCTAssertTrue(edited.stdout.contains("MISMATCH: template.tex: changed since the write-up"), edited.stdout)
        XCTAssertTrue(edited.stdout.contains("MISMATCH: template.tex line \(line): the number 2.71828 matches no run's metric or time"), edited.stdout)
    }

    /// `scientist launch` as the unprivileged user nobody, from a new idea to its compiled and reviewed paper,
    /// then `scientist verify` as nobody on what it wrote.
    func testALaunchAsAnUnprivilegedUserEndsWithAVerifiedReviewedPaper() throws {
        let home = directory.file("home")
        let config = try lab.nobodysHome(home)
        lab.say(ScriptedLab.idea("doubled", title: "Doubling the Score", done: true))
        lab.say(ScriptedLab.query("doubling a score"))
        lab.find(LiteratureWire.semanticScholar([("n1", "Unrelated")]))
        lab.say(ScriptedLab.decision("novel", "Nothing like it."))
        lab.say(ExperimentLoopTests.edit("SCORE = 1.0", "SCORE = 2.0"))
        lab.say("ALL_COMPLETED")
        lab.say("plot.py is fine as it is.")
        lab.say(ExperimentLoopTests.edit("", "scores.png: the score of the baseline and of run 1.", file: "notes.txt"))
        scriptWriteup()
        lab.say(ReviewTests.review(4, weaknesses: ["A single toy task."]))

        let scientist = DaemonFixture.buildDirectory + "/scientist"
        let environment = ["PATH": "/usr/bin:/bin", "HOME": home]
        let result = try DaemonFixture.run(ExperimentLoopTests.asNobody + [
                                            scientist, "launch", "--template", "toy", "--ideas", "1", "--citation-rounds", "2",
                                            "--reviews", "1", "--reflections", "0",
                                            "--config", config, "--templates-dir", directory.path, "--results", home + "/results",
                                            "--socket", daemon.socket], environment: environment)
        XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
        XCTAssertTrue(result.stdout.contains("writeup: doubled: compiled\n"), result.stdout)
        let store = try ScientistStore(path: home + "/scientist.db")
        let idea = try XCTUnwrap(store.idea(named: "doubled", template: "toy"))
        let paper = try XCTUnwrap(store.papers(ideaID: idea.id).last)
        XCTAssertEqual(paper.status, "compiled")
        let pdf = try XCTUnwrap(paper.pdf)
        var st = stat()
        XCTAssertEqual(stat(pdf, &st), 0)
        XCTAssertEqual(st.st_uid, 65534, "the paper belongs to the user who launched it")
        XCTAssertTrue(result.stdout.contains("  paper: compiled (\(pdf))"), result.stdout)
        XCTAssertTrue(result.stdout.contains("  review: Reject, overall 4/10"), result.stdout)
        let review = try XCTUnwrap(store.reviews(ideaID: idea.id).last)
        XCTAssertEqual(review.paperID, paper.id)
        XCTAssertEqual(review.source, pdf)
        XCTAssertNotNil(review.textRunID, "the PDF was read by pdftotext through gloveboxd")

        let verify = try DaemonFixture.run(ExperimentLoopTests.asNobody + [scientist, "verify", paper.directory, "--config", config,
                                                                            "--socket", daemon.socket], environment: environment)
        XCTAssertEqual(verify.status, 0, verify.stdout + verify.stderr)
        XCTAssertTrue(verify.stdout.hasSuffix("no mismatch\n"), verify.stdout)
    }
}
