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
        _ = try lab.nobodysHome(home, extra: "[http]\nattempts = 1\n")
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

    /// The launch's report: a static page whose every image and link resolves, that a real headless Chromium
    /// loads and draws; the screenshot is kept in .build/test-artefacts/.
    func testTheReportOpensInAHeadlessBrowser() throws {
        let lab = try ScriptedLab()
        defer { lab.server.stop() }
        let home = try home("home-report", lab: lab)
        script(lab)
        let result = try launch(lab, home: home)
        XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
        let report = home + "/results/launch1/report/index.html"
        XCTAssertTrue(result.stdout.contains("report: \(report)\n"), result.stdout)
        let html = try String(contentsOfFile: report, encoding: .utf8)
        XCTAssertFalse(html.contains("<script"), "the page needs no JavaScript")
        for name in ["first", "second"] {
            XCTAssertTrue(html.contains("<section id=\"idea-\(name)\">"), name)
            XCTAssertTrue(html.contains("<a href=\"papers/\(name).pdf\">"), name)
            XCTAssertTrue(html.contains("alt=\"the first page of \(name).pdf\""), "the first page, drawn through gloveboxd: \(name)")
        }
        XCTAssertTrue(html.contains("<b>Review: Reject</b>, overall 4/10"), html)
        XCTAssertTrue(html.contains("Unrelated"), "the papers the novelty check consulted")

        // Every image is embedded and decodes to an image; every link reaches a file or an anchor of the page.
        var images = 0
        for source in LatexChecks.matches(#"<img [^>]*src="([^"]*)""#, in: html) {
            let parts = source.split(separator: ",", maxSplits: 1)
            XCTAssertEqual(parts.count, 2, source.prefix(40) + "")
            let data = try XCTUnwrap(Data(base64Encoded: String(parts[1])), source.prefix(40) + "")
            XCTAssertTrue(data.starts(with: [0x89, 0x50, 0x4E, 0x47]) || String(decoding: data.prefix(200), as: UTF8.self).contains("<svg"), source.prefix(40) + "")
            images += 1
        }
        XCTAssertEqual(images, 4, "two plots and two first pages")
        for target in LatexChecks.matches(#"<a href="([^"]*)""#, in: html) {
            if target.hasPrefix("#") {
                XCTAssertTrue(html.contains("id=\"\(target.dropFirst())\""), target)
            } else {
                let file = home + "/results/launch1/report/" + target
                XCTAssertTrue(FileManager.default.contents(atPath: file)?.starts(with: Array("%PDF-".utf8)) ?? false, target)
            }
        }

        // A real browser loads it and draws it.
        let chromium = "/usr/bin/chromium"
        guard FileManager.default.isExecutableFile(atPath: chromium) else {
            throw XCTSkip("chromium is not installed (scripts/install-deps.sh installs it): the page was checked without a browser")
        }
        let profile = directory.file("chromium-profile")
        let artefacts = DaemonFixture.repositoryRoot + "/.build/test-artefacts"
        try FileManager.default.createDirectory(atPath: artefacts, withIntermediateDirectories: true)
        let screenshot = artefacts + "/launch-report.png"
        try? FileManager.default.removeItem(atPath: screenshot)
        let flags = ["/usr/bin/timeout", "60", chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=" + profile,
                     "--window-size=1280,2400"]
        let environment = ["PATH": "/usr/bin:/bin", "HOME": directory.path]
        let dom = try DaemonFixture.run(flags + ["--dump-dom", "file://" + report], environment: environment)
        XCTAssertEqual(dom.status, 0, dom.stderr)
        XCTAssertTrue(dom.stdout.contains("<h1>Launch 1</h1>"), dom.stdout.prefix(500) + "")
        XCTAssertTrue(dom.stdout.contains("first: The First Idea"), "the browser parsed the whole page")
        let drawn = try DaemonFixture.run(flags + ["--screenshot=" + screenshot, "file://" + report], environment: environment)
        XCTAssertEqual(drawn.status, 0, drawn.stderr)
        let png = try XCTUnwrap(FileManager.default.contents(atPath: screenshot), "the screenshot is kept at \(screenshot)")
        XCTAssertTrue(png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        XCTAssertGreaterThan(png.count, 20_000, "a drawn page, not a blank one")
    }
}
