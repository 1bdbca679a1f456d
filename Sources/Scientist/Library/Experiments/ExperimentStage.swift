import Foundation
import GloveboxClient
import Logging
import SQLiteSupport

/// The experiment stage of `scientist experiment` and `scientist launch`: checks that gloveboxd serves the
/// template's policy, prepares (or reopens) the idea's workspace, and runs its loop, recording how it ended.
public struct ExperimentStage: Sendable {
    public struct Options: Sendable {
        public var maxRuns = 5
        public var maxAttempts = 4
        /// Default ~/.local/share/glovebox/results.
        public var results: String = ExperimentStage.defaultResults
        /// Nil: $GLOVEBOX_SOCKET, else gloveboxd's default socket.
        public var socket: String?
        /// Nil: the template's scientist.toml, else the template's name.
        public var policy: String?
        /// The workspace directory's prefix: the launch's name, or today's date.
        public var prefix: String = ExperimentStage.today
        /// Told (idea, "run N") as each run starts, for the user's progress.
        public var progress: @Sendable (String, String) -> Void = { _, _ in }
        public init() {}
    }

    public static var defaultResults: String { UserDirectories.data + "/glovebox/results" }

    public static var today: String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyyMMdd"
        return formatter.string(from: Date())
    }

    /// `path`, else $GLOVEBOX_SOCKET, else gloveboxd's default socket.
    public static func resolvedSocket(_ path: String?) -> String { DaemonConnection.socketPath(path) }

    public let session: Session
    public let options: Options
    public let sink: OutputSink
    public let canceller: RunCanceller

    public init(session: Session, options: Options, sink: OutputSink, canceller: RunCanceller) {
        self.session = session; self.options = options; self.sink = sink; self.canceller = canceller
    }

    public struct Outcome: Sendable {
        public var report: ExperimentLoop.Report
        public var workspace: String
        public var experiment: ExperimentRow
    }

    /// The policy the template's runs use, checked against what gloveboxd serves to this user.
    public func policy(for template: ResearchTemplate, settings: TemplateSettings, socket: String) throws(ScientistError) -> String {
        let name = options.policy ?? settings.policy ?? template.name
        try Self.checkServed(name, socket: socket, missing: "the operator adds /etc/glovebox/policies/\(name).toml, or give --policy")
        return name
    }

    /// Refuses, before anything is spent, a policy gloveboxd does not serve or does not open to this user.
    public static func checkServed(_ name: String, socket: String, missing: String) throws(ScientistError) {
        let served: [String: Bool]
        do {
            served = Dictionary(try DaemonQueries.policies(socketPath: socket).map { ($0.template, $0.usable) }) { a, _ in a }
        } catch {
            throw .run("cannot ask gloveboxd at \(socket) for its policies: \(error)")
        }
        guard let usable = served[name] else {
            throw .run("gloveboxd at \(socket) serves no policy called \(name) (it serves \(served.keys.sorted().joined(separator: ", "))); \(missing)")
        }
        guard usable else { throw .run("gloveboxd's policy \(name) is not open to you (its [access] section); ask the operator, or give --policy") }
    }

    public func run(idea: ArchivedIdea, template: ResearchTemplate) throws(ScientistError) -> Outcome {
        let settings = try TemplateSettings.load(template: template)
        let socket = Self.resolvedSocket(options.socket)
        let policy = try policy(for: template, settings: settings, socket: socket)
        let (workspace, created) = try IdeaWorkspace.prepare(template: template, ideaName: idea.proposal.name, prefix: options.prefix,
                                                             results: options.results, editable: settings.editable)
        if created { try writeNotes(workspace, idea: idea) }
        let experiment: ExperimentRow
        do {
            experiment = try session.store.beginExperiment(ideaID: idea.id, launchID: session.launchID, workspace: workspace.path,
                                                           policy: policy, socket: socket)
        } catch { throw .archive(error) }
        let prompts = try PromptLibrary.load(for: template)
        var loopSettings = ExperimentLoop.Settings()
        loopSettings.maxRuns = options.maxRuns
        loopSettings.maxAttempts = options.maxAttempts
        loopSettings.interpreter = settings.interpreter
        let name = idea.proposal.name, progress = options.progress
        loopSettings.onRun = { progress(name, $0 == 0 ? "the baseline run" : "run \($0)") }
        let loop = ExperimentLoop(model: session.model, store: session.store, launchID: session.launchID, template: template, idea: idea,
                                  workspace: workspace, experiment: experiment,
                                  runner: GloveboxRunner(socketPath: socket, policy: policy, sink: sink, canceller: canceller),
                                  prompts: prompts, settings: loopSettings, logger: session.logger)
        do {
            var report = try loop.run()
            if report.ending != .failed, let plot = try plots(loop) {
                report.message += plot.succeeded ? "; plots: \(plot.figures.joined(separator: ", "))" : "; plots failed: \(plot.message)"
            }
            if report.ending != .failed { try writeProvenance(loop) }
            let status = report.ending == .failed ? "failed" : "completed"
            finish(experiment.id, status, report.message)
            return Outcome(report: report, workspace: workspace.path, experiment: experiment)
        } catch {
            let status = switch error {
            case .interrupted: "interrupted"
            case _ where error.isBudgetStop: "budget exhausted"
            default: "failed"
            }
            finish(experiment.id, status, error.description)
            throw error
        }
    }

    /// The plot stage, unless no run has results or plot.py already succeeded after the last run (resume).
    func plots(_ loop: ExperimentLoop) throws(ScientistError) -> PlotStage.Report? {
        let rows: [ExperimentRunRow]
        do { rows = try session.store.experimentRuns(experimentID: loop.experiment.id) } catch { throw .archive(error) }
        let successful = rows.filter { $0.stage == .experiment && $0.outcome == .ok }.map(\.number)
        guard !successful.isEmpty else { return nil }
        if let lastPlot = rows.lastIndex(where: { $0.stage == .plot && $0.outcome == .ok }),
           let lastRun = rows.lastIndex(where: { $0.stage == .experiment }), lastPlot > lastRun {
            return nil
        }
        return try PlotStage(loop: loop).run(successfulRuns: successful)
    }

    /// latex/environment.tex and latex/results.tex, generated from what was measured (ProvenanceTeX), and
    /// committed: the write-up uses them, and the model never types such facts.
    func writeProvenance(_ loop: ExperimentLoop) throws(ScientistError) {
        let rows: [ExperimentRunRow]
        let software: SoftwareProbeRow?
        do {
            rows = try session.store.experimentRuns(experimentID: loop.experiment.id)
            software = try session.store.softwareProbes(experimentID: loop.experiment.id).last
        } catch { throw .archive(error) }
        let (files, defaulted) = try ProvenanceTeX.write(into: loop.workspace, runs: rows, software: software)
        _ = try loop.workspace.commit(files, message: "latex: environment.tex, results.tex and compute.tex from the measured runs"
                                      + (defaulted ? ", and the default paper" : ""))
    }

    private func finish(_ id: Int64, _ status: String, _ message: String) {
        do { try session.store.finishExperiment(id, status: status, message: message) }
        catch { session.logger.error("cannot record the end of the experiment", metadata: ["error": "\(error)"]) }
    }

    /// notes.txt begins with the idea, as in the AI Scientist; the baseline's results follow once known.
    func writeNotes(_ workspace: IdeaWorkspace, idea: ArchivedIdea) throws(ScientistError) {
        let existing: String?
        do { existing = try workspace.files.read("notes.txt") } catch { throw .workspace("\(error)") }
        let header = "# Title: \(idea.proposal.title)\n# Experiment description: \(idea.proposal.experiment)\n"
        let rest = existing.map { $0.isEmpty ? "" : "\n" + $0 } ?? ""
        do { try workspace.files.write("notes.txt", header + rest) } catch { throw .workspace("\(error)") }
        _ = try workspace.commit(["notes.txt"], message: "notes.txt: the idea \(idea.proposal.name)")
    }
}

extension PromptLibrary {
    /// ~/.config/glovebox/prompts ($XDG_CONFIG_HOME honoured).
    public static var userDirectory: String { UserDirectories.config + "/glovebox/prompts" }

    /// The defaults, under the template's prompts/, under the user's ~/.config/glovebox/prompts.
    public static func load(for template: ResearchTemplate) throws(ScientistError) -> PromptLibrary {
        try load(overrides: [template.directory + "/prompts", userDirectory])
    }
}
