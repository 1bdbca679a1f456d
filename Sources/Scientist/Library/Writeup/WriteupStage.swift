import Digests
import Foundation
import GloveboxSystem
import Logging
import SQLiteSupport

/// The write-up of an idea whose experiments finished, after the AI Scientist's `perform_writeup.py`: the
/// model fills the paper (latex/template.tex) one section at a time and refines each once; up to
/// `citationRounds` rounds of "propose a query, choose papers" add citations from the literature search; a
/// second pass refines every section; then the checks (citations, figures, sections, references, the claims
/// check against the measured runs, chktex) and the compile through gloveboxd, each problem going back to the
/// model for a fix. The facts come from the measurement (environment.tex, results.tex, compute.tex), and
/// paper.json records what backs each of them.
///
/// The model edits only latex/template.tex, with SEARCH/REPLACE blocks; the bibliography block and the
/// inclusion of the generated files are the scientist's, put back after every edit. TeX never runs here.
public struct WriteupStage: Sendable {
    public struct Options: Sendable {
        public var citationRounds = 20
        public var resultsPerQuery = 5
        /// Rounds of fixes for check, claim and compile problems.
        public var fixRounds = 5
        /// Rounds of fixes for chktex's warnings.
        public var chktexRounds = 5
        /// Replies per step whose edits may fail to apply before the step is left as it is.
        public var editAttempts = 2
        /// Nil: $GLOVEBOX_SOCKET, else gloveboxd's default socket.
        public var socket: String?
        public var policy = LatexCompiler.defaultPolicy
        /// A line per step ("Introduction", "citations round 3: 2 added", "compiled"), for the user.
        public var progress: @Sendable (String) -> Void = { _ in }
        public init() {}
    }

    public let session: Session
    public let options: Options
    public let sink: OutputSink
    public let canceller: RunCanceller

    public init(session: Session, options: Options, sink: OutputSink, canceller: RunCanceller) {
        self.session = session; self.options = options; self.sink = sink; self.canceller = canceller
    }

    public struct Outcome: Sendable {
        /// "compiled", "compiled with problems" (the PDF exists, some checks failed), "not compiled".
        public var status: String
        /// The paper's directory: the workspace's latex/.
        public var directory: String
        public var pdf: String?
        public var record: PaperRecord
        public var unresolved: [String]
    }

    /// Writes the paper of `idea`'s last completed experiment.
    public func run(idea: ArchivedIdea, template: ResearchTemplate) throws(ScientistError) -> Outcome {
        let experiment = try completedExperiment(of: idea)
        let socket = ExperimentStage.resolvedSocket(options.socket ?? experiment.socket)
        try ExperimentStage.checkServed(options.policy, socket: socket,
                                        missing: "the operator installs the shipped policies/latex.toml as /etc/glovebox/policies/latex.toml")
        let workspace = IdeaWorkspace(path: experiment.workspace, editable: ["latex/template.tex"])
        let rows: [ExperimentRunRow]
        let software: SoftwareProbeRow?
        do {
            rows = try session.store.experimentRuns(experimentID: experiment.id)
            software = try session.store.softwareProbes(experimentID: experiment.id).last
        } catch { throw .archive(error) }
        let figures = try prepare(workspace, rows: rows, software: software)
        try restartFromUnfinished(workspace, experiment: experiment)
        let paperID: Int64
        let started = Date().timeIntervalSince1970
        do {
            paperID = try session.store.beginPaper(ideaID: idea.id, experimentID: experiment.id, launchID: session.launchID,
                                                   directory: workspace.path + "/latex", baseCommit: try workspace.head())
        } catch let error as ScientistError { throw error } catch let error as SQLiteError { throw .archive(error) }
        catch { throw .workspace("\(error)") }
        let compiler = LatexCompiler(runner: GloveboxRunner(socketPath: socket, policy: options.policy, sink: sink, canceller: canceller))
        let writer = PaperWriter(stage: self, idea: idea, template: template, workspace: workspace, rows: rows, software: software,
                                 figures: figures, compiler: compiler, prompts: try PromptLibrary.load(for: template))
        do throws(ScientistError) {
            let outcome = try writer.write(experiment: experiment, started: started)
            let digest = try save(outcome, workspace: workspace, idea: idea)
            finish(paperID, outcome.status, pdf: outcome.pdf, digest: digest,
                   message: outcome.unresolved.isEmpty ? nil : outcome.unresolved.joined(separator: "\n"))
            return outcome
        } catch {
            let status = switch error {
            case .interrupted: "interrupted"
            case _ where error.isBudgetStop: "budget exhausted"
            default: "failed"
            }
            finish(paperID, status, pdf: nil, digest: nil, message: error.description)
            throw error
        }
    }

    /// paper.json beside the PDF, the PDF copied to <workspace>/<idea>.pdf, and a commit; returns paper.json's
    /// SHA-256.
    func save(_ outcome: Outcome, workspace: IdeaWorkspace, idea: ArchivedIdea) throws(ScientistError) -> String {
        let data: Data
        do { data = try outcome.record.encoded() } catch { throw .workspace("cannot encode paper.json: \(error)") }
        do { try data.write(to: URL(fileURLWithPath: outcome.directory + "/" + PaperRecord.fileName)) }
        catch { throw .workspace("cannot write \(outcome.directory)/paper.json: \(error.localizedDescription)") }
        if let pdf = outcome.pdf {
            let copy = workspace.path + "/" + idea.proposal.name + ".pdf"
            try? FileManager.default.removeItem(atPath: copy)
            do { try FileManager.default.copyItem(atPath: pdf, toPath: copy) }
            catch { throw .workspace("cannot copy the PDF to \(copy): \(error.localizedDescription)") }
        }
        _ = try workspace.commit(["latex/template.tex", "latex/paper.json"], message: "write-up: \(outcome.status)")
        return sha256Hex(Array(data))
    }

    /// A write-up of this experiment that did not finish (interrupted, failed, stopped by the budget) started from
    /// a commit: the paper is put back as it was then, so the resumed write-up asks what it asked before and a
    /// resumed launch replays the replies it paid for.
    func restartFromUnfinished(_ workspace: IdeaWorkspace, experiment: ExperimentRow) throws(ScientistError) {
        let papers: [PaperRow]
        do { papers = try session.store.papers(ideaID: experiment.ideaID).filter { $0.experimentID == experiment.id } } catch { throw .archive(error) }
        guard let last = papers.last, !last.ranToItsEnd, let base = last.baseCommit else { return }
        let text = try workspace.git(["show", "\(base):latex/template.tex"])
        do { try workspace.files.write("latex/template.tex", text) } catch { throw .workspace("\(error)") }
        _ = try workspace.commit(["latex/template.tex"], message: "write-up: started again from \(base.prefix(10))")
    }

    /// The idea's last experiment that completed; the write-up needs its runs.
    func completedExperiment(of idea: ArchivedIdea) throws(ScientistError) -> ExperimentRow {
        let experiments: [ExperimentRow]
        do { experiments = try session.store.experiments(ideaID: idea.id) } catch { throw .archive(error) }
        guard let experiment = experiments.last(where: { $0.status == "completed" }) else {
            let last = experiments.last.map { " (its last experiment is \($0.status))" } ?? ""
            throw .template("\(idea.proposal.name) has no completed experiment to write about\(last); run scientist experiment \(idea.proposal.name) first")
        }
        return experiment
    }

    /// The paper's directory made ready: environment.tex, results.tex and compute.tex generated afresh from the
    /// archive, the default paper where the template has none, and the figures copied in beside the paper (the
    /// compile's sandbox sees only the paper's directory). Returns the figures' file names.
    func prepare(_ workspace: IdeaWorkspace, rows: [ExperimentRunRow], software: SoftwareProbeRow?) throws(ScientistError) -> [String] {
        let latex = workspace.path + "/latex"
        let (files, _) = try ProvenanceTeX.write(into: workspace, runs: rows, software: software)
        var figures: [String] = []
        for path in Self.figurePaths(rows) {
            let name = (path as NSString).lastPathComponent
            let bytes: [UInt8]?
            do { bytes = try workspace.files.readBytes(path, limit: PaperText.sizeLimit) } catch { throw .workspace("\(error)") }
            guard let bytes else { continue }
            do { try Data(bytes).write(to: URL(fileURLWithPath: latex + "/" + name)) }
            catch { throw .workspace("cannot copy \(path) beside the paper: \(error.localizedDescription)") }
            figures.append(name)
        }
        _ = try workspace.commit(files + figures.map { "latex/" + $0 }, message: "write-up: the measured facts and the figures")
        return figures
    }

    /// The image files of the last successful plot run that pdflatex can include.
    static func figurePaths(_ rows: [ExperimentRunRow]) -> [String] {
        guard let plot = rows.last(where: { $0.stage == .plot && $0.outcome == .ok }) else { return [] }
        return plot.outputs.keys.filter { [".png", ".pdf", ".jpg", ".jpeg"].contains(where: $0.lowercased().hasSuffix) }.sorted()
    }

    private func finish(_ id: Int64, _ status: String, pdf: String?, digest: String?, message: String?) {
        do { try session.store.finishPaper(id, status: status, pdf: pdf, recordSHA256: digest, message: message) }
        catch { session.logger.error("cannot record the end of the write-up", metadata: ["error": "\(error)"]) }
    }
}

/// One paper's writing: the model's steps on latex/template.tex, with the bibliography and the generated
/// files' inclusion kept by the scientist.
struct PaperWriter {
    let stage: WriteupStage
    let idea: ArchivedIdea
    let template: ResearchTemplate
    let workspace: IdeaWorkspace
    let rows: [ExperimentRunRow]
    let software: SoftwareProbeRow?
    let figures: [String]
    let compiler: LatexCompiler
    let prompts: PromptLibrary

    static let paperFile = "latex/template.tex"
    var model: MeteredModel { stage.session.model }
    var options: WriteupStage.Options { stage.options }
    var latex: String { workspace.path + "/latex" }

    /// The state a write-up carries from step to step.
    final class State {
        var bibliography = Bibliography()
        /// What the scientist put back after the model's last edit, told with the next prompt.
        var restored: [String] = []
        var citationRounds: [PaperRecord.CitationRound] = []
        var compileRuns: [Int64] = []
        var fixRounds = 0
        var chktexRounds = 0
    }

    func write(experiment: ExperimentRow, started: Double) throws(ScientistError) -> WriteupStage.Outcome {
        let state = State()
        state.bibliography = Bibliography.fromTemplate(try paper()).withSources(from: previousRecord()?.bibliography ?? [])
        try keep(state, previous: try paper(), message: "write-up: the bibliography and the generated files included")
        let system = try systemPrompt()
        let tips = Self.tips(prompts.render("writeup_tips", [:]))
        for (section, placeholder) in PaperDraft.sections {
            var messages = [ChatMessage(.user, prompts.render("writeup_section", [
                "section": section, "tips": tips[section] ?? "", "placeholder": placeholder, "paper": try paper(),
            ]) + notes(state))]
            options.progress("\(idea.proposal.name): writing the \(section)")
            try converse(&messages, system: system, state: state, step: "write-up: \(section)")
            messages.append(ChatMessage(.user, prompts.render("writeup_refine", ["section": section]) + notes(state)))
            try converse(&messages, system: system, state: state, step: "write-up: \(section), refined")
        }
        try cite(system: system, state: state)
        options.progress("\(idea.proposal.name): second pass over every section")
        for (section, _) in PaperDraft.sections {
            var messages = [ChatMessage(.user, prompts.render("writeup_second_refine", [
                "section": section, "tips": tips[section] ?? "", "paper": try paper(),
            ]) + notes(state))]
            try converse(&messages, system: system, state: state, step: "write-up: \(section), second pass")
        }
        let (compiled, unresolved) = try checkAndCompile(system: system, state: state)
        let status = compiled?.pdf == nil ? "not compiled" : unresolved.isEmpty ? "compiled" : "compiled with problems"
        let record = try makeRecord(experiment: experiment, state: state, status: status, unresolved: unresolved, started: started)
        return WriteupStage.Outcome(status: status, directory: latex, pdf: compiled?.pdf, record: record, unresolved: unresolved)
    }

    // MARK: - The model's edits

    /// One exchange: the model's reply, its edits applied to the paper (only latex/template.tex), what the
    /// scientist keeps put back, and a commit. Edits that do not apply are sent back, up to `editAttempts`
    /// replies; after that the step leaves the paper as it is. A reply with no edit leaves it as it is.
    func converse(_ messages: inout [ChatMessage], system: String, state: State, step: String) throws(ScientistError) {
        let files = workspace.files
        for attempt in 1...max(1, options.editAttempts) {
            if stage.canceller.isCancelled { throw .interrupted }
            let reply = try model.chat(system: system, messages: messages, stage: "writeup", ideaID: idea.id).reply.text
            messages.append(ChatMessage(.assistant, reply))
            let before = try paper()
            let parsed = EditBlockParser.parse(reply)
            let outcome = EditApplier(files: files).apply(parsed.blocks)
            state.restored = []
            if !outcome.changed.isEmpty { try keep(state, previous: before, message: step) }
            let problems = parsed.problems + outcome.refusals
            if problems.isEmpty || attempt == options.editAttempts { return }
            let applied = outcome.applied.isEmpty ? "" : "Blocks \(outcome.applied.map(String.init).joined(separator: ", ")) were applied.\n"
            messages.append(ChatMessage(.user, prompts.render("edits_refused", ["problems": problems.joined(separator: "\n\n"), "applied": applied]) + notes(state)))
        }
    }

    /// Puts back what the scientist keeps (the bibliography, the generated files' inclusion), and commits.
    func keep(_ state: State, previous: String, message: String) throws(ScientistError) {
        let (text, restored) = PaperDraft.enforce(try paper(), previous: previous, bibliography: state.bibliography)
        state.restored = restored
        do { try workspace.files.write(Self.paperFile, text) } catch { throw .workspace("\(error)") }
        _ = try workspace.commit([Self.paperFile], message: message)
    }

    /// The paper.json of an earlier write-up of this workspace, if any: its bibliography says where each entry
    /// the paper already holds came from.
    func previousRecord() -> PaperRecord? {
        guard let data = FileManager.default.contents(atPath: latex + "/" + PaperRecord.fileName) else { return nil }
        return try? PaperRecord.decode(data)
    }

    /// What was put back after the last edit, for the next prompt.
    func notes(_ state: State) -> String {
        state.restored.isEmpty ? "" : "\n\nNote: " + state.restored.joined(separator: " ")
    }

    func paper() throws(ScientistError) -> String {
        let text: String?
        do { text = try workspace.files.read(Self.paperFile) } catch { throw .workspace("\(error)") }
        guard let text else { throw .workspace("\(latex)/template.tex is missing") }
        return text
    }

    // MARK: - Citations

    /// Up to `citationRounds` rounds: the model names a citation it needs and a query; the literature search
    /// (cached) finds papers; the model chooses among them; their BibTeX (the engine's, or built from its
    /// metadata) goes into the bibliography; the model cites them. A failed search is recorded and the rounds
    /// go on; three in a row end them.
    func cite(system: String, state: State) throws(ScientistError) {
        guard options.citationRounds > 0 else { return }
        let literature = try stage.session.literature()
        var failures = 0
        for round in 1...options.citationRounds {
            if stage.canceller.isCancelled { throw .interrupted }
            let opening = [ChatMessage(.user, prompts.render("writeup_citation_query", [
                "round": "\(round)", "rounds": "\(options.citationRounds)", "paper": try paper(),
                "bibliography": state.bibliography.entries.isEmpty ? "(nothing yet)" : state.bibliography.entries.map { "\($0.key): \($0.title ?? "")" }.joined(separator: "\n"),
            ]))]
            let asked = try model.ask(CitationQuery.self, system: system, messages: opening, stage: "citations", ideaID: idea.id)
            guard let query = asked.value.query else { return }
            let result: SearchResult
            do {
                result = try literature.search(query, limit: options.resultsPerQuery)
            } catch {
                state.citationRounds.append(.init(round: round, query: query, found: [], added: [], problem: error.description))
                failures += 1
                if failures == 3 { return }
                continue
            }
            failures = 0
            guard !result.papers.isEmpty else {
                state.citationRounds.append(.init(round: round, query: query, found: [], added: [], problem: "nothing found"))
                continue
            }
            let choosing = asked.messages + [ChatMessage(.user, prompts.render("writeup_citation_choose", ["results": NoveltyPrompts.format(result.papers)]))]
            let chosen = try model.ask(CitationChoice.self, system: system, messages: choosing, stage: "citations", ideaID: idea.id).value
            let picked = chosen.selected.filter { (1...result.papers.count).contains($0) }.map { result.papers[$0 - 1] }
            let added = picked.compactMap { state.bibliography.add($0, engine: literature.engine, query: query) }
            options.progress("\(idea.proposal.name): citations round \(round): \"\(query)\": \(added.isEmpty ? "none added" : added.map(\.key).joined(separator: ", "))")
            state.citationRounds.append(.init(round: round, query: query, found: result.papers.map(\.title), added: added.map(\.key),
                                              problem: chosen.selected.count == picked.count ? nil : "numbers out of range ignored"))
            guard !added.isEmpty else { continue }
            try keep(state, previous: try paper(), message: "citations round \(round): \(added.map(\.key).joined(separator: ", "))")
            var messages = [ChatMessage(.user, prompts.render("writeup_citation_apply", [
                "entries": added.map(\.bibtex).joined(separator: "\n\n"), "description": chosen.description, "paper": try paper(),
            ]))]
            try converse(&messages, system: system, state: state, step: "citations round \(round): cited")
        }
    }

    // MARK: - Checks and the compile

    /// The checks, chktex and the compile, each problem sent back for a fix, until the paper compiles cleanly
    /// or the rounds run out; then one last compile, so that a PDF exists if the paper compiles at all. Returns
    /// the compile (nil when none made a PDF) and the problems left.
    func checkAndCompile(system: String, state: State) throws(ScientistError) -> (LatexCompiler.Outcome?, [String]) {
        let manifest = ClaimsManifest(runs: rows, software: software)
        while true {
            if stage.canceller.isCancelled { throw .interrupted }
            var problems = try checks(manifest: manifest)
            // The compile of the paper as it stands, when the checks let one run this round.
            var compiled: LatexCompiler.Outcome?
            if problems.isEmpty, state.chktexRounds < options.chktexRounds {
                let warnings = try compiler.chktex(directory: latex, label: "\(idea.proposal.name) chktex")
                if !warnings.isEmpty {
                    state.chktexRounds += 1
                    try fix(["chktex warnings:"] + warnings, system: system, state: state, step: "chktex round \(state.chktexRounds)")
                    continue
                }
            }
            if problems.isEmpty {
                let outcome = try compile(state)
                if outcome.pdf != nil, outcome.errors.isEmpty { return (outcome, []) }
                compiled = outcome
                problems = outcome.errors.isEmpty ? ["The paper did not compile: \(RunFailureReport.describe(outcome.run, number: 0))"] : ["LaTeX errors:"] + outcome.errors
            }
            if state.fixRounds >= options.fixRounds {
                // Nothing was edited since a compile this round: it stands; else one last compile.
                let last: LatexCompiler.Outcome
                if let compiled { last = compiled } else { last = try compile(state) }
                return (last.pdf == nil ? nil : last, problems)
            }
            state.fixRounds += 1
            try fix(problems, system: system, state: state, step: "fix round \(state.fixRounds)")
        }
    }

    /// The problems found before compiling: LaTeX's (citations, figures, sections, references), placeholders
    /// left, and the claims check, each with its line.
    func checks(manifest: ClaimsManifest) throws(ScientistError) -> [String] {
        let tex = try paper()
        let generated = ["results.tex", "compute.tex"].compactMap { try? String(contentsOfFile: latex + "/" + $0, encoding: .utf8) }
        var problems = LatexChecks.problems(tex: tex, figures: Set(figures), included: generated.joined(separator: "\n"))
        for (section, placeholder) in PaperDraft.sections where tex.contains(placeholder) {
            problems.append("the \(section) section still holds its placeholder \(placeholder); write it")
        }
        problems += ClaimsCheck.findings(tex: tex, manifest: manifest).map { "line \($0.line): \($0.message)" }
        return problems
    }

    func fix(_ problems: [String], system: String, state: State, step: String) throws(ScientistError) {
        options.progress("\(idea.proposal.name): \(step): \(problems.count) problem(s)")
        var messages = [ChatMessage(.user, prompts.render("writeup_fix", ["problems": problems.joined(separator: "\n"), "paper": try paper()]) + notes(state))]
        try converse(&messages, system: system, state: state, step: step)
    }

    func compile(_ state: State) throws(ScientistError) -> LatexCompiler.Outcome {
        options.progress("\(idea.proposal.name): compiling through gloveboxd")
        let outcome = try compiler.compile(directory: latex, label: "\(idea.proposal.name) latex")
        if let id = outcome.run.runID { state.compileRuns.append(id) }
        if outcome.run.status == "cancelled" { throw .interrupted }
        if outcome.run.status == "refused" { throw .run("gloveboxd refused to compile the paper: \(outcome.run.message)") }
        return outcome
    }

    // MARK: - Prompts

    func systemPrompt() throws(ScientistError) -> String {
        let notes: String?
        let macros: String?
        do {
            notes = try workspace.files.read("notes.txt")
            macros = try workspace.files.read("latex/environment.tex")
        } catch { throw .workspace("\(error)") }
        let results = ProvenanceTeX.citable(rows).map { row in
            "run_\(row.number)\(row.number == 0 ? " (baseline)" : ""): \(row.metrics ?? "{}")"
        }.joined(separator: "\n")
        let definitions = (macros ?? "").split(separator: "\n").filter { $0.hasPrefix("\\newcommand") }.joined(separator: "\n")
        return prompts.render("writeup_system", [
            "task": template.taskDescription, "title": idea.proposal.title, "idea": idea.proposal.experiment,
            "notes": notes ?? "(none)", "results": results.isEmpty ? "(no run has results)" : results,
            "figures": figures.isEmpty ? "(none)" : figures.joined(separator: ", "), "macros": definitions,
        ])
    }

    /// The tips file's sections: "## Name" then its text.
    static func tips(_ text: String) -> [String: String] {
        var tips: [String: String] = [:]
        var name: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("## ") {
                name = line.dropFirst(3).trimmingCharacters(in: .whitespaces)
            } else if let name, !line.trimmingCharacters(in: .whitespaces).isEmpty {
                tips[name] = ((tips[name].map { $0 + " " }) ?? "") + line.trimmingCharacters(in: .whitespaces)
            }
        }
        return tips
    }

    // MARK: - paper.json

    func makeRecord(experiment: ExperimentRow, state: State, status: String, unresolved: [String],
                    started: Double) throws(ScientistError) -> PaperRecord {
        let tex = try paper()
        let manifest = ClaimsManifest(runs: rows, software: software)
        let plot = rows.last { $0.stage == .plot && $0.outcome == .ok }
        let used = Set(LatexChecks.matches(#"\\includegraphics(?:\[[^\]]*\])?\{([^}]*)\}"#, in: LatexChecks.withoutComments(tex))
            .map { ($0 as NSString).lastPathComponent })
        let figureRecords = WriteupStage.figurePaths(rows).map { path -> PaperRecord.Figure in
            let name = (path as NSString).lastPathComponent
            return PaperRecord.Figure(file: name, sha256: plot?.outputs[path], gloveboxRunID: plot?.run.runID,
                                      used: used.contains(name) || used.contains((name as NSString).deletingPathExtension))
        }
        let calls: [StoredCall]
        do { calls = try stage.session.store.calls(ideaID: idea.id, stages: ["writeup", "citations"], since: started) }
        catch { throw .archive(error) }
        let compute = ComputeReport(runs: rows)
        return PaperRecord(
            createdAt: Date().timeIntervalSince1970, status: status,
            idea: .init(id: idea.id, name: idea.proposal.name, title: idea.proposal.title, template: template.name),
            experiment: .init(id: experiment.id, workspace: experiment.workspace, policy: experiment.policy),
            files: PaperVerifier.digests(of: latex), manifest: PaperRecord.manifest(manifest, rows: rows, software: software),
            compute: compute.rows, claims: ClaimsCheck.claims(tex: tex, manifest: manifest), figures: figureRecords,
            bibliography: state.bibliography.entries, citationRounds: state.citationRounds,
            checks: .init(unresolved: unresolved, fixRounds: state.fixRounds, chktexRounds: state.chktexRounds, compileRuns: state.compileRuns,
                          computeFlags: compute.flags),
            cost: .init(calls: calls, inputTokens: calls.map(\.inputTokens).reduce(0, +), outputTokens: calls.map(\.outputTokens).reduce(0, +),
                        usd: calls.compactMap(\.costUSD).reduce(0, +), unpricedCalls: calls.filter { $0.costUSD == nil }.count))
    }
}
