import Foundation
import Logging
import Synchronization

/// `scientist launch`: the pipeline as it stands, in one resumable launch. New ideas from the template, a
/// novelty check of each, then the experiments (with plots) of the ideas judged novel and the paper of each
/// whose experiments completed, up to `parallel` ideas at once against one gloveboxd, whose queue leases the
/// GPUs. The review joins it later.
public struct LaunchPipeline: Sendable {
    public struct Options: Sendable {
        public var ideas = 2
        public var parallel = 1
        public var reflections = 3
        public var noveltyRounds = 10
        public var resultsPerQuery = 10
        public var experiment = ExperimentStage.Options()
        /// Nil: no write-up (and so no review).
        public var writeup: WriteupStage.Options? = WriteupStage.Options()
        /// Nil: no review.
        public var review: ReviewStage.Options? = ReviewStage.Options()
        public init() {}
    }

    public let session: Session
    public let template: ResearchTemplate
    public let options: Options
    public let sink: OutputSink
    public let canceller: RunCanceller

    public init(session: Session, template: ResearchTemplate, options: Options, sink: OutputSink, canceller: RunCanceller) {
        self.session = session; self.template = template; self.options = options; self.sink = sink; self.canceller = canceller
    }

    /// What became of one idea.
    /// Whether a stage's outcome in an IdeaResult (its paper or review) is one that --resume takes up again:
    /// it failed, was interrupted or was stopped by the budget. A paper "not compiled" ran to its end.
    public static func stoppedShort(_ outcome: String) -> Bool {
        outcome.hasPrefix("failed") || outcome.hasPrefix("interrupted") || outcome.hasPrefix("stopped")
    }

    public struct IdeaResult: Sendable {
        public var idea: ArchivedIdea
        public var novelty: NoveltyDecision?
        /// The experiment's ending, or why it did not run or failed.
        public var experiment: String
        public var workspace: String?
        public var succeeded: Bool
        /// The write-up's status ("compiled", "compiled with problems", …, or why it did not run), nil when none was asked.
        public var paper: String? = nil
        public var pdf: String? = nil
        /// The review's decision and overall score, or why there is none; nil when none was asked.
        public var review: String? = nil
    }

    public struct Report: Sendable {
        public var generated: Int
        public var results: [IdeaResult] = []
        /// Set when the budget stopped the launch: what was refused.
        public var budgetStop: String?
        public var interrupted = false
    }

    /// Runs every stage; `progress` gets a line per step. Throws only for what ends the whole launch at once
    /// (the archive, an unreachable gloveboxd before anything ran); a budget stop or an interrupt ends it with
    /// a report of what finished.
    public func run(progress: @escaping @Sendable (LaunchEvent) -> Void) throws(ScientistError) -> Report {
        // Refuse up front, before spending anything, when gloveboxd does not serve the template's policy.
        let settings = try TemplateSettings.load(template: template)
        var experimentOptions = options.experiment
        experimentOptions.progress = { idea, detail in progress(LaunchEvent(idea: idea, stage: "experiment", detail: detail)) }
        let stage = ExperimentStage(session: session, options: experimentOptions, sink: sink, canceller: canceller)
        _ = try stage.policy(for: template, settings: settings, socket: stageSocket)

        let prompts = try PromptLibrary.load(for: template)
        let generator = IdeaGenerator(model: session.model, store: session.store, template: template,
                                      reflections: options.reflections, prompts: prompts, logger: session.logger)
        // A resumed launch keeps the ideas it archived and generates only the rest.
        let kept = try launchIdeas()
        for idea in kept { progress(LaunchEvent(idea: nil, stage: "idea", detail: "kept \(idea.proposal.name) from before")) }
        var ideas = kept
        var report = Report(generated: kept.count)
        if options.ideas > kept.count {
            let generated = try generator.generate(count: options.ideas - kept.count) { progress(LaunchEvent(idea: nil, stage: "idea", detail: Self.describe($0))) }
            ideas += generated.archived
            report.generated = ideas.count
            if let stop = generated.stoppedByBudget {
                report.budgetStop = stop
                report.results = ideas.map { IdeaResult(idea: $0, novelty: nil, experiment: "not run: the budget ran out", succeeded: false) }
                return report
            }
        }

        var novel: [ArchivedIdea] = []
        let literature = try session.literature()
        let checker = NoveltyChecker(model: session.model, literature: literature, store: session.store, template: template,
                                     rounds: options.noveltyRounds, resultsPerQuery: options.resultsPerQuery, prompts: prompts,
                                     logger: session.logger)
        for idea in ideas {
            if canceller.isCancelled { report.interrupted = true; break }
            if let decided = idea.novelty, decided != .failed {
                progress(LaunchEvent(idea: idea.proposal.name, stage: "novelty", detail: "\(decided.rawValue) (checked before)"))
                if decided == .novel { novel.append(idea) } else {
                    report.results.append(IdeaResult(idea: idea, novelty: decided, experiment: "not run: judged \(decided.rawValue)", succeeded: false))
                }
                continue
            }
            do throws(ScientistError) {
                let outcome = try checker.check(idea)
                progress(LaunchEvent(idea: idea.proposal.name, stage: "novelty", detail: "\(outcome.decision.rawValue): \(outcome.reasons)"))
                if outcome.decision == .novel { novel.append(idea) } else {
                    report.results.append(IdeaResult(idea: idea, novelty: outcome.decision, experiment: "not run: judged \(outcome.decision.rawValue)", succeeded: false))
                }
            } catch where error.isBudgetStop {
                report.budgetStop = error.description
                report.results.append(IdeaResult(idea: idea, novelty: nil, experiment: "not run: the budget ran out", succeeded: false))
                return report
            }
        }
        if report.interrupted { return report }

        report.results += experiments(novel, stage: stage, progress: progress, report: &report)
        return report
    }

    var stageSocket: String { ExperimentStage.resolvedSocket(options.experiment.socket) }

    /// The ideas this launch generated before (on `--resume`), oldest first.
    func launchIdeas() throws(ScientistError) -> [ArchivedIdea] {
        do { return try session.store.ideas(template: template.name).filter { $0.launchID == session.launchID && $0.source == .generated } }
        catch { throw .archive(error) }
    }

    /// The idea's experiment in this launch, when it completed before (on `--resume`).
    func completedExperiment(_ idea: ArchivedIdea) -> ExperimentRow? {
        (try? session.store.experiments(ideaID: idea.id))?.last { $0.launchID == session.launchID && $0.status == "completed" }
    }

    /// The last paper of the idea's experiment in `experiment` (its workspace) whose write-up ran to its end.
    func finishedPaper(_ idea: ArchivedIdea, experiment: String?) -> PaperRow? {
        guard let experiment else { return nil }
        let experiments = (try? session.store.experiments(ideaID: idea.id)) ?? []
        guard let row = experiments.last(where: { $0.workspace == experiment }) else { return nil }
        return (try? session.store.papers(ideaID: idea.id))?.last { $0.experimentID == row.id && $0.ranToItsEnd }
    }

    /// The novel ideas' experiments, `parallel` at a time; each worker takes the next idea until none is left
    /// or the launch is stopping.
    func experiments(_ ideas: [ArchivedIdea], stage: ExperimentStage, progress: @escaping @Sendable (LaunchEvent) -> Void,
                     report: inout Report) -> [IdeaResult] {
        let shared = Mutex(Shared())
        let group = DispatchGroup()
        for _ in 0..<max(1, min(options.parallel, ideas.count)) {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                while true {
                    let index: Int? = shared.withLock { state in
                        guard state.next < ideas.count, state.budgetStop == nil, !state.interrupted else { return nil }
                        state.next += 1
                        return state.next - 1
                    }
                    guard let index else { return }
                    let idea = ideas[index]
                    let result = experiment(idea, stage: stage, progress: progress, shared: shared)
                    var finished = result
                    if result.succeeded, let writeup = options.writeup {
                        finished = write(result, options: writeup, progress: progress, shared: shared)
                        if finished.pdf != nil, let review = options.review {
                            finished = self.review(finished, options: review, progress: progress, shared: shared)
                        }
                    }
                    shared.withLock { $0.results[index] = finished }
                }
            }
        }
        group.wait()
        let state = shared.withLock { $0 }
        report.budgetStop = report.budgetStop ?? state.budgetStop
        report.interrupted = report.interrupted || state.interrupted
        return ideas.indices.map { state.results[$0] ?? IdeaResult(idea: ideas[$0], novelty: .novel, experiment: "not run: the launch stopped first", succeeded: false) }
    }

    /// What the workers share.
    struct Shared {
        var next = 0
        var results: [Int: IdeaResult] = [:]
        var budgetStop: String?
        var interrupted = false
    }

    /// A stage's outcome for the launch's report: what `body` returns, or how it stopped short, in the forms
    /// stoppedShort reads ("interrupted", "stopped: …", "failed: …"). An interrupt or a budget stop is noted
    /// in `shared`, so that the other workers take no next idea.
    func outcome(_ shared: borrowing Mutex<Shared>, _ body: () throws(ScientistError) -> String) -> String {
        do {
            return try body()
        } catch .interrupted {
            shared.withLock { $0.interrupted = true }
            return "interrupted"
        } catch where error.isBudgetStop {
            shared.withLock { $0.budgetStop = error.description }
            return "stopped: \(error.description)"
        } catch {
            return "failed: \(error.description)"
        }
    }

    /// An idea's experiments, unless they completed before in this launch.
    func experiment(_ idea: ArchivedIdea, stage: ExperimentStage, progress: @escaping @Sendable (LaunchEvent) -> Void,
                    shared: borrowing Mutex<Shared>) -> IdeaResult {
        if let done = completedExperiment(idea) {
            progress(LaunchEvent(idea: idea.proposal.name, stage: "experiment", detail: "completed before"))
            return IdeaResult(idea: idea, novelty: .novel, experiment: "completed before: \(done.message ?? "")", workspace: done.workspace, succeeded: true)
        }
        progress(LaunchEvent(idea: idea.proposal.name, stage: "experiment", detail: "starting"))
        var workspace: String?
        var succeeded = false
        let ending = outcome(shared) { () throws(ScientistError) -> String in
            let outcome = try stage.run(idea: idea, template: template)
            workspace = outcome.workspace
            succeeded = outcome.report.ending != .failed
            return "\(outcome.report.ending.rawValue): \(outcome.report.message)"
        }
        let result = IdeaResult(idea: idea, novelty: .novel, experiment: ending, workspace: workspace, succeeded: succeeded)
        progress(LaunchEvent(idea: idea.proposal.name, stage: "experiment", detail: result.experiment))
        return result
    }

    /// The paper of an idea whose experiments completed.
    func write(_ result: IdeaResult, options writeup: WriteupStage.Options, progress: @escaping @Sendable (LaunchEvent) -> Void,
               shared: borrowing Mutex<Shared>) -> IdeaResult {
        var result = result
        if let paper = finishedPaper(result.idea, experiment: result.workspace) {
            result.paper = paper.status
            result.pdf = paper.pdf
            progress(LaunchEvent(idea: result.idea.proposal.name, stage: "writeup", detail: "\(paper.status) before"))
            return result
        }
        var writeupOptions = writeup  // its socket, when none is given, is the experiment's (WriteupStage.run)
        let name = result.idea.proposal.name
        writeupOptions.progress = { line in
            progress(LaunchEvent(idea: name, stage: "writeup", detail: line.hasPrefix(name + ": ") ? String(line.dropFirst(name.count + 2)) : line))
        }
        progress(LaunchEvent(idea: result.idea.proposal.name, stage: "writeup", detail: "starting"))
        var pdf: String?
        let idea = result.idea
        result.paper = outcome(shared) { () throws(ScientistError) -> String in
            let outcome = try WriteupStage(session: session, options: writeupOptions, sink: sink, canceller: canceller).run(idea: idea, template: template)
            pdf = outcome.pdf
            return outcome.status
        }
        result.pdf = pdf
        progress(LaunchEvent(idea: result.idea.proposal.name, stage: "writeup", detail: result.paper ?? ""))
        return result
    }

    /// The review of an idea's compiled paper.
    func review(_ result: IdeaResult, options review: ReviewStage.Options, progress: @escaping @Sendable (LaunchEvent) -> Void,
                shared: borrowing Mutex<Shared>) -> IdeaResult {
        var result = result
        // The paper the write-up just finished, or found finished: the one this launch reviews.
        guard let paper = finishedPaper(result.idea, experiment: result.workspace), let pdf = paper.pdf else { return result }
        if let earlier = (try? session.store.reviews(ideaID: result.idea.id))?.last(where: { $0.paperID == paper.id }) {
            result.review = "\(earlier.review.decision), overall \(earlier.review.overall)/10 (reviewed before)"
            progress(LaunchEvent(idea: result.idea.proposal.name, stage: "review", detail: result.review ?? ""))
            return result
        }
        var reviewOptions = review
        reviewOptions.socket = review.socket ?? options.experiment.socket
        progress(LaunchEvent(idea: result.idea.proposal.name, stage: "review", detail: "starting"))
        let idea = result.idea
        result.review = outcome(shared) { () throws(ScientistError) -> String in
            let prompts = try PromptLibrary.load(for: template)
            let outcome = try ReviewStage(session: session, options: reviewOptions, sink: sink, canceller: canceller)
                .review(file: pdf, idea: idea, paper: paper, prompts: prompts)
            return "\(outcome.row.review.decision), overall \(outcome.row.review.overall)/10"
                + (outcome.row.computeFlag.map { "; compute flag \($0.hasPrefix("added") ? "added" : "named")" } ?? "")
        }
        progress(LaunchEvent(idea: result.idea.proposal.name, stage: "review", detail: result.review ?? ""))
        return result
    }

    static func describe(_ outcome: IdeaGenerationReport.Outcome) -> String {
        switch outcome {
        case let .archived(idea): "archived \(idea.proposal.name): \(idea.proposal.title)"
        case let .rejectedDuplicate(name, reason): "rejected \(name) as a duplicate: \(reason)"
        case let .failed(message): "failed: \(message)"
        }
    }
}
