import Digests
import Foundation
import GloveboxSystem

/// A calibration dataset: papers (PDFs or texts) with the decisions people made on them, so the reviewer can
/// be measured against them, as the AI Scientist measured its reviewer on ICLR 2022's papers.
///
/// The format: a directory holding the papers and `decisions.csv` (a header `id,file,decision` and, where the
/// human scores are known, `overall`) or `decisions.jsonl` (one `{"id", "file", "decision", "overall"?}` per
/// line). `file` is relative to the directory; `decision` is Accept or Reject (any case; "accept (oral)" and
/// the like count as Accept).
public struct CalibrationSet: Sendable, Equatable {
    public struct Paper: Sendable, Equatable {
        public var id: String
        /// The file's absolute path.
        public var file: String
        public var accepted: Bool
        /// The mean of the human overall scores, where known.
        public var humanOverall: Double?
    }

    public var directory: String
    public var name: String
    public var papers: [Paper]

    public static func load(directory: String) throws(ScientistError) -> CalibrationSet {
        let name = URL(fileURLWithPath: directory).lastPathComponent
        let csv = directory + "/decisions.csv", jsonl = directory + "/decisions.jsonl"
        var papers: [Paper]
        if let text = try? String(contentsOfFile: csv, encoding: .utf8) {
            papers = try parseCSV(text, source: csv, directory: directory)
        } else if let text = try? String(contentsOfFile: jsonl, encoding: .utf8) {
            papers = try parseJSONL(text, source: jsonl, directory: directory)
        } else {
            throw .template("\(directory) holds neither decisions.csv nor decisions.jsonl (see scientist calibrate --help for the format)")
        }
        guard !papers.isEmpty else { throw .template("\(directory): the decisions list no paper") }
        var seen = Set<String>()
        for paper in papers {
            guard seen.insert(paper.id).inserted else { throw .template("\(directory): the paper id \(paper.id) appears twice") }
            guard FileManager.default.fileExists(atPath: paper.file) else { throw .template("\(directory): \(paper.id)'s file \(paper.file) does not exist") }
        }
        papers.sort { $0.id < $1.id }
        return CalibrationSet(directory: directory, name: name, papers: papers)
    }

    static func decision(_ text: String, source: String) throws(ScientistError) -> Bool {
        let lower = text.trimmingCharacters(in: .whitespaces).lowercased()
        if lower.hasPrefix("accept") { return true }
        if lower.hasPrefix("reject") { return false }
        throw .template("\(source): the decision \"\(text)\" is neither Accept nor Reject")
    }

    static func parseCSV(_ text: String, source: String, directory: String) throws(ScientistError) -> [Paper] {
        var lines = text.split(whereSeparator: \.isNewline).map { $0.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) } }
        guard let header = lines.first else { return [] }
        lines.removeFirst()
        guard let id = header.firstIndex(of: "id"), let file = header.firstIndex(of: "file"), let decision = header.firstIndex(of: "decision") else {
            throw .template("\(source): the header must name the columns id, file and decision (and optionally overall)")
        }
        let overall = header.firstIndex(of: "overall")
        var papers: [Paper] = []
        for (number, fields) in lines.enumerated() where !fields.allSatisfy(\.isEmpty) {
            let place = "\(source):\(number + 2)"
            guard fields.count == header.count else { throw .template("\(place): \(fields.count) fields, the header has \(header.count)") }
            var human: Double?
            if let overall, !fields[overall].isEmpty {
                guard let value = Double(fields[overall]) else { throw .template("\(place): overall \"\(fields[overall])\" is not a number") }
                human = value
            }
            papers.append(Paper(id: fields[id], file: resolve(fields[file], in: directory), accepted: try Self.decision(fields[decision], source: place),
                                humanOverall: human))
        }
        return papers
    }

    static func parseJSONL(_ text: String, source: String, directory: String) throws(ScientistError) -> [Paper] {
        struct Line: Decodable { let id: String; let file: String; let decision: String; let overall: Double? }
        var papers: [Paper] = []
        for (number, line) in text.split(whereSeparator: \.isNewline).enumerated() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            let place = "\(source):\(number + 1)"
            let entry: Line
            do { entry = try JSONDecoder().decode(Line.self, from: Data(line.utf8)) }
            catch { throw .template("\(place): \(ProviderHTTP.describe(error)) (each line is {\"id\", \"file\", \"decision\", \"overall\"?})") }
            papers.append(Paper(id: entry.id, file: resolve(entry.file, in: directory), accepted: try Self.decision(entry.decision, source: place),
                                humanOverall: entry.overall))
        }
        return papers
    }

    static func resolve(_ file: String, in directory: String) -> String {
        URL(fileURLWithPath: file.hasPrefix("/") ? file : directory + "/" + file).standardizedFileURL.path
    }
}

/// How the reviewer's decisions compare with the human ones. Accept is the positive class.
public struct CalibrationMetrics: Sendable, Equatable, Codable {
    public var papers: Int
    public var truePositives: Int
    public var falseNegatives: Int
    public var falsePositives: Int
    public var trueNegatives: Int
    public var accuracy: Double
    /// The mean of the accept and reject recalls: what accuracy is worth when one decision dominates.
    public var balancedAccuracy: Double
    /// F1 of Accept; nil when it is undefined (no accept predicted nor true).
    public var f1: Double?
    /// The area under the ROC curve of the reviewer's overall score against the human decision (ties count
    /// half); nil when every paper has the same human decision.
    public var auc: Double?
    public var costUSD: Double
    public var unpricedReviews: Int

    public init(_ results: [(human: Bool, predicted: Bool, overall: Double)], costUSD: Double, unpricedReviews: Int) {
        papers = results.count
        truePositives = results.filter { $0.human && $0.predicted }.count
        falseNegatives = results.filter { $0.human && !$0.predicted }.count
        falsePositives = results.filter { !$0.human && $0.predicted }.count
        trueNegatives = results.filter { !$0.human && !$0.predicted }.count
        accuracy = results.isEmpty ? 0 : Double(truePositives + trueNegatives) / Double(results.count)
        let positives = truePositives + falseNegatives, negatives = falsePositives + trueNegatives
        let recalls = [positives > 0 ? Double(truePositives) / Double(positives) : nil, negatives > 0 ? Double(trueNegatives) / Double(negatives) : nil].compactMap { $0 }
        balancedAccuracy = recalls.isEmpty ? 0 : recalls.reduce(0, +) / Double(recalls.count)
        let denominator = 2 * truePositives + falsePositives + falseNegatives
        f1 = denominator == 0 ? nil : Double(2 * truePositives) / Double(denominator)
        let accepted = results.filter(\.human).map(\.overall), rejected = results.filter { !$0.human }.map(\.overall)
        if accepted.isEmpty || rejected.isEmpty {
            auc = nil
        } else {
            var wins = 0.0
            for a in accepted { for r in rejected { wins += a > r ? 1 : a == r ? 0.5 : 0 } }
            auc = wins / Double(accepted.count * rejected.count)
        }
        self.costUSD = costUSD
        self.unpricedReviews = unpricedReviews
    }
}

/// `scientist calibrate`: reviews every paper of a dataset (or takes its review from the cache, keyed by the
/// file's digest, the model and the reviewer's settings, so a rerun or a resumed run pays for nothing twice)
/// and measures the decisions against the human ones.
public struct Calibrator: Sendable {
    public let stage: ReviewStage
    public let prompts: PromptLibrary

    public init(stage: ReviewStage, prompts: PromptLibrary) { self.stage = stage; self.prompts = prompts }

    public struct Result: Sendable, Codable, Equatable {
        public var id: String
        public var file: String
        public var humanAccept: Bool
        public var humanOverall: Double?
        public var decision: String
        public var overall: Int
        public var reviewID: Int64
        public var cached: Bool
        public var costUSD: Double?
    }

    public struct Report: Sendable, Codable, Equatable {
        public var dataset: String
        public var model: String
        public var settings: String
        public var results: [Result]
        public var metrics: CalibrationMetrics
    }

    /// The settings a cached review must have been made with: the ensemble, reflections, the ensemble's
    /// temperature and the model's own (the meta-review's and the reflections') with its reply limit, and the
    /// digests of the examples and of the prompts the reviewer uses.
    public var settings: String {
        let options = stage.options.reviewer
        let model = stage.session.model
        let examples = options.examples.map { $0.paper + "\u{1}" + $0.review }.joined(separator: "\u{2}")
        let texts = ["review_system", "review_form", "review_paper", "review_provenance", "review_reflection", "review_meta_system", "review_meta"]
            .map { prompts.render($0, [:]) }.joined(separator: "\u{2}")
        return "ensemble=\(options.ensemble) reflections=\(options.reflections) temperature=\(options.temperature) "
            + "model-temperature=\(model.temperature) max-tokens=\(model.maxTokens) "
            + "examples=\(sha256Hex(Array(examples.utf8)).prefix(16)) prompts=\(sha256Hex(Array(texts.utf8)).prefix(16))"
    }

    public func run(_ set: CalibrationSet, progress: (Result) -> Void) throws(ScientistError) -> Report {
        let store = stage.session.store
        let model = stage.session.model.provider.model
        let settings = self.settings
        var results: [Result] = []
        for paper in set.papers {
            if stage.canceller.isCancelled { throw .interrupted }
            let digest = sha256Hex(Array(try PaperText.readPlain(paper.file)))
            let hit: ReviewRow?
            do { hit = try store.cachedCalibrationReview(sha256: digest, model: model, settings: settings) } catch { throw .archive(error) }
            let row: ReviewRow
            if let hit {
                row = hit
            } else {
                row = try stage.review(file: paper.file, idea: nil, paper: nil, prompts: prompts).row
                do { try store.cacheCalibrationReview(sha256: digest, model: model, settings: settings, reviewID: row.id, dataset: set.name, paper: paper.id) }
                catch { throw .archive(error) }
            }
            let cached = hit != nil
            let result = Result(id: paper.id, file: paper.file, humanAccept: paper.accepted, humanOverall: paper.humanOverall, decision: row.review.decision,
                                overall: row.review.overall, reviewID: row.id, cached: cached, costUSD: row.costUSD)
            progress(result)
            results.append(result)
        }
        let metrics = CalibrationMetrics(results.map { ($0.humanAccept, $0.decision == "Accept", Double($0.overall)) },
                                         costUSD: results.compactMap(\.costUSD).reduce(0, +), unpricedReviews: results.filter { $0.costUSD == nil }.count)
        return Report(dataset: set.directory, model: model, settings: settings, results: results, metrics: metrics)
    }
}
