import Foundation
import GloveboxClient
import XCTest
@testable import GloveboxTestSupport
@testable import Scientist

/// `scientist launch` of two ideas from ideas to reviews, as the unprivileged user nobody, against a real
/// gloveboxd and a scripted model: stopped in each stage in turn (the model refuses one request there) and
/// resumed with `--resume`, it ends with every idea's paper compiled and reviewed, and no request the model
/// answered is ever sent again: what was paid for is replayed.
final class LaunchResumeTests: XCTestCase {
    nonisolated(unsafe) private static var daemon: DaemonFixture!
    private var directory: TemporaryDirectory!
    private var daemon: DaemonFixture { Self.daemon }

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
        directory = try TemporaryDirectory("scientist-resume")
        let root = directory.file("toy")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try #"{"system": "You are a careful researcher.", "task_description": "Raise the score."}"#.write(toFile: root + "/prompt.json", atomically: false, encoding: .utf8)
        try "[]".write(toFile: root + "/seed_ideas.json", atomically: false, encoding: .utf8)
        try WriteupTests.experiment.write(toFile: root + "/experiment.py", atomically: false, encoding: .utf8)
        try WriteupTests.plot.write(toFile: root + "/plot.py", atomically: false, encoding: .utf8)
    }

    override func tearDown() {
        directory?.remove()
    }

    /// Every reply of an uninterrupted launch of the ideas `first` and `second`, queued by the stage that asks
    /// (its conversation's opening), and by idea where a stage's replies differ from one to the next: a stage
    /// that stops in one idea leaves the other ideas' replies as they were.
    private func script(_ lab: ScriptedLab) {
        lab.say(ScriptedLab.idea("first", title: "The First Idea", done: true), when: "Propose the next research idea")
        lab.say(ScriptedLab.idea("second", title: "The Second Idea", done: true), when: "Propose the next research idea")
        for title in ["The First Idea", "The Second Idea"] {
            lab.say(ScriptedLab.query("raising a score"), when: "Round 1/")
            lab.find(LiteratureWire.semanticScholar([("n1", "Unrelated")]))
            lab.say(ScriptedLab.decision("novel", "Nothing like it."), when: "Round 1/")
            lab.say(ExperimentLoopTests.edit("SCORE = 1.0", "SCORE = 2.0"), when: "The idea to test: \(title).")
            lab.say("ALL_COMPLETED", when: "The idea to test: \(title).")
            lab.say("plot.py is fine as it is.", when: "The experiments are over.")
            lab.say(ExperimentLoopTests.edit("", "scores.png: the score of the baseline and of run 1.", file: "notes.txt"), when: "The experiments are over.")
            WriteupTests.scriptWriteup(lab)
            lab.say(ReviewTests.review(4, weaknesses: ["A single toy task."]), when: "The paper to review")
        }
    }

    private func launch(_ lab: ScriptedLab, home: String, resume: Int64? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        let options = resume.map { ["--resume", "\($0)"] } ?? ["--template", "toy", "--ideas", "2", "--citation-rounds", "2", "--reviews", "1",
                                                                 "--reflections", "0", "--templates-dir", directory.path, "--results", home + "/results",
                                                                 "--socket", daemon.socket]
        return try DaemonFixture.run(ExperimentLoopTests.asNobody + [DaemonFixture.buildDirectory + "/scientist", "launch", "--config", home + "/scientist.toml"]
                                     + options, environment: ["PATH": "/usr/bin:/bin", "HOME": home])
    }

    /// The stages, each with a request that fails once in it.
    static let stops: [(stage: String, marker: String)] = [
        ("ideas", #""Name":"first""#),
        ("novelty", "Round 1/2"),
        ("experiment", "Run 1 finished"),
        ("writeup", "Write the Results section"),
        ("review", "The paper to review"),
    ]

    /// A home for nobody with a config pointing at `lab`.
    private func home(_ name: String, lab: ScriptedLab) throws -> String {
        let home = directory.file(name)
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        try """
            [model]
            base_url = "\(lab.server.baseURL)/v1"
            name = "local-model"

            [literature]
            engine = "semanticscholar"
            base_url = "\(lab.server.baseURL)"
            min_interval = 0.01

            [ideas]
            reflections = 0

            [novelty]
            rounds = 2

            [http]
            attempts = 1

            [archive]
            path = "\(home)/scientist.db"
            """.write(toFile: home + "/scientist.toml", atomically: false, encoding: .utf8)
        XCTAssertEqual(try DaemonFixture.run(["/bin/chown", "-R", "65534:65534", home]).status, 0)
        return home
    }

    func testALaunchStoppedInEachStageResumesWithoutPayingTwice() throws {
        // The model calls an uninterrupted launch pays for.
        let reference = try ScriptedLab()
        defer { reference.server.stop() }
        script(reference)
        let whole = try launch(reference, home: try home("home-reference", lab: reference))
        XCTAssertEqual(whole.status, 0, whole.stdout + whole.stderr)
        let paid = reference.chatRequests.count

        for (stage, marker) in Self.stops {
            let lab = try ScriptedLab()
            defer { lab.server.stop() }
            let home = try home("home-" + stage, lab: lab)
            script(lab)
            lab.failOnce(when: marker)

            let stopped = try launch(lab, home: home)
            XCTAssertNotEqual(stopped.status, 0, "\(stage): the launch stops short: \(stopped.stdout)\(stopped.stderr)")
            XCTAssertEqual(lab.refusedCount, 1, "\(stage): the planted failure happened")
            XCTAssertTrue(stopped.stderr.contains("scientist launch --resume"), "\(stage): \(stopped.stderr)")
            let id = try XCTUnwrap(Int64(try XCTUnwrap(stopped.stdout.split(separator: "\n").first?.split(separator: " ").dropFirst().first)),
                                   stopped.stdout)

            let resumed = try launch(lab, home: home, resume: id)
            XCTAssertEqual(resumed.status, 0, "\(stage): \(resumed.stdout)\(resumed.stderr)")
            XCTAssertTrue(resumed.stdout.hasPrefix("launch \(id), resumed\n"), resumed.stdout)

            let store = try ScientistStore(path: home + "/scientist.db")
            let ideas = try store.ideas(template: "toy").filter { $0.launchID == id }
            XCTAssertEqual(ideas.map(\.proposal.name).sorted(), ["first", "second"], stage)
            for idea in ideas {
                XCTAssertEqual(idea.novelty, .novel, "\(stage): \(idea.proposal.name)")
                XCTAssertEqual(try store.papers(ideaID: idea.id).last?.status, "compiled", "\(stage): \(idea.proposal.name)")
                XCTAssertEqual(try store.reviews(ideaID: idea.id).count, 1, "\(stage): \(idea.proposal.name) reviewed once")
                let experiment = try XCTUnwrap(store.experiments(ideaID: idea.id).last)
                let runs = try store.experimentRuns(experimentID: experiment.id).filter { $0.stage == .experiment && $0.outcome == .ok }
                XCTAssertEqual(runs.map(\.number), [1], "\(stage): \(idea.proposal.name)'s run 1 ran once")
            }
            // The model answered as many requests as for the uninterrupted launch: what was paid for was replayed.
            XCTAssertEqual(lab.chatRequests.count - lab.refusedCount, paid, stage)
            if stage == "writeup" {
                let replayed = try store.calls(ideaID: try XCTUnwrap(ideas.first { $0.proposal.name == "first" }).id, stages: ["writeup"], since: 0)
                XCTAssertFalse(replayed.filter { $0.outcome.hasPrefix("replayed call ") }.isEmpty, "the write-up's first sections were replayed")
            }
        }
    }
}
