import Foundation
import GloveboxClient
import XCTest
@testable import GloveboxTestSupport
@testable import Scientist

/// The reviewer against a scripted model, with a paper's PDF read by pdftotext through a real gloveboxd under
/// the shipped poppler policy (and compiled under the shipped latex policy).
final class ReviewTests: XCTestCase {
    nonisolated(unsafe) private static var daemon: DaemonFixture!
    private var lab: ScriptedLab!
    private var directory: TemporaryDirectory!
    private var session: Session!
    private var daemon: DaemonFixture { Self.daemon }

    override class func setUp() {
        super.setUp()
        signal(SIGPIPE, SIG_IGN)
        do {
            let shipped = { (name: String) in try String(contentsOfFile: DaemonFixture.repositoryRoot + "/policies/\(name).toml", encoding: .utf8) }
            daemon = try DaemonFixture(policies: ["latex": try shipped("latex"), "poppler": try shipped("poppler")])
        } catch { fatalError("cannot start gloveboxd: \(error)") }
    }

    override class func tearDown() {
        daemon?.stop()
        XCTAssertEqual(HostState.gloveboxCgroups(of: daemon), [], "cgroups left behind")
        super.tearDown()
    }

    override func setUpWithError() throws {
        directory = try TemporaryDirectory("scientist-review")
        lab = try ScriptedLab()
        try lab.config(archive: directory.file("scientist.db"), model: "gpt-4o-2024-08-06")
            .write(toFile: directory.file("scientist.toml"), atomically: false, encoding: .utf8)
        session = try Session.open(config: try ScientistConfig.load(path: directory.file("scientist.toml"), required: true), command: "test",
                                   logger: quietLogger())
    }

    override func tearDown() {
        lab?.server.stop()
        directory?.remove()
    }

    // MARK: - Helpers

    private var sink: OutputSink { OutputSink(fd: open("/dev/null", O_WRONLY | O_CLOEXEC)) }

    static func review(_ overall: Int, decision: String = "Reject", weaknesses: [String] = ["Only one seed."], thought: String = "Considered.",
                       originality: Int = 2) -> String {
        Wire.fenced(thought, [
            "Thought": thought, "Summary": "The paper doubles a score.", "Strengths": ["Clear."], "Weaknesses": weaknesses,
            "Originality": originality, "Quality": 2, "Clarity": 3, "Significance": 2, "Questions": ["Why?"], "Limitations": ["Toy task."],
            "Ethical Concerns": false, "Soundness": 2, "Presentation": 3, "Contribution": 2, "Overall": overall, "Confidence": 3,
            "Decision": decision,
        ] as [String: Any])
    }

    /// A one-page PDF compiled through gloveboxd under the latex policy.
    private func pdf(_ body: String) throws -> String {
        let paper = directory.file("paper")
        try FileManager.default.createDirectory(atPath: paper, withIntermediateDirectories: true)
        try "\\documentclass{article}\n\\begin{document}\n\(body)\n\\end{document}\n".write(toFile: paper + "/template.tex", atomically: false, encoding: .utf8)
        let compiler = LatexCompiler(runner: GloveboxRunner(socketPath: daemon.socket, policy: "latex", sink: sink, canceller: RunCanceller()))
        return try XCTUnwrap(try compiler.compile(directory: paper, label: "paper").pdf)
    }

    private func stage(ensemble: Int = 3, reflections: Int = 2) -> ReviewStage {
        var options = ReviewStage.Options()
        options.reviewer.ensemble = ensemble
        options.reviewer.reflections = reflections
        options.socket = daemon.socket
        return ReviewStage(session: session, options: options, sink: sink, canceller: RunCanceller())
    }

    private func userMessages(_ n: Int) -> [String] { lab.messages(n).filter { $0["role"] == "user" }.compactMap { $0["content"] } }

    // MARK: - Tests

    /// A PDF's text comes from pdftotext in the sandbox; three reviews (one malformed, repaired), a
    /// meta-review with the ensemble's scores averaged into it, reflection until "I am done", and the review
    /// stored with its cost.
    func testAPDFIsReviewedByAnEnsembleAMetaReviewAndReflection() throws {
        let pdf = try pdf("Doubling a constant doubles the score of a zebra-striped toy task.")
        lab.say(Self.review(3, originality: 1))
        lab.say("THOUGHT: fine.\n```json\n{\"Summary\": \"cut short\", \"Overall\": 11\n```")
        lab.say(Self.review(6, decision: "Accept", originality: 3))
        lab.say(Self.review(4, originality: 2))
        lab.say(Self.review(5, decision: "Reject", thought: "The area chair weighs three reviews.", originality: 4))
        lab.say(Self.review(5, decision: "Reject", weaknesses: ["Only one seed.", "No error bars."], thought: "Sharper."))
        lab.say(Self.review(5, decision: "Reject", weaknesses: ["Only one seed.", "No error bars."], thought: "Nothing to add. I am done"))
        let outcome = try stage().review(file: pdf, idea: nil, paper: nil, prompts: PromptLibrary())

        XCTAssertEqual(lab.chatRequests.count, 7, "three reviews (one repaired), the meta-review, two reflections")
        let first = userMessages(0).first ?? ""
        XCTAssertTrue(first.contains("zebra-striped toy task"), "the reviewer saw pdftotext's text: \(first)")
        XCTAssertTrue(first.contains("Learning-Rate Warmup Stabilises Full-Batch Adam"), "and the shipped example")
        XCTAssertTrue(first.contains("\"Decision\": \"Reject\""), "with its review")
        XCTAssertEqual(lab.chatRequests[0].json?["temperature"] as? Double, 0.75, "the ensemble samples at its temperature")
        XCTAssertTrue(userMessages(2).last?.contains("Overall must be an integer from 1 to 10") ?? false
                      || userMessages(2).last?.contains("could not be used") ?? false, "the malformed review got the repair prompt")
        XCTAssertTrue(userMessages(4).first?.contains("Here are the 3 reviews of the paper") ?? false)

        XCTAssertEqual(outcome.result.ensemble.map(\.overall), [3, 6, 4])
        // The reflection started from the meta-review with the ensemble's scores averaged into it.
        let reflected = try XCTUnwrap(lab.messages(5).first { $0["role"] == "assistant" }?["content"])
        let averaged = try XCTUnwrap(try? JSONReply.decode(ReviewForm.self, from: reflected).get())
        XCTAssertEqual(averaged.originality, 2, "the ensemble's mean (1, 3, 2), not the meta-review's 4")
        XCTAssertEqual(averaged.overall, 4, "the ensemble's mean 4.33, rounded, not the meta-review's 5")
        XCTAssertEqual(averaged.thought, "The area chair weighs three reviews.")
        let review = outcome.row.review
        XCTAssertEqual(review.weaknesses, ["Only one seed.", "No error bars."], "the reflected review")
        XCTAssertEqual(review.overall, 5)
        XCTAssertEqual(outcome.result.reflections, 2)
        XCTAssertEqual(review.decision, "Reject")
        XCTAssertNil(outcome.row.computeFlag)

        let stored = try XCTUnwrap(session.store.reviews().last)
        XCTAssertEqual(stored, outcome.row)
        XCTAssertEqual(stored.sourceSHA256.count, 64)
        XCTAssertEqual(stored.inputTokens, 700, "every call's tokens: seven calls of 100")
        XCTAssertEqual(try XCTUnwrap(stored.costUSD), 7 * (100 * 2.5 + 100 * 10) / 1_000_000, accuracy: 1e-12)
        let text = try DaemonQueries.show(socketPath: daemon.socket, runID: try XCTUnwrap(stored.textRunID))
        XCTAssertEqual(text.template, "poppler", "pdftotext ran under the poppler policy")
        XCTAssertEqual(text.status.rawValue, "ok")
    }

    /// A paper whose record flags a gain bought with more compute: a review that does not name it gets it as a
    /// weakness; one that names it is left as it is. The reviewer is shown the record.
    func testAReviewThatMissesTheComputeFlagGetsItAdded() throws {
        let paper = directory.file("flagged")
        try FileManager.default.createDirectory(atPath: paper, withIntermediateDirectories: true)
        try "A paper about a larger score.".write(toFile: paper + "/paper.txt", atomically: false, encoding: .utf8)
        let flag = ComputeReport.Flag(run: 1, gloveboxRunID: 12, measures: ["parameters 2.00× the baseline's"], changedResults: ["toy.acc 0.9 against the baseline's 0.5"],
                                      text: "Run 1's results differ from the baseline's and it used more compute: parameters 2.00× the baseline's.")
        let record = PaperRecord(createdAt: 0, status: "compiled", idea: .init(id: 1, name: "i", title: "T", template: "toy"),
                                 experiment: .init(id: 1, workspace: "/w", policy: "toy"), files: [:],
                                 manifest: .init(gpus: [], gpuCount: 0, cpu: "AMD EPYC", versions: ["python": "3.11.2"], software: nil, softwareRunID: nil, runs: []),
                                 compute: [.init(run: 0, wallSeconds: 10, parameters: 1000), .init(run: 1, wallSeconds: 10, parameters: 2000, ratios: ["parameters": 2])],
                                 claims: [], figures: [], bibliography: [], citationRounds: [],
                                 checks: .init(unresolved: [], fixRounds: 0, chktexRounds: 0, compileRuns: [], computeFlags: [flag]),
                                 cost: .init(calls: [], inputTokens: 0, outputTokens: 0, usd: 0, unpricedCalls: 0))
        try record.encoded().write(to: URL(fileURLWithPath: paper + "/paper.json"))

        lab.say(Self.review(7, decision: "Accept", weaknesses: ["The writing is terse."]))
        let missed = try stage(ensemble: 1, reflections: 0).review(file: paper + "/paper.txt", idea: nil, paper: nil, prompts: PromptLibrary())
        let shown = userMessages(0).first ?? ""
        XCTAssertTrue(shown.contains("FLAG: Run 1's results differ from the baseline's"), shown)
        XCTAssertTrue(shown.contains("Run 1: wall 10.0 s, 2000 parameters; against the baseline: parameters 2.00×"), shown)
        XCTAssertEqual(missed.row.review.weaknesses.count, 2)
        XCTAssertTrue(missed.row.review.weaknesses[1].hasPrefix("The measured compute: Run 1's results differ"), missed.row.review.weaknesses[1])
        XCTAssertTrue(missed.row.computeFlag?.hasPrefix("added: ") ?? false)

        lab.say(Self.review(5, weaknesses: ["The gain comes with twice the parameters of the baseline."]))
        let named = try stage(ensemble: 1, reflections: 0).review(file: paper + "/paper.txt", idea: nil, paper: nil, prompts: PromptLibrary())
        XCTAssertEqual(named.row.review.weaknesses.count, 1)
        XCTAssertEqual(named.row.computeFlag, "named by the reviewer")
    }

    /// A file that is not a PDF, or a symbolic link, is refused before anything runs; a broken PDF is
    /// pdftotext's failure, named.
    func testWhatIsNotAPDFIsRefusedAndABrokenOneIsNamed() throws {
        let fake = directory.file("fake.pdf")
        try "#!/bin/sh\necho not a pdf\n".write(toFile: fake, atomically: false, encoding: .utf8)
        guard case .workspace(let message)? = expectError(ScientistError.self, { try self.stage().review(file: fake, idea: nil, paper: nil, prompts: PromptLibrary()) })
        else { return XCTFail("another error than the one expected") }
        XCTAssertTrue(message.hasSuffix("fake.pdf is not a PDF (nor a .txt or .md text)"), message)
        let broken = directory.file("broken.pdf")
        try "%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n".write(toFile: broken, atomically: false, encoding: .utf8)
        guard case .run(let failure)? = expectError(ScientistError.self, { try self.stage().review(file: broken, idea: nil, paper: nil, prompts: PromptLibrary()) })
        else { return XCTFail("another error than the one expected") }
        XCTAssertTrue(failure.hasPrefix("pdftotext could not read \(broken)"), failure)
        // A paper is read as the file it is, never through a symbolic link (to a secret, say).
        let link = directory.file("link.txt")
        try "A paper.".write(toFile: directory.file("real.txt"), atomically: false, encoding: .utf8)
        XCTAssertEqual(symlink(directory.file("real.txt"), link), 0)
        guard case .workspace(let linked)? = expectError(ScientistError.self, { try self.stage().review(file: link, idea: nil, paper: nil, prompts: PromptLibrary()) })
        else { return XCTFail("another error than the one expected") }
        XCTAssertTrue(linked.hasSuffix("link.txt is not a regular file"), linked)
        XCTAssertEqual(lab.chatRequests.count, 0, "no model call for a paper that cannot be read")
    }

    func testReviewExamplesComeInPairsThatAreReviews() throws {
        let examples = directory.file("examples")
        try FileManager.default.createDirectory(atPath: examples, withIntermediateDirectories: true)
        try "A paper.".write(toFile: examples + "/one.txt", atomically: false, encoding: .utf8)
        guard case .template(let lone)? = expectError(ScientistError.self, { try ReviewExample.load(directory: examples) }) else { return XCTFail("another error than the one expected") }
        XCTAssertTrue(lone.hasSuffix("one.txt: an example is a pair, one.txt (the paper) and one.json (its review)"), lone)
        try #"{"Summary": "x", "Overall": 12}"#.write(toFile: examples + "/one.json", atomically: false, encoding: .utf8)
        guard case .template(let bad)? = expectError(ScientistError.self, { try ReviewExample.load(directory: examples) }) else { return XCTFail("another error than the one expected") }
        XCTAssertTrue(bad.contains("one.json: not a review in the form"), bad)
        let shipped = try XCTUnwrap(ReviewExample.shipped.first)
        try shipped.review.write(toFile: examples + "/one.json", atomically: false, encoding: .utf8)
        XCTAssertEqual(try ReviewExample.load(directory: examples).map(\.name), ["one"])
    }

    /// `scientist review` as the unprivileged user nobody, on a text file, with the stored review printed.
    func testTheCommandReviewsAsAnUnprivilegedUser() throws {
        let home = directory.file("home")
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        try "A short paper on scores.".write(toFile: home + "/paper.txt", atomically: false, encoding: .utf8)
        try String(contentsOfFile: directory.file("scientist.toml"), encoding: .utf8)
            .replacingOccurrences(of: directory.file("scientist.db"), with: home + "/scientist.db")
            .write(toFile: home + "/scientist.toml", atomically: false, encoding: .utf8)
        XCTAssertEqual(try DaemonFixture.run(["/bin/chown", "-R", "65534:65534", home]).status, 0)
        lab.say(Self.review(4))
        lab.say(Self.review(4, thought: "Same. I am done"))
        let result = try DaemonFixture.run(ExperimentLoopTests.asNobody + [
                                            DaemonFixture.buildDirectory + "/scientist", "review", home + "/paper.txt", "--reviews", "1", "--reflections", "3",
                                            "--config", home + "/scientist.toml", "--socket", daemon.socket],
                                           environment: ["PATH": "/usr/bin:/bin", "HOME": home])
        XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
        XCTAssertTrue(result.stdout.hasPrefix("Review 1 of \(home)/paper.txt by gpt-4o-2024-08-06: Reject, overall 4/10, confidence 3/5\n"), result.stdout)
        XCTAssertTrue(result.stdout.contains("1 review(s) in the ensemble, 1 reflection round(s)"), result.stdout)
        XCTAssertEqual(try ScientistStore(path: home + "/scientist.db").reviews().count, 1)
    }

    // MARK: - Calibration

    /// Each sample paper's scripted review: (its title, the decision, the overall score).
    static let sampleReviews = [("Training Small Residual Networks", "Accept", 7), ("A Novel Deep Architecture", "Accept", 6),
                                ("How Much Do Random Seeds Move", "Reject", 6), ("The Constant 0.7183 Improves", "Reject", 2)]

    private func scriptSample(_ only: Set<Int> = [0, 1, 2, 3]) {
        for (index, (title, decision, overall)) in Self.sampleReviews.enumerated() where only.contains(index) {
            lab.say(Self.review(overall, decision: decision), when: title)
        }
    }

    /// The shipped sample reviewed by a scripted reviewer: the figures are those computed by hand, and a second
    /// run takes every review from the cache.
    func testCalibrationOnTheSampleMatchesAHandComputation() throws {
        let set = try CalibrationSet.load(directory: DaemonFixture.repositoryRoot + "/datasets/review-sample")
        XCTAssertEqual(set.papers.map(\.id), ["sample-1", "sample-2", "sample-3", "sample-4"])
        XCTAssertEqual(set.papers.map(\.accepted), [true, false, true, false])
        XCTAssertEqual(set.papers.first?.humanOverall, 6.7)
        scriptSample()
        let calibrator = Calibrator(stage: stage(ensemble: 1, reflections: 0), prompts: PromptLibrary())
        let report = try calibrator.run(set) { _ in }
        // Human A, R, A, R; reviewer A (7), A (6), R (6), R (2): TP 1, FN 1, FP 1, TN 1.
        let m = report.metrics
        XCTAssertEqual([m.truePositives, m.falseNegatives, m.falsePositives, m.trueNegatives], [1, 1, 1, 1])
        XCTAssertEqual(m.accuracy, 0.5)
        XCTAssertEqual(m.balancedAccuracy, 0.5)
        XCTAssertEqual(m.f1, 0.5, "2·1 / (2·1 + 1 + 1)")
        XCTAssertEqual(m.auc, 0.875, "accepted {7, 6} against rejected {6, 2}: 1 + 1 + ½ (the tie) + 1 of 4 pairs")
        XCTAssertEqual(m.costUSD, 4 * (100 * 2.5 + 100 * 10) / 1_000_000, accuracy: 1e-12)
        XCTAssertEqual(report.results.map(\.cached), [false, false, false, false])
        XCTAssertEqual(lab.chatRequests.count, 4)

        let again = try calibrator.run(set) { _ in }
        XCTAssertEqual(lab.chatRequests.count, 4, "nothing is paid for twice")
        XCTAssertEqual(again.results.map(\.cached), [true, true, true, true])
        XCTAssertEqual(again.metrics, report.metrics)
        // The meta-review and reflections use the session model's own temperature and reply limit: another of
        // either is another review, which the cache must not answer.
        for change in [{ (c: inout ScientistConfig) in c.model.temperature = 0.2 }, { (c: inout ScientistConfig) in c.model.maxTokens = 512 }] {
            var config = session.config
            change(&config)
            let other = try Session.open(config: config, command: "test", logger: quietLogger())
            let changed = Calibrator(stage: ReviewStage(session: other, options: stage(ensemble: 1, reflections: 0).options, sink: sink,
                                                        canceller: RunCanceller()), prompts: PromptLibrary())
            XCTAssertNotEqual(changed.settings, calibrator.settings)
        }

        XCTAssertEqual(CalibrationMetrics([(true, true, 1), (true, true, 2)], costUSD: 0, unpricedReviews: 0).auc, nil, "one class only")
        XCTAssertEqual(CalibrationMetrics([(false, false, 1)], costUSD: 0, unpricedReviews: 0).f1, nil, "no accept anywhere")
    }

    /// `scientist calibrate` as nobody stops when the model fails, keeps what it reviewed, and resumes there.
    func testACalibrationResumesAfterAFailureWithoutPayingTwice() throws {
        let home = directory.file("calibrating")
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        XCTAssertEqual(try DaemonFixture.run(["/bin/cp", "-r", DaemonFixture.repositoryRoot + "/datasets/review-sample", home + "/sample"]).status, 0)
        try String(contentsOfFile: directory.file("scientist.toml"), encoding: .utf8)
            .replacingOccurrences(of: directory.file("scientist.db"), with: home + "/scientist.db")
            .appending("\n[http]\nattempts = 1\n")
            .write(toFile: home + "/scientist.toml", atomically: false, encoding: .utf8)
        XCTAssertEqual(try DaemonFixture.run(["/bin/chown", "-R", "65534:65534", home]).status, 0)
        let command = ExperimentLoopTests.asNobody + [DaemonFixture.buildDirectory + "/scientist", "calibrate", home + "/sample", "--reviews", "1",
                                                      "--reflections", "0", "--config", home + "/scientist.toml", "--socket", daemon.socket]
        let environment = ["PATH": "/usr/bin:/bin", "HOME": home]
        scriptSample([0, 1])
        let failed = try DaemonFixture.run(command, environment: environment)
        XCTAssertEqual(failed.status, 1, failed.stdout + failed.stderr)
        XCTAssertTrue(failed.stdout.contains("sample-2: human Reject, reviewer Accept (overall 6)\n"), failed.stdout)
        let paid = lab.chatRequests.count

        scriptSample([2, 3])
        let resumed = try DaemonFixture.run(command, environment: environment)
        XCTAssertEqual(resumed.status, 0, resumed.stdout + resumed.stderr)
        XCTAssertTrue(resumed.stdout.contains("sample-1: human Accept, reviewer Accept (overall 7), cached\n"), resumed.stdout)
        XCTAssertTrue(resumed.stdout.contains("sample-3: human Accept, reviewer Reject (overall 6)\n"), resumed.stdout)
        XCTAssertTrue(resumed.stdout.contains("accuracy 0.500, balanced accuracy 0.500, F1 0.500, AUC 0.875"), resumed.stdout)
        XCTAssertEqual(lab.chatRequests.count - paid, 2, "only the two papers not yet reviewed")
    }
}
