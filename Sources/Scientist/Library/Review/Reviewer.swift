import Foundation
import Logging

/// A paper and its review, shown to the reviewer as an example (the AI Scientist's few-shot prompting).
public struct ReviewExample: Sendable, Equatable {
    public var name: String
    public var paper: String
    /// The review, as the form's JSON.
    public var review: String

    /// The shipped example: review-examples/NAME.txt with NAME.json, built in.
    public static var shipped: [ReviewExample] { examples(ShippedReviewExamples.files) }

    /// The NAME.txt and NAME.json pairs of a directory (a user's own examples); a text without its review, or the
    /// reverse, is an error naming it.
    public static func load(directory: String) throws(ScientistError) -> [ReviewExample] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
            throw .template("\(directory): cannot read the review examples' directory")
        }
        var files: [String: String] = [:]
        for name in names where name.hasSuffix(".txt") || name.hasSuffix(".json") {
            guard let data = FileManager.default.contents(atPath: directory + "/" + name) else { throw .template("\(directory)/\(name): cannot read it") }
            files[name] = String(decoding: data, as: UTF8.self)
        }
        let examples = Self.examples(files)
        for name in files.keys {
            let base = (name as NSString).deletingPathExtension
            guard examples.contains(where: { $0.name == base }) else {
                throw .template("\(directory)/\(name): an example is a pair, \(base).txt (the paper) and \(base).json (its review)")
            }
        }
        for example in examples {
            if case .failure(let problem) = JSONReply.decode(ReviewForm.self, from: withThought(example.review)) {
                throw .template("\(directory)/\(example.name).json: not a review in the form: \(problem.message)")
            }
        }
        guard !examples.isEmpty else { throw .template("\(directory) holds no review example (NAME.txt with NAME.json)") }
        return examples
    }

    static func examples(_ files: [String: String]) -> [ReviewExample] {
        files.keys.filter { $0.hasSuffix(".txt") }.sorted().compactMap { name in
            let base = String(name.dropLast(4))
            guard let review = files[base + ".json"] else { return nil }
            return ReviewExample(name: base, paper: files[name]!, review: review)
        }
    }

    /// An example's review with an empty Thought added, so it decodes as a reply.
    static func withThought(_ review: String) -> String {
        guard let open = review.firstIndex(of: "{") else { return review }
        return "{\"Thought\": \"\", " + review[review.index(after: open)...]
    }
}

/// The AI Scientist's reviewer, improved: an ensemble of reviews in the NeurIPS form at a temperature, an area
/// chair's meta-review with the ensemble's scores averaged into it, then reflection rounds until the reviewer
/// says "I am done". Every reply is strict JSON, repaired once; an ensemble member, the meta-review or a
/// reflection whose reply stays unusable is left out and said so, and any other failure (the budget, the
/// model unreachable) stops the review. Beyond the AI Scientist, the reviewer is shown
/// the paper's paper.json (the measured environment, the compute each run used against the baseline, the
/// claims check), and a paper whose gain came with more compute than its baseline must have that among its
/// weaknesses: the scientist adds it when the review misses it, and says so.
public struct Reviewer: Sendable {
    public struct Options: Sendable {
        public var ensemble = 5
        public var reflections = 5
        public var temperature = 0.75
        public var examples: [ReviewExample] = ReviewExample.shipped
        public init() {}
    }

    public let model: MeteredModel
    public let prompts: PromptLibrary
    public let options: Options
    let logger: Logger

    public init(model: MeteredModel, prompts: PromptLibrary, options: Options, logger: Logger) {
        self.model = model; self.prompts = prompts; self.options = options; self.logger = logger
    }

    public struct Outcome: Sendable, Equatable {
        /// The review that decides: the meta-review (or the one review), scores averaged, reflected upon.
        public var review: ReviewForm
        /// The ensemble's reviews that were usable.
        public var ensemble: [ReviewForm]
        /// Why the others were not.
        public var failures: [String]
        public var reflections: Int
        /// How a compute flag of paper.json was handled: "named by the reviewer", or "added: …"; nil for none.
        public var computeFlag: String?
        public var callIDs: [Int64]
    }

    public func review(text: String, record: PaperRecord?, ideaID: Int64?) throws(ScientistError) -> Outcome {
        let form = prompts.render("review_form", [:])
        let opening = prompts.render("review_paper", ["form": form, "examples": examplesText, "provenance": provenance(record), "paper": text])
        let system = prompts.render("review_system", [:])
        var callIDs: [Int64] = []
        var ensemble: [ReviewForm] = []
        var failures: [String] = []
        let warm = model.with(temperature: options.temperature)
        for index in 1...max(1, options.ensemble) {
            do throws(ScientistError) {
                let answer = try warm.ask(ReviewForm.self, system: system, messages: [ChatMessage(.user, opening)], stage: "review", ideaID: ideaID)
                callIDs += answer.callIDs
                ensemble.append(answer.value)
            } catch {
                guard case .reply = error else { throw error }
                failures.append("review \(index): \(error)")
                logger.warning("unusable review", metadata: ["review": "\(index)", "error": "\(error)"])
            }
        }
        guard var review = ensemble.first else {
            throw .reply(stage: "review", problem: "no usable review in \(options.ensemble): \(failures.joined(separator: "; "))")
        }
        if ensemble.count > 1 {
            let reviews = ensemble.enumerated().map { "Review \($0.offset + 1):\n```json\n\($0.element.json)\n```" }.joined(separator: "\n\n")
            let meta = prompts.render("review_meta", ["form": form, "count": "\(ensemble.count)", "reviews": reviews])
            do throws(ScientistError) {
                let answer = try model.ask(ReviewForm.self, system: prompts.render("review_meta_system", [:]), messages: [ChatMessage(.user, meta)],
                                           stage: "review", ideaID: ideaID)
                callIDs += answer.callIDs
                review = answer.value
            } catch {
                guard case .reply = error else { throw error }
                failures.append("meta-review: \(error); the first review stands in for it")
            }
            review = review.withAveragedScores(of: ensemble)
        }
        var conversation = [ChatMessage(.user, opening), ChatMessage(.assistant, "```json\n\(review.json)\n```")]
        var rounds = 0
        for round in 1...max(1, options.reflections) where options.reflections > 0 {
            conversation.append(ChatMessage(.user, prompts.render("review_reflection", ["round": "\(round)", "rounds": "\(options.reflections)"])))
            let answer: (value: ReviewForm, text: String, messages: [ChatMessage], callIDs: [Int64])
            do throws(ScientistError) {
                answer = try model.ask(ReviewForm.self, system: system, messages: conversation, stage: "review", ideaID: ideaID)
            } catch {
                guard case .reply = error else { throw error }
                failures.append("reflection \(round): \(error); the review before it stands")
                break
            }
            callIDs += answer.callIDs
            conversation = answer.messages
            review = answer.value
            rounds = round
            if answer.value.thought.contains("I am done") { break }
        }
        let (checked, flag) = Self.holdToCompute(review, record: record)
        return Outcome(review: checked, ensemble: ensemble, failures: failures, reflections: rounds, computeFlag: flag, callIDs: callIDs)
    }

    var examplesText: String {
        guard !options.examples.isEmpty else { return "" }
        let shown = options.examples.map { example in
            "An example paper:\n```\n\(example.paper)\n```\nIts review:\n```json\n\(example.review.trimmingCharacters(in: .whitespacesAndNewlines))\n```"
        }
        return "Here " + (shown.count == 1 ? "is an example" : "are \(shown.count) examples") + " of a review in this form.\n\n" + shown.joined(separator: "\n\n") + "\n"
    }

    /// What the reviewer is shown of paper.json: the measured environment, the compute against the baseline and
    /// its flags, the claims and the checks left unresolved.
    func provenance(_ record: PaperRecord?) -> String {
        guard let record else { return "" }
        var lines: [String] = []
        let machine = record.manifest
        lines.append("Measured environment: CPU \(machine.cpu.isEmpty ? "unnamed" : machine.cpu); GPUs: \(machine.gpus.isEmpty ? "none" : machine.gpus.joined(separator: ", ")); "
                     + machine.versions.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        for row in record.compute {
            var parts: [String] = []
            if let wall = row.wallSeconds { parts.append(String(format: "wall %.1f s", wall)) }
            if let gpu = row.gpuSeconds { parts.append(String(format: "GPU %.1f s", gpu)) }
            if let memory = row.peakMemoryBytes { parts.append("peak memory \(memory >> 20) MiB") }
            if let parameters = row.parameters { parts.append(String(format: "%.0f parameters", parameters)) }
            let ratios = row.ratios.sorted { $0.key < $1.key }.map { "\($0.key) " + String(format: "%.2f", $0.value) + "×" }
            lines.append("Run \(row.run)\(row.run == 0 ? " (baseline)" : ""): " + parts.joined(separator: ", ")
                         + (ratios.isEmpty ? "" : "; against the baseline: " + ratios.joined(separator: ", ")))
        }
        for flag in record.checks.computeFlags { lines.append("FLAG: " + flag.text) }
        let unbacked = record.claims.filter { !$0.external && $0.backedBy.isEmpty }
        lines.append("Claims check: \(record.claims.count) number(s) in the text, \(unbacked.count) backed by no run"
                     + (unbacked.isEmpty ? "" : " (" + unbacked.prefix(5).map(\.number).joined(separator: ", ") + ")"))
        for problem in record.checks.unresolved { lines.append("Unresolved check: \(problem)") }
        return prompts.render("review_provenance", ["record": lines.joined(separator: "\n")]) + "\n"
    }

    /// Words that name the compute in a weakness.
    static let computeWords = ["compute", "computation", "parameter", "wall time", "wall-clock", "training time", "gpu time", "gpu second",
                               "memory", "larger model", "bigger model", "more resources", "resource", "runtime", "run time", "flops"]

    /// A review of a paper whose record flags a gain that came with more compute must name it among its
    /// weaknesses; when it does not, the flag is added as a weakness. Returns the review and what was done.
    static func holdToCompute(_ review: ReviewForm, record: PaperRecord?) -> (ReviewForm, String?) {
        guard let flags = record?.checks.computeFlags, !flags.isEmpty else { return (review, nil) }
        let named = review.weaknesses.contains { weakness in computeWords.contains { weakness.lowercased().contains($0) } }
        if named { return (review, "named by the reviewer") }
        var held = review
        let added = flags.map { "The measured compute: \($0.text) (added by the scientist from paper.json; the review did not name it)" }
        held.weaknesses += added
        return (held, "added: " + flags.map(\.text).joined(separator: " "))
    }
}
