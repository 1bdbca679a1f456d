import Foundation
import Logging
import SQLiteSupport

/// After the experiments: the model adapts plot.py, plot.py runs through gloveboxd (with the same fix-up
/// attempts as a run), its figures come back into the workspace's `figures/`, and the model describes each one
/// in notes.txt. The scientist never runs plot.py itself.
public struct PlotStage: Sendable {
    public let loop: ExperimentLoop

    public init(loop: ExperimentLoop) { self.loop = loop }

    public struct Report: Sendable, Equatable {
        /// Paths relative to the workspace ("figures/val_loss.png").
        public var figures: [String]
        public var succeeded: Bool
        public var message: String
    }

    /// Runs plot.py in the sandbox and moves the image files it wrote or changed into figures/. Fixed code of the
    /// scientist's, executed inside the run: plot.py itself runs as __main__ in the same interpreter, and the
    /// figures are collected even when it calls sys.exit.
    static let wrapper = """
        import os, runpy, shutil, sys, time
        start = time.time() - 1
        sys.argv = ["plot.py"]
        try:
            runpy.run_path("plot.py", run_name="__main__")
        finally:
            os.makedirs("figures", exist_ok=True)
            for top, dirs, names in os.walk("."):
                dirs[:] = [d for d in dirs if d != "figures" and not d.startswith("run_") and not d.startswith(".")]
                for name in names:
                    path = os.path.join(top, name)
                    if name.lower().endswith((".png", ".pdf", ".svg", ".jpg", ".jpeg")) and not os.path.islink(path) and os.path.getmtime(path) >= start:
                        shutil.copyfile(path, os.path.join("figures", os.path.relpath(path, ".").replace(os.sep, "__")))
        """

    var command: String { "\(loop.settings.interpreter) plot.py" }

    public func run(successfulRuns: [Int]) throws(ScientistError) -> Report {
        let prompts = loop.prompts
        let system = prompts.render("experiment_system", ["editable_files": loop.editableList])
        let code = (try? loop.workspace.files.read("plot.py")) ?? nil
        var messages = [ChatMessage(.user, prompts.render("plot_start", [
            "runs": (["run_0 (baseline)"] + successfulRuns.map { "run_\($0)" }).joined(separator: ", "), "command": command,
            "plot_code": "plot.py\n```python\n\(code ?? "(plot.py is missing: create it with an empty SEARCH part)")\n```",
        ]))]
        var attempt = 0
        while true {
            if loop.runner.isCancelled { throw .interrupted }
            let reply = try loop.model.chat(system: system, messages: messages, stage: "plot", ideaID: loop.idea.id).reply.text
            messages.append(ChatMessage(.assistant, reply))
            let parsed = EditBlockParser.parse(reply)
            let outcome = EditApplier(files: loop.workspace.files).apply(parsed.blocks)
            if !outcome.changed.isEmpty {
                _ = try loop.workspace.commit(outcome.changed, message: "plot attempt \(attempt + 1): edit \(outcome.changed.joined(separator: ", "))")
            }
            attempt += 1
            let problems = parsed.problems + outcome.refusals
            if !problems.isEmpty {
                if attempt >= loop.settings.maxAttempts { return Report(figures: [], succeeded: false, message: "plot.py edits did not apply: \(problems[0])") }
                messages.append(ChatMessage(.user, prompts.render("edits_refused", ["problems": problems.joined(separator: "\n\n"), "applied": ""])))
                continue
            }
            let (succeeded, figures, feedback, facts) = try execute(attempt: attempt)
            if succeeded {
                messages.append(ChatMessage(.user, prompts.render("plot_notes", ["figures": figures.joined(separator: ", ")])))
                try describeFigures(system: system, messages: messages)
                return Report(figures: figures, succeeded: true, message: "\(figures.count) figure(s)")
            }
            if attempt >= loop.settings.maxAttempts {
                return Report(figures: [], succeeded: false, message: "plot.py failed \(attempt) times: \(facts)")
            }
            messages.append(ChatMessage(.user, prompts.render("plot_failed", [
                "facts": facts, "stderr": feedback.isEmpty ? "(empty)" : feedback, "attempt": "\(attempt)",
                "max_attempts": "\(loop.settings.maxAttempts)", "command": command,
            ])))
        }
    }

    /// One sandboxed run of plot.py: whether it succeeded with at least one figure, the figures, the stderr tail,
    /// and gloveboxd's facts when it did not.
    func execute(attempt: Int) throws(ScientistError) -> (Bool, [String], String, String) {
        let commit = try loop.workspace.head()
        try loop.removeStaleOutput("figures")
        let started = Date().timeIntervalSince1970
        let run = try loop.runner.run(argv: [loop.settings.interpreter, "-c", Self.wrapper], workdir: loop.workspace.path,
                                      outputs: ["figures"], label: "\(loop.label) plot")
        let figures = ((try? FileManager.default.contentsOfDirectory(atPath: loop.workspace.path + "/figures")) ?? []).sorted().map { "figures/" + $0 }
        var row = ExperimentRunRow(experimentID: loop.experiment.id, stage: .plot, number: attempt, attempt: attempt, run: run, commit: commit,
                                   metrics: nil, outcome: .failed, message: "", startedAt: started, finishedAt: Date().timeIntervalSince1970)
        row.outputs = loop.outputDigests("figures")
        switch run.status {
        case "ok" where !figures.isEmpty: row.outcome = .ok
        case "ok": row.message = "plot.py exited normally but wrote no PNG, PDF or SVG file into the workspace."
        case "cancelled": row.outcome = .cancelled
        case "refused": row.outcome = .refused
        default: row.message = RunFailureReport.describe(run, number: attempt).replacingOccurrences(of: "Run \(attempt)", with: "plot.py")
        }
        if row.outcome == .refused { row.message = run.message }
        try loop.archived { () throws(SQLiteError) in try loop.store.insertExperimentRun(row, launchID: loop.launchID) }
        if row.outcome == .cancelled { throw .interrupted }
        if row.outcome == .refused { throw .run("gloveboxd refused to run plot.py: \(run.message)") }
        return (row.outcome == .ok, figures, run.stderrTail, row.message)
    }

    /// The model's notes on the figures; a reply whose edits do not apply is told so once, then left.
    func describeFigures(system: String, messages: [ChatMessage]) throws(ScientistError) {
        var messages = messages
        for round in 1...2 {
            let reply = try loop.model.chat(system: system, messages: messages, stage: "plot notes", ideaID: loop.idea.id).reply.text
            messages.append(ChatMessage(.assistant, reply))
            let parsed = EditBlockParser.parse(reply)
            let outcome = EditApplier(files: loop.workspace.files).apply(parsed.blocks)
            if !outcome.changed.isEmpty { _ = try loop.workspace.commit(outcome.changed, message: "notes.txt: the figures") }
            let problems = parsed.problems + outcome.refusals
            if problems.isEmpty || round == 2 { return }
            messages.append(ChatMessage(.user, prompts.render("edits_refused", ["problems": problems.joined(separator: "\n\n"), "applied": ""])))
        }
    }

    private var prompts: PromptLibrary { loop.prompts }
}
