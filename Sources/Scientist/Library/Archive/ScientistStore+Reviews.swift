import Foundation
import SQLiteSupport

/// A stored review: what was reviewed, by which model, the deciding review and the ensemble, and the cost.
public struct ReviewRow: Sendable, Equatable, Codable {
    public var id: Int64 = 0
    public var ideaID: Int64?
    public var paperID: Int64?
    public var launchID: Int64?
    /// The file reviewed, and its SHA-256.
    public var source: String
    public var sourceSHA256: String
    /// gloveboxd's run id of the pdftotext run that read it (nil for a text file).
    public var textRunID: Int64?
    public var model: String
    public var review: ReviewForm
    public var ensemble: [ReviewForm]
    public var failures: [String]
    public var reflections: Int
    public var computeFlag: String?
    public var inputTokens: Int
    public var outputTokens: Int
    /// Nil when the model has no known price.
    public var costUSD: Double?
    public var createdAt: Double
}

extension ScientistStore {
    @discardableResult
    public func insertReview(_ row: ReviewRow) throws(SQLiteError) -> Int64 {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let ensemble = String(decoding: (try? encoder.encode(row.ensemble)) ?? Data("[]".utf8), as: UTF8.self)
        let failures = String(decoding: (try? encoder.encode(row.failures)) ?? Data("[]".utf8), as: UTF8.self)
        return try write("record a review", """
            INSERT INTO reviews (idea_id, paper_id, launch_id, source, source_sha256, model, review, ensemble, failures, reflections,
                                 decision, overall, compute_flag, input_tokens, output_tokens, cost_usd, created_at, text_run_id)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)
            """) { (s) throws(SQLiteError) in
            try s.bind(1, row.ideaID)
            try s.bind(2, row.paperID)
            try s.bind(3, row.launchID)
            try s.bind(4, row.source)
            try s.bind(5, row.sourceSHA256)
            try s.bind(6, row.model)
            try s.bind(7, row.review.json)
            try s.bind(8, ensemble)
            try s.bind(9, failures)
            try s.bind(10, Int64(row.reflections))
            try s.bind(11, row.review.decision)
            try s.bind(12, Int64(row.review.overall))
            try s.bind(13, row.computeFlag)
            try s.bind(14, Int64(row.inputTokens))
            try s.bind(15, Int64(row.outputTokens))
            try s.bind(16, row.costUSD)
            try s.bind(17, row.createdAt)
            try s.bind(18, row.textRunID)
        }
    }

    /// An idea's reviews, oldest first (every review when nil).
    public func reviews(ideaID: Int64? = nil) throws(SQLiteError) -> [ReviewRow] {
        try reviewRows("WHERE ?1 IS NULL OR idea_id = ?1") { (s) throws(SQLiteError) in try s.bind(1, ideaID) }
    }

    public func review(id: Int64) throws(SQLiteError) -> ReviewRow? {
        try reviewRows("WHERE id = ?1") { (s) throws(SQLiteError) in try s.bind(1, id) }.first
    }

    private func reviewRows(_ filter: String, bind: (borrowing Statement) throws(SQLiteError) -> Void) throws(SQLiteError) -> [ReviewRow] {
        try read("list reviews", """
            SELECT id, idea_id, paper_id, launch_id, source, source_sha256, model, review, ensemble, failures, reflections, compute_flag,
                   input_tokens, output_tokens, cost_usd, created_at, text_run_id
            FROM reviews \(filter) ORDER BY id
            """, bind: bind) { s in
            let decoder = JSONDecoder()
            return ReviewRow(id: s.int64(0), ideaID: s.optionalInt64(1), paperID: s.optionalInt64(2), launchID: s.optionalInt64(3),
                             source: s.string(4), sourceSHA256: s.string(5), textRunID: s.optionalInt64(16), model: s.string(6),
                             review: (try? decoder.decode(ReviewForm.self, from: Data(s.string(7).utf8))) ?? ReviewForm.unreadable,
                             ensemble: (try? decoder.decode([ReviewForm].self, from: Data(s.string(8).utf8))) ?? [],
                             failures: (try? decoder.decode([String].self, from: Data(s.string(9).utf8))) ?? [],
                             reflections: Int(s.int64(10)), computeFlag: s.optionalString(11), inputTokens: Int(s.int64(12)),
                             outputTokens: Int(s.int64(13)), costUSD: s.optionalDouble(14), createdAt: s.double(15))
        }
    }
}

extension ScientistStore {
    /// The review a calibration made of the file with this digest, by this model with these settings.
    public func cachedCalibrationReview(sha256: String, model: String, settings: String) throws(SQLiteError) -> ReviewRow? {
        let ids = try read("read the calibration cache", """
            SELECT review_id FROM calibration_reviews WHERE file_sha256 = ?1 AND model = ?2 AND settings = ?3
            """, bind: { (s) throws(SQLiteError) in
            try s.bind(1, sha256)
            try s.bind(2, model)
            try s.bind(3, settings)
        }) { s in s.int64(0) }
        guard let id = ids.first else { return nil }
        return try review(id: id)
    }

    public func cacheCalibrationReview(sha256: String, model: String, settings: String, reviewID: Int64, dataset: String,
                                       paper: String) throws(SQLiteError) {
        try write("write the calibration cache", """
            INSERT OR REPLACE INTO calibration_reviews (file_sha256, model, settings, review_id, dataset, paper) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
            """) { (s) throws(SQLiteError) in
            try s.bind(1, sha256)
            try s.bind(2, model)
            try s.bind(3, settings)
            try s.bind(4, reviewID)
            try s.bind(5, dataset)
            try s.bind(6, paper)
        }
    }
}

extension ReviewForm {
    /// What a stored review that cannot be read back shows.
    static let unreadable = ReviewForm(thought: "", summary: "(the stored review cannot be read)", strengths: [], weaknesses: [], originality: 0,
                                       quality: 0, clarity: 0, significance: 0, questions: [], limitations: [], ethicalConcerns: false,
                                       soundness: 0, presentation: 0, contribution: 0, overall: 0, confidence: 0, decision: "")
}
