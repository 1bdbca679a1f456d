import SQLiteSupport

/// A write-up of an idea's experiment: where it is, how it ended, and the digest of its paper.json.
public struct PaperRow: Sendable, Equatable, Codable {
    public var id: Int64
    public var ideaID: Int64
    public var experimentID: Int64
    public var launchID: Int64?
    /// The paper's directory (the workspace's latex/).
    public var directory: String
    public var startedAt: Double
    public var finishedAt: Double?
    /// writing, compiled, compiled with problems, not compiled, failed, interrupted, budget exhausted
    public var status: String
    /// The workspace's commit the write-up started from: a resumed write-up starts from it again, so its
    /// requests are the ones already paid for.
    public var baseCommit: String?
    public var pdf: String?
    public var recordSHA256: String?
    public var message: String?
}

/// One stored model call, with its id.
public struct StoredCall: Sendable, Equatable, Codable {
    public var id: Int64
    public var stage: String
    public var model: String
    public var inputTokens: Int
    public var outputTokens: Int
    public var costUSD: Double?
    public var startedAt: Double
    public var outcome: String

    /// The outcome of a call answered on a resumed launch by the reply call `id` paid for, at no cost.
    public static func replayed(_ id: Int64) -> String { "replayed call \(id)" }

    /// The call whose reply this one replayed, if it did.
    public var replayedCallID: Int64? { outcome.hasPrefix("replayed call ") ? Int64(outcome.dropFirst("replayed call ".count)) : nil }
}

extension ScientistStore {
    public func beginPaper(ideaID: Int64, experimentID: Int64, launchID: Int64?, directory: String, baseCommit: String) throws(SQLiteError) -> Int64 {
        try write("begin paper", """
            INSERT INTO papers (idea_id, experiment_id, launch_id, directory, started_at, base_commit) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
            """) { (s) throws(SQLiteError) in
            try s.bind(1, ideaID)
            try s.bind(2, experimentID)
            try s.bind(3, launchID)
            try s.bind(4, directory)
            try s.bind(5, Self.now)
            try s.bind(6, baseCommit)
        }
    }

    public func finishPaper(_ id: Int64, status: String, pdf: String?, recordSHA256: String?, message: String?) throws(SQLiteError) {
        try write("finish paper", """
            UPDATE papers SET finished_at = ?2, status = ?3, pdf = ?4, record_sha256 = ?5, message = ?6 WHERE id = ?1
            """) { (s) throws(SQLiteError) in
            try s.bind(1, id)
            try s.bind(2, Self.now)
            try s.bind(3, status)
            try s.bind(4, pdf)
            try s.bind(5, recordSHA256)
            try s.bind(6, message)
        }
    }

    /// An idea's papers, oldest first (every idea's when nil).
    public func papers(ideaID: Int64? = nil) throws(SQLiteError) -> [PaperRow] {
        try read("list papers", """
            SELECT id, idea_id, experiment_id, launch_id, directory, started_at, finished_at, status, pdf, record_sha256, message, base_commit
            FROM papers WHERE ?1 IS NULL OR idea_id = ?1 ORDER BY id
            """, bind: { (s) throws(SQLiteError) in try s.bind(1, ideaID) }) { s in
            PaperRow(id: s.int64(0), ideaID: s.int64(1), experimentID: s.int64(2), launchID: s.optionalInt64(3), directory: s.string(4),
                     startedAt: s.double(5), finishedAt: s.optionalDouble(6), status: s.string(7), baseCommit: s.optionalString(11), pdf: s.optionalString(8),
                     recordSHA256: s.optionalString(9), message: s.optionalString(10))
        }
    }

    /// The model calls of an idea's `stages` made since `since` (a Unix time), oldest first, at what they cost
    /// (`paidFor`).
    public func calls(ideaID: Int64, stages: [String], since: Double) throws(SQLiteError) -> [StoredCall] {
        let placeholders = stages.indices.map { "?\($0 + 3)" }.joined(separator: ", ")
        return try paidFor(try callRows("idea_id = ?1 AND started_at >= ?2 AND stage IN (\(placeholders))") { (s) throws(SQLiteError) in
            try s.bind(1, ideaID)
            try s.bind(2, since)
            for (i, stage) in stages.enumerated() { try s.bind(Int32(i + 3), stage) }
        })
    }

    /// The model calls of `ids`, oldest first, at what they cost (`paidFor`).
    public func calls(ids: [Int64]) throws(SQLiteError) -> [StoredCall] {
        guard !ids.isEmpty else { return [] }
        return try paidFor(try callRows("id IN (\(ids.map(String.init).joined(separator: ", ")))") { _ in })
    }

    /// `calls` with each reply replayed on a resumed launch (recorded at no cost as "replayed call N") given
    /// the tokens and cost of call N, which paid for it: what a paper or a review cost, whichever run of the
    /// launch paid.
    private func paidFor(_ calls: [StoredCall]) throws(SQLiteError) -> [StoredCall] {
        let replayed = calls.compactMap(\.replayedCallID)
        guard !replayed.isEmpty else { return calls }
        let paid = Dictionary(try callRows("id IN (\(replayed.map(String.init).joined(separator: ", ")))") { _ in }.map { ($0.id, $0) }) { a, _ in a }
        return calls.map { call in
            guard let id = call.replayedCallID, let original = paid[id] else { return call }
            var priced = call
            priced.inputTokens = original.inputTokens
            priced.outputTokens = original.outputTokens
            priced.costUSD = original.costUSD
            return priced
        }
    }

    private func callRows(_ filter: String, bind: (borrowing Statement) throws(SQLiteError) -> Void) throws(SQLiteError) -> [StoredCall] {
        try read("list model calls", "SELECT id, stage, model, input_tokens, output_tokens, cost_usd, started_at, outcome FROM llm_calls WHERE \(filter) ORDER BY id",
                 bind: bind) { s in
            StoredCall(id: s.int64(0), stage: s.string(1), model: s.string(2), inputTokens: Int(s.int64(3)), outputTokens: Int(s.int64(4)),
                       costUSD: s.optionalDouble(5), startedAt: s.double(6), outcome: s.string(7))
        }
    }
}

extension PaperRow {
    /// Whether the write-up ran to its end: compiled, with problems or not. One that did not (interrupted,
    /// failed, stopped by the budget, or still marked writing after a crash) is taken up again by a resumed
    /// launch or write-up; one that did is a result, even "not compiled", which the same replies would only
    /// produce again.
    public var ranToItsEnd: Bool { status.hasPrefix("compiled") || status == "not compiled" }
}
