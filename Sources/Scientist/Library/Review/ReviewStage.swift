import Foundation
import Logging

/// `scientist review` and the launch's last stage: a paper's text (pdftotext through gloveboxd for a PDF), its
/// paper.json when one lies beside it, the reviewer, and the review stored in the archive with the idea, the
/// paper and its cost.
public struct ReviewStage: Sendable {
    public struct Options: Sendable {
        public var reviewer = Reviewer.Options()
        /// Nil: $GLOVEBOX_SOCKET, else gloveboxd's default socket.
        public var socket: String?
        public var policy = PaperText.defaultPolicy
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
        public var row: ReviewRow
        public var result: Reviewer.Outcome
    }

    /// Reviews the last compiled paper of `idea`.
    public func review(idea: ArchivedIdea, prompts: PromptLibrary) throws(ScientistError) -> Outcome {
        let papers: [PaperRow]
        do { papers = try session.store.papers(ideaID: idea.id) } catch { throw .archive(error) }
        guard let paper = papers.last(where: { $0.pdf != nil }), let pdf = paper.pdf else {
            throw .template("\(idea.proposal.name) has no compiled paper to review; run scientist writeup \(idea.proposal.name) first")
        }
        return try review(file: pdf, idea: idea, paper: paper, prompts: prompts)
    }

    /// Reviews the PDF (or text) at `file`; its paper.json, when one lies beside it, is shown to the reviewer.
    public func review(file: String, idea: ArchivedIdea?, paper: PaperRow?, prompts: PromptLibrary) throws(ScientistError) -> Outcome {
        let label = idea.map { "\($0.proposal.name) pdftotext" } ?? "pdftotext"
        let socket = ExperimentStage.resolvedSocket(options.socket)
        if !file.lowercased().hasSuffix(".txt") && !file.lowercased().hasSuffix(".md") {
            try ExperimentStage.checkServed(options.policy, socket: socket,
                                            missing: "the operator installs the shipped policies/poppler.toml as /etc/glovebox/policies/poppler.toml")
        }
        let reader = PaperText(runner: GloveboxRunner(socketPath: socket, policy: options.policy, sink: sink, canceller: canceller))
        let extracted = try reader.extract(file, label: label)
        let record = Self.record(beside: file)
        let reviewer = Reviewer(model: session.model, prompts: prompts, options: options.reviewer, logger: session.logger)
        let result = try reviewer.review(text: extracted.text, record: record, ideaID: idea?.id)
        let calls: [StoredCall]
        do { calls = try session.store.calls(ids: result.callIDs) } catch { throw .archive(error) }
        var row = ReviewRow(ideaID: idea?.id, paperID: paper?.id, launchID: session.launchID, source: file, sourceSHA256: extracted.sha256,
                            textRunID: extracted.runID, model: session.model.provider.model, review: result.review, ensemble: result.ensemble, failures: result.failures,
                            reflections: result.reflections, computeFlag: result.computeFlag,
                            inputTokens: calls.map(\.inputTokens).reduce(0, +), outputTokens: calls.map(\.outputTokens).reduce(0, +),
                            costUSD: calls.contains { $0.costUSD == nil } ? nil : calls.compactMap(\.costUSD).reduce(0, +),
                            createdAt: Date().timeIntervalSince1970)
        do { row.id = try session.store.insertReview(row) } catch { throw .archive(error) }
        return Outcome(row: row, result: result)
    }

    /// The paper.json beside a paper's PDF (or in latex/ beside it: the copy in the workspace), if one reads.
    static func record(beside file: String) -> PaperRecord? {
        let directory = (file as NSString).deletingLastPathComponent
        for path in [directory + "/" + PaperRecord.fileName, directory + "/latex/" + PaperRecord.fileName] {
            if let data = FileManager.default.contents(atPath: path), let record = try? PaperRecord.decode(data) { return record }
        }
        return nil
    }
}
