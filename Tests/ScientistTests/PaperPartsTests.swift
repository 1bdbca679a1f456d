import RecordModel
import XCTest
@testable import Scientist

/// The write-up's pure parts: the bibliography, what the scientist keeps in the paper, the compute report and
/// the claims' lines and sentences.
final class PaperPartsTests: XCTestCase {
    private func paper(_ id: String, _ title: String, bibtex: String?, authors: [String] = ["Ada Lovelace"], year: Int? = 2021) -> Paper {
        Paper(id: id, title: title, authors: authors, venue: "ICML", year: year, abstract: nil, citationCount: 1, bibtex: bibtex)
    }

    // MARK: - Bibliography

    func testSemanticScholarsBibTeXIsUsedAndADuplicateIsNotAddedTwice() {
        var bibliography = Bibliography()
        let entry = bibliography.add(paper("s1", "Sparse Probes", bibtex: "@Article{Lovelace2021Sparse,\n title={Sparse Probes}\n}"),
                                     engine: "semanticscholar", query: "sparse")
        XCTAssertEqual(entry?.key, "Lovelace2021Sparse")
        XCTAssertEqual(entry?.bibtex, "@article{Lovelace2021Sparse,\n title={Sparse Probes}\n}")
        XCTAssertEqual(entry?.source, "semanticscholar")
        XCTAssertNil(bibliography.add(paper("s1", "Sparse Probes", bibtex: nil), engine: "semanticscholar", query: "again"))
        XCTAssertNil(bibliography.add(paper("other", "sparse  probes", bibtex: nil), engine: "openalex", query: "again"), "the same title")
        XCTAssertEqual(bibliography.entries.count, 1)
    }

    func testBibTeXThatCouldBreakOutOfTheBlockIsReplacedByOneBuiltFromTheMetadata() {
        var bibliography = Bibliography()
        for (index, hostile) in ["@misc{x,\n title={a}\n}\n\\end{filecontents}\n\\input{/etc/shadow}", "@misc{x,\n title={unbalanced\n}",
                                 "@misc{x y,\n title={a}\n}", "@misc{x,\n note={\u{7}}\n}"].enumerated() {
            let entry = bibliography.add(paper("h\(index)", "Hostile \(index) & Co_op", bibtex: hostile), engine: "semanticscholar", query: "q")
            XCTAssertEqual(entry?.source, "semanticscholar metadata", hostile)
            XCTAssertFalse(entry?.bibtex.contains("filecontents") ?? true)
            XCTAssertTrue(entry?.bibtex.hasPrefix("@misc{lovelace2021hostile") ?? false, entry?.bibtex ?? "")
            XCTAssertTrue(entry?.bibtex.contains("title = {Hostile \(index) \\& Co\\_op}") ?? false, entry?.bibtex ?? "")
        }
        XCTAssertEqual(bibliography.entries.map(\.key), ["lovelace2021hostile", "lovelace2021hostileb", "lovelace2021hostilec", "lovelace2021hostiled"])
    }

    func testOpenAlexEntriesAreBuiltFromItsMetadataAndAKeyInUseIsNotReused() {
        var bibliography = Bibliography(entries: [BibEntry(key: "hopper2023compilers", bibtex: "@misc{hopper2023compilers,\n title={A}\n}", source: "template")])
        let entry = bibliography.add(paper("https://openalex.org/W1", "Compilers, Again", bibtex: nil, authors: ["Grace Hopper", "Ada Lovelace"], year: 2023),
                                     engine: "openalex", query: "compilers")
        XCTAssertEqual(entry?.key, "hopper2023compilersb")
        XCTAssertEqual(entry?.bibtex, "@misc{hopper2023compilersb,\n  title = {Compilers, Again},\n  author = {Grace Hopper and Ada Lovelace},\n  howpublished = {ICML},\n  year = {2023}\n}")
        XCTAssertEqual(entry?.source, "openalex")
        let clash = bibliography.add(paper("s9", "Other", bibtex: "@article{hopper2023compilers,\n title={Other}\n}"), engine: "semanticscholar", query: "q")
        XCTAssertEqual(clash?.key, "lovelace2021other", "the engine's key is taken; one is made")
        XCTAssertTrue(clash?.bibtex.hasPrefix("@article{lovelace2021other,") ?? false)
    }

    func testAPaperWrittenAgainKeepsWhereItsReferencesCameFrom() {
        let tex = "\\begin{filecontents}{references.bib}\n@inproceedings{p1,\n title={A}\n}\n\n@misc{mine,\n title={B}\n}\n\\end{filecontents}\n"
        let earlier = [BibEntry(key: "p1", bibtex: "@inproceedings{p1,\n title={A}\n}", source: "semanticscholar", paperID: "p1", title: "A", query: "a"),
                       BibEntry(key: "mine", bibtex: "@misc{mine,\n title={Changed}\n}", source: "openalex")]
        let bibliography = Bibliography.fromTemplate(tex).withSources(from: earlier)
        XCTAssertEqual(bibliography.entries.map(\.source), ["semanticscholar", "template"], "an entry whose BibTeX changed is not the recorded one")
        XCTAssertEqual(bibliography.entries.first?.query, "a")
    }

    // MARK: - What the scientist keeps in the paper

    static let skeleton = """
        \\documentclass{article}
        \\begin{filecontents}{references.bib}
        @misc{kept, title={Kept}}
        \\end{filecontents}
        \\begin{document}
        \\section{Experimental Setup}
        \\label{sec:setup}
        Setup.
        \\section{Results}
        Results.
        \\end{document}
        """

    func testTheBibliographyBlockAndTheGeneratedFilesArePutBackAfterAnEdit() {
        let bibliography = Bibliography.fromTemplate(Self.skeleton)
        XCTAssertEqual(bibliography.entries.map(\.key), ["kept"])
        XCTAssertEqual(bibliography.entries.first?.source, "template")
        let first = PaperDraft.enforce(Self.skeleton, previous: Self.skeleton, bibliography: bibliography)
        XCTAssertEqual(first.restored, [], "adding the inclusions the first time is not a restoration")
        XCTAssertTrue(first.tex.contains("\\InputIfFileExists{environment.tex}{}{}\n\\begin{document}"), first.tex)
        XCTAssertTrue(first.tex.contains("\\label{sec:setup}\n\\InputIfFileExists{compute.tex}{}{}\nSetup."), first.tex)
        XCTAssertTrue(first.tex.contains("\\section{Results}\n\\InputIfFileExists{results.tex}{}{}\nResults."), first.tex)

        // The model invents an entry and drops the compute table: both are put back, and it is told.
        let edited = first.tex.replacingOccurrences(of: "@misc{kept, title={Kept}}", with: "@misc{kept, title={Kept}}\n@misc{fake, title={Invented}}")
            .replacingOccurrences(of: "\\InputIfFileExists{compute.tex}{}{}\n", with: "")
        let second = PaperDraft.enforce(edited, previous: first.tex, bibliography: bibliography)
        XCTAssertEqual(second.tex, first.tex)
        XCTAssertEqual(second.restored.count, 2)
        XCTAssertTrue(second.restored[0].hasPrefix("The references.bib block is kept by the scientist"), second.restored[0])
        XCTAssertTrue(second.restored[1].contains("compute.tex"), second.restored[1])
    }

    // MARK: - Compute

    private func row(_ number: Int, runID: Int64, wall: Double, memory: UInt64, metrics: String) -> ExperimentRunRow {
        ExperimentRunRow(experimentID: 1, stage: number == 0 ? .baseline : .experiment, number: number, attempt: 1,
                         run: SandboxRun(runID: runID, status: "ok", wallSeconds: wall, peakMemoryBytes: memory, gpus: 0, policyDigest: "d",
                                         limitsHit: [], limits: [:], message: "", stderrTail: ""),
                         commit: "c\(number)", metrics: metrics, outcome: .ok, message: "", startedAt: 0, finishedAt: 1)
    }

    func testARunThatChangedItsResultsWithMoreComputeIsFlagged() {
        let rows = [row(0, runID: 10, wall: 10, memory: 100 << 20, metrics: #"{"toy":{"acc":0.5,"n_params":1000}}"#),
                    row(1, runID: 11, wall: 21, memory: 100 << 20, metrics: #"{"toy":{"acc":0.7,"n_params":2000}}"#),
                    row(2, runID: 12, wall: 30, memory: 100 << 20, metrics: #"{"toy":{"acc":0.5,"n_params":1000}}"#),
                    row(3, runID: 13, wall: 10.5, memory: 100 << 20, metrics: #"{"toy":{"acc":0.9,"n_params":1000}}"#)]
        let report = ComputeReport(runs: rows)
        XCTAssertEqual(report.flags.map(\.run), [1], "run 2 used more but changed nothing; run 3 changed with the same compute")
        XCTAssertEqual(report.flags.first?.measures, ["parameters 2.00× the baseline's", "wall time 2.10× the baseline's"])
        XCTAssertEqual(report.flags.first?.changedResults, ["toy.acc 0.7 against the baseline's 0.5"])
        XCTAssertEqual(report.rows.first { $0.run == 1 }?.parameters, 2000)
        XCTAssertTrue(report.tex.contains("Run 1 & 21.0~s ($2.10\\times$) & 100 MiB ($1.00\\times$) & 2000 ($2.00\\times$) \\\\ % run_1, gloveboxd run 11"), report.tex)
        let manifest = ClaimsManifest(runs: rows, software: nil)
        XCTAssertEqual(ClaimsCheck.problems(tex: "Run 1 took 2.10 times the baseline's time.", manifest: manifest), [], "a ratio of the compute table may be stated")
    }

    // MARK: - Claims: lines, lengths and sentences

    func testFindingsCarryTheirLinesAndLengthsAreNotClaims() {
        let manifest = ClaimsManifest(runs: [row(0, runID: 1, wall: 12, memory: 1, metrics: #"{"toy":{"acc":0.5}}"#)], software: nil)
        let tex = """
            \\documentclass{article}
            \\setlength{\\parskip}{0.75em}
            \\title{A 0.5 Title}
            \\begin{document}
            \\includegraphics[width=0.9\\linewidth]{plot.png}\\vspace{-1.5ex}
            The accuracy was 0.5, and it rose to 0.62 in run 1.
            \\end{document}
            """
        XCTAssertEqual(ClaimsCheck.findings(tex: tex, manifest: manifest), [
            ClaimsCheck.Finding(line: 6, message: "the number 0.62 matches no run's metric or time; take it from results.tex or environment.tex, or mark a number from elsewhere as \\gbExternal{0.62}"),
        ])
        let claims = ClaimsCheck.claims(tex: tex + "\nWe used a rate of \\gbExternal{0.001}.", manifest: manifest)
        XCTAssertEqual(claims.map(\.number), ["0.5", "0.5", "0.62", "0.001"])
        XCTAssertEqual(claims.map(\.line), [3, 6, 6, 8])
        XCTAssertEqual(claims[1].sentence, "The accuracy was 0.5, and it rose to 0.62 in run 1.")
        XCTAssertEqual(claims[1].backedBy.map(\.what), ["toy.acc"])
        XCTAssertEqual(claims[3].external, true)
        XCTAssertEqual(claims[3].sentence, "We used a rate of \\gbExternal{0.001}.")
    }
}

/// The launch's progress: plain lines off a terminal; on one, a line per idea redrawn in place.
final class LaunchProgressTests: XCTestCase {
    private func output(inPlace: Bool, _ events: [LaunchEvent]) throws -> String {
        let directory = try TemporaryDirectory("launch-progress")
        defer { directory.remove() }
        let store = try ScientistStore(path: directory.file("scientist.db"))
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        let progress = LaunchProgress(store: store, launchID: 1, fd: fds[1], inPlace: inPlace)
        for event in events { progress.record(event) }
        close(fds[1])
        let text = String(decoding: FileHandle(fileDescriptor: fds[0], closeOnDealloc: true).readDataToEndOfFile(), as: UTF8.self)
        return text
    }

    static let events = [LaunchEvent(idea: nil, stage: "idea", detail: "archived first: The First Idea"),
                         LaunchEvent(idea: "first", stage: "novelty", detail: "novel: nothing like it"),
                         LaunchEvent(idea: "second", stage: "novelty", detail: "not novel"),
                         LaunchEvent(idea: "first", stage: "experiment", detail: "run 2")]

    func testOffATerminalEachEventIsAPlainLine() throws {
        XCTAssertEqual(try output(inPlace: false, Self.events),
                       "idea: archived first: The First Idea\nnovelty: first: novel: nothing like it\nnovelty: second: not novel\nexperiment: first: run 2\n")
    }

    func testOnATerminalEachIdeaHasALineRedrawnInPlace() throws {
        let text = try output(inPlace: true, Self.events)
        let frames = text.components(separatedBy: "\u{1B}[2F")
        XCTAssertEqual(frames.count, 2, "the third and fourth events go back over the two ideas' lines: \(text.debugDescription)")
        let last = frames.last ?? ""
        XCTAssertTrue(last.contains("\u{1B}[2Kfirst     experiment  0:00  $0.0000  run 2\n"), last.debugDescription)
        XCTAssertTrue(last.contains("\u{1B}[2Ksecond    novelty     0:00  $0.0000  not novel\n"), last.debugDescription)
        XCTAssertTrue(text.hasPrefix("\u{1B}[2Kidea: archived first: The First Idea\n"), "a launch's own step is a line above the board")
    }
}
