import Digests
import Foundation
import GloveboxSystem
import Logging
import SQLiteSupport

/// The experiment stage of one idea, as in the AI Scientist's `perform_experiments.py`: the model edits the
/// workspace's code with search/replace blocks, each change runs as `python experiment.py --out_dir=run_i`
/// through gloveboxd, and the results (or the failure, with gloveboxd's facts) go back to the model, until it
/// replies ALL_COMPLETED, the runs run out, or a run fails `maxAttempts` times in a row.
///
/// Nothing the model wrote runs outside a sandbox: every execution goes through `runner`. Every run is
/// recorded in the archive as it ends, so an interrupted loop resumes after its last finished run and never
/// repeats one.
public struct ExperimentLoop: Sendable {
    public struct Settings: Sendable {
        public var maxRuns = 5
        public var maxAttempts = 4
        /// The template's interpreter (the default is Debian's Python).
        public var interpreter = "/usr/bin/python3"
        /// Told the number of each run as it starts, for the user's progress.
        public var onRun: @Sendable (Int) -> Void = { _ in }
        public init() {}
    }

    public let model: MeteredModel
    public let store: ScientistStore
    public let launchID: Int64?
    public let template: ResearchTemplate
    public let idea: ArchivedIdea
    public let workspace: IdeaWorkspace
    public let experiment: ExperimentRow
    public let runner: any ExperimentRunner
    public let prompts: PromptLibrary
    public let settings: Settings
    let logger: Logger

    public init(model: MeteredModel, store: ScientistStore, launchID: Int64?, template: ResearchTemplate, idea: ArchivedIdea,
                workspace: IdeaWorkspace, experiment: ExperimentRow, runner: any ExperimentRunner, prompts: PromptLibrary,
                settings: Settings, logger: Logger) {
        self.model = model; self.store = store; self.launchID = launchID; self.template = template; self.idea = idea
        self.workspace = workspace; self.experiment = experiment; self.runner = runner; self.prompts = prompts
        self.settings = settings; self.logger = logger
    }

    /// How the loop ended.
    public enum Ending: String, Sendable, Equatable {
        /// The model replied ALL_COMPLETED.
        case completed
        /// `maxRuns` runs finished without ALL_COMPLETED.
        case runsExhausted = "runs exhausted"
        /// A run failed `maxAttempts` times in a row (or the model could not produce an edit that applies).
        case failed
    }

    public struct Report: Sendable, Equatable {
        public var ending: Ending
        /// Experiment runs that finished with usable results (not counting the baseline).
        public var successfulRuns: Int
        public var message: String
    }

    var command: String { "\(settings.interpreter) experiment.py --out_dir=run_i" }
    var label: String { idea.proposal.name }

    /// Runs the loop to its end. Throws for what stops it from outside: the budget (`.budget`), an interrupt
    /// (`.interrupted`), an unreachable daemon or model.
    public func run() throws(ScientistError) -> Report {
        let history = try archived { () throws(SQLiteError) in try store.experimentRuns(experimentID: experiment.id) }
        let baseline = try baselineResults(history)
        try noteBaseline(baseline)
        try probeSoftware()
        let finished = history.filter { $0.stage == .experiment && $0.outcome == .ok }
        var next = (finished.map(\.number).max() ?? 0) + 1
        var successes = finished.count
        // A run that failed before the interruption counts towards its attempts when resumed.
        var attempt = 0
        if let last = history.last, last.stage == .experiment, last.number == next, last.outcome == .failed { attempt = last.attempt }
        if next > settings.maxRuns {
            return Report(ending: .runsExhausted, successfulRuns: successes, message: prompts.render("runs_exhausted", ["max_runs": "\(settings.maxRuns)"]))
        }
        let system = prompts.render("experiment_system", ["editable_files": editableList])
        var messages: [ChatMessage] = []
        if history.contains(where: { $0.stage == .experiment }) {
            messages.append(ChatMessage(.user, prompts.render("experiment_resume", commonValues(baseline).merging([
                "history": describe(history), "next_run": "\(next)",
            ]) { $1 })))
        } else {
            messages.append(ChatMessage(.user, prompts.render("experiment_start", commonValues(baseline))))
        }

        while true {
            if runner.isCancelled { throw .interrupted }
            let reply = try model.chat(system: system, messages: messages, stage: "experiment", ideaID: idea.id).reply.text
            messages.append(ChatMessage(.assistant, reply))
            let parsed = EditBlockParser.parse(reply)
            let outcome = EditApplier(files: workspace.files).apply(parsed.blocks)
            let done = reply.contains("ALL_COMPLETED")
            if !outcome.changed.isEmpty {
                let step = done ? "experiments done" : "experiment run \(next) attempt \(attempt + 1)"
                _ = try workspace.commit(outcome.changed, message: "\(step): edit \(outcome.changed.joined(separator: ", "))")
            }
            let problems = parsed.problems + outcome.refusals
            if done && problems.isEmpty {
                return Report(ending: .completed, successfulRuns: successes, message: "the model replied ALL_COMPLETED after \(successes) run(s)")
            }
            if !problems.isEmpty || parsed.blocks.isEmpty {
                attempt += 1
                if attempt >= settings.maxAttempts {
                    return Report(ending: .failed, successfulRuns: successes,
                                  message: "no change applied in \(attempt) replies in a row: \(problems.first ?? "no SEARCH/REPLACE block")")
                }
                if problems.isEmpty {
                    messages.append(ChatMessage(.user, prompts.render("no_edits", ["next_run": "\(next)", "command": command])))
                } else {
                    let applied = outcome.applied.isEmpty ? "" : "Blocks \(outcome.applied.map(String.init).joined(separator: ", ")) were applied.\n"
                    messages.append(ChatMessage(.user, prompts.render("edits_refused", ["problems": problems.joined(separator: "\n\n"), "applied": applied])))
                }
                continue
            }

            attempt += 1
            let (row, feedback) = try execute(number: next, attempt: attempt)
            if row.outcome == .ok {
                successes += 1
                attempt = 0
                if next >= settings.maxRuns {
                    return Report(ending: .runsExhausted, successfulRuns: successes,
                                  message: "all \(settings.maxRuns) runs used without ALL_COMPLETED")
                }
                next += 1
                messages.append(ChatMessage(.user, prompts.render("run_results", [
                    "run": "\(next - 1)", "results": feedback, "next_run": "\(next)", "max_runs": "\(settings.maxRuns)", "command": command,
                ])))
            } else {
                if attempt >= settings.maxAttempts {
                    return Report(ending: .failed, successfulRuns: successes,
                                  message: "run \(next) failed \(attempt) times in a row; the last: \(row.message)")
                }
                messages.append(ChatMessage(.user, prompts.render("run_failed", [
                    "run": "\(next)", "facts": row.message, "stderr": feedback.isEmpty ? "(empty)" : feedback,
                    "attempt": "\(attempt)", "max_attempts": "\(settings.maxAttempts)", "command": command,
                ])))
            }
        }
    }

    // MARK: - Runs

    /// Runs run_`number` in the sandbox and records it. Returns the row and what to tell the model: the
    /// results on success, the stderr tail on failure (the row's message holds gloveboxd's facts).
    func execute(number: Int, attempt: Int, stage: ExperimentRunRow.Stage = .experiment) throws(ScientistError) -> (ExperimentRunRow, String) {
        let directory = "run_\(number)"
        settings.onRun(number)
        let commit = try workspace.head()
        try removeStaleOutput(directory)
        let started = Date().timeIntervalSince1970
        let run = try runner.run(argv: [settings.interpreter, "experiment.py", "--out_dir=\(directory)"], workdir: workspace.path,
                                 outputs: [directory], label: "\(label) run \(number)")
        var row = ExperimentRunRow(experimentID: experiment.id, stage: stage, number: number, attempt: attempt, run: run,
                                   commit: commit, metrics: nil, outcome: .failed, message: "", startedAt: started,
                                   finishedAt: Date().timeIntervalSince1970)
        row.outputs = outputDigests(directory)
        var feedback = run.stderrTail
        switch run.status {
        case "ok":
            switch readMetrics(directory) {
            case .success(let metrics):
                row.outcome = .ok
                row.metrics = metrics.json
                feedback = metrics.json
            case .failure(let problem):
                row.message = "Run \(number) exited normally, but its results are unusable: \(problem.description)"
            }
        case "refused":
            row.outcome = .refused
            row.message = RunFailureReport.describe(run, number: number)
        case "cancelled":
            row.outcome = .cancelled
            row.message = RunFailureReport.describe(run, number: number)
        default:
            row.message = RunFailureReport.describe(run, number: number)
        }
        try archived { () throws(SQLiteError) in try store.insertExperimentRun(row, launchID: launchID) }
        logger.info("experiment run", metadata: ["idea": "\(label)", "run": "\(number)", "attempt": "\(attempt)",
                                                 "glovebox_run": "\(run.runID.map(String.init) ?? "-")", "status": "\(run.status)",
                                                 "outcome": "\(row.outcome.rawValue)"])
        if row.outcome == .cancelled { throw .interrupted }
        if row.outcome == .refused { throw .run(row.message) }
        return (row, feedback)
    }

    /// The SHA-256 of each regular file under `directory` in the workspace (what the run brought back), by its
    /// path in the workspace; symbolic links and other files are left out (outputs never bring them back).
    func outputDigests(_ directory: String) -> [String: String] {
        var digests: [String: String] = [:]
        let root = workspace.path + "/" + directory
        guard let walker = FileManager.default.enumerator(atPath: root) else { return [:] }
        while let relative = walker.nextObject() as? String {
            var st = stat()
            let path = root + "/" + relative
            guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, let data = FileManager.default.contents(atPath: path) else { continue }
            digests[directory + "/" + relative] = sha256Hex(Array(data))
        }
        return digests
    }

    func readMetrics(_ directory: String) -> Result<RunMetrics, RunMetrics.Problem> {
        let file = directory + "/final_info.json"
        let text: String?
        do { text = try workspace.files.read(file) } catch {
            return .failure(RunMetrics.Problem(description: "\(file): \(error)"))
        }
        guard let text else {
            return .failure(RunMetrics.Problem(description: "\(file) was not written. experiment.py must write it into the directory given by --out_dir."))
        }
        return RunMetrics.parse(text, file: file)
    }

    /// A retried run must not show the model the files of the attempt before it.
    func removeStaleOutput(_ directory: String) throws(ScientistError) {
        let path = workspace.path + "/" + directory
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        do { try FileManager.default.removeItem(atPath: path) } catch {
            throw .workspace("cannot remove the stale \(path): \(error.localizedDescription)")
        }
    }

    // MARK: - The baseline

    /// run_0's means: from the template's run_0 when it ships one, else from the baseline run recorded in the
    /// archive, else made once now through gloveboxd.
    func baselineResults(_ history: [ExperimentRunRow]) throws(ScientistError) -> String {
        if case .success(let metrics) = readMetrics("run_0") { return metrics.json }
        if let recorded = history.first(where: { $0.stage == .baseline && $0.outcome == .ok }), let metrics = recorded.metrics {
            return metrics
        }
        let (row, feedback) = try execute(number: 0, attempt: 1, stage: .baseline)
        guard row.outcome == .ok else {
            throw .run("the template's baseline (run_0) failed, so the experiments cannot start: \(row.message) \(feedback.suffix(500))")
        }
        return feedback
    }

    /// The software the runs see (SoftwareProbe), measured once per experiment, before its first run, in the
    /// sandbox under the template's policy. A probe that fails is recorded with why; the experiment goes on.
    func probeSoftware() throws(ScientistError) {
        let probes = try archived { () throws(SQLiteError) in try store.softwareProbes(experimentID: experiment.id) }
        if probes.contains(where: { $0.facts != nil }) { return }
        let code = ((try? workspace.files.read("experiment.py")) ?? nil) ?? template.code
        let run = try runner.run(argv: [settings.interpreter, "-c", SoftwareProbe.program] + SoftwareProbe.importedModules(code),
                                 workdir: workspace.path, outputs: [], label: "\(label) probe")
        var row = SoftwareProbeRow(experimentID: experiment.id, runID: run.runID, policyDigest: run.policyDigest,
                                   createdAt: Date().timeIntervalSince1970, facts: nil, problem: "")
        if run.status == "ok", let facts = SoftwareProbe.facts(fromOutput: run.stdoutTail) {
            row.facts = facts
        } else {
            row.problem = run.status == "ok" ? "the probe printed no facts" : RunFailureReport.describe(run, number: 0)
                + (run.stderrTail.isEmpty ? "" : " " + String(run.stderrTail.suffix(300)))
        }
        try archived { () throws(SQLiteError) in try store.insertSoftwareProbe(row) }
        if run.status == "cancelled" { throw .interrupted }
        if !row.problem.isEmpty { logger.warning("software probe failed", metadata: ["idea": "\(label)", "problem": "\(row.problem)"]) }
    }

    /// notes.txt gets the baseline's results once, under the idea written when the workspace was made.
    func noteBaseline(_ results: String) throws(ScientistError) {
        let notes: String?
        do { notes = try workspace.files.read("notes.txt") } catch { throw .workspace("\(error)") }
        guard let notes, !notes.contains("## Run 0: Baseline") else { return }
        let text = notes + (notes.hasSuffix("\n") ? "" : "\n") + "\n## Run 0: Baseline\nResults: \(results)\nDescription: the template's code, unchanged.\n"
        do { try workspace.files.write("notes.txt", text) } catch { throw .workspace("\(error)") }
        _ = try workspace.commit(["notes.txt"], message: "notes.txt: the baseline's results")
    }

    // MARK: - Prompt values

    var editableList: String { workspace.files.editable.sorted().joined(separator: ", ") }

    func commonValues(_ baseline: String) -> [String: String] {
        ["title": idea.proposal.title, "idea": idea.proposal.experiment, "max_runs": "\(settings.maxRuns)",
         "baseline_results": baseline, "command": command, "editable_files": editableList, "files": currentFiles()]
    }

    /// The editable files as they are now, each in a fence under its path.
    func currentFiles() -> String {
        workspace.files.editable.sorted().compactMap { name -> String? in
            guard let text = try? workspace.files.read(name) else { return nil }
            return "\(name)\n```\n\(text)\(text.hasSuffix("\n") || text.isEmpty ? "" : "\n")```"
        }.joined(separator: "\n\n")
    }

    func describe(_ history: [ExperimentRunRow]) -> String {
        history.filter { $0.stage == .experiment }.map { row in
            row.outcome == .ok ? "Run \(row.number) (commit \(row.commit.prefix(10))): \(row.metrics ?? "{}")"
                               : "Run \(row.number), attempt \(row.attempt): \(row.outcome.rawValue). \(row.message)"
        }.joined(separator: "\n")
    }

    @discardableResult
    func archived<T>(_ body: () throws(SQLiteError) -> T) throws(ScientistError) -> T {
        do { return try body() } catch { throw .archive(error) }
    }
}
