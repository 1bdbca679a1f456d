import SQLiteSupport

/// One model call as stored: who asked (launch, stage, idea), what it used and cost, how it ended.
public struct CallRecord: Sendable, Equatable {
    public var launchID: Int64?
    public var stage: String
    public var ideaID: Int64?
    public var provider: String
    public var model: String
    public var inputTokens: Int
    public var outputTokens: Int
    /// Nil when the model has no known price (allowed only without a USD budget).
    public var costUSD: Double?
    /// True when the provider reported no usage (or an unreadable reply) and the pre-call estimate was charged.
    public var usageEstimated: Bool
    public var startedAt: Double
    public var seconds: Double
    /// "ok", or what went wrong ("http error", "malformed reply").
    public var outcome: String
}

/// A launch: one `scientist` command, with its budget and how it ended.
public struct LaunchRecord: Sendable, Equatable, Codable {
    public var id: Int64
    public var command: String
    public var model: String
    public var budgetUSD: Double?
    public var budgetTokens: Int?
    public var startedAt: Double
    public var finishedAt: Double?
    /// "running", "completed", "budget exhausted", "failed".
    public var status: String
    public var message: String?
}

/// Totals for one group of calls (a stage, an idea, a launch).
public struct UsageTotal: Sendable, Equatable, Codable {
    public var key: String
    public var calls: Int
    public var inputTokens: Int
    public var outputTokens: Int
    public var costUSD: Double
    /// Calls without a price: their cost is not in `costUSD`.
    public var unpricedCalls: Int
}

extension ScientistStore {
    public func beginLaunch(command: String, model: String, budget: Budget) throws(SQLiteError) -> Int64 {
        try write("insert launch", "INSERT INTO launches (command, model, budget_usd, budget_tokens, started_at) VALUES (?1, ?2, ?3, ?4, ?5)") { (s) throws(SQLiteError) in
            try s.bind(1, command)
            try s.bind(2, model)
            try s.bind(3, budget.usd)
            try s.bind(4, budget.tokens.map(Int64.init))
            try s.bind(5, Self.now)
        }
    }

    public func finishLaunch(_ id: Int64, status: String, message: String?) throws(SQLiteError) {
        try write("update launch \(id)", "UPDATE launches SET finished_at = ?1, status = ?2, message = ?3 WHERE id = ?4") { (s) throws(SQLiteError) in
            try s.bind(1, Self.now)
            try s.bind(2, status)
            try s.bind(3, message)
            try s.bind(4, id)
        }
    }

    public func launches(limit: Int = 50) throws(SQLiteError) -> [LaunchRecord] {
        try launchRows("list launches", "ORDER BY id DESC LIMIT ?1") { (s) throws(SQLiteError) in try s.bind(1, Int64(limit)) }
    }

    /// The launch with this id, or nil.
    public func launch(id: Int64) throws(SQLiteError) -> LaunchRecord? {
        try launchRows("read launch", "WHERE id = ?1") { (s) throws(SQLiteError) in try s.bind(1, id) }.first
    }

    private func launchRows(_ operation: String, _ tail: String, bind: (borrowing Statement) throws(SQLiteError) -> Void) throws(SQLiteError) -> [LaunchRecord] {
        try read(operation, "SELECT id, command, model, budget_usd, budget_tokens, started_at, finished_at, status, message FROM launches " + tail,
                 bind: bind) { s in
            LaunchRecord(id: s.int64(0), command: s.string(1), model: s.string(2), budgetUSD: s.optionalDouble(3),
                         budgetTokens: s.optionalInt64(4).map(Int.init), startedAt: s.double(5), finishedAt: s.optionalDouble(6),
                         status: s.string(7), message: s.optionalString(8))
        }
    }

    @discardableResult
    public func recordCall(_ call: CallRecord) throws(SQLiteError) -> Int64 {
        let sql = """
        INSERT INTO llm_calls (launch_id, stage, idea_id, provider, model, input_tokens, output_tokens, cost_usd,
                               usage_estimated, started_at, seconds, outcome)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
        """
        return try write("insert model call", sql) { (s) throws(SQLiteError) in
            try s.bind(1, call.launchID)
            try s.bind(2, call.stage)
            try s.bind(3, call.ideaID)
            try s.bind(4, call.provider)
            try s.bind(5, call.model)
            try s.bind(6, Int64(call.inputTokens))
            try s.bind(7, Int64(call.outputTokens))
            try s.bind(8, call.costUSD)
            try s.bind(9, Int64(call.usageEstimated ? 1 : 0))
            try s.bind(10, call.startedAt)
            try s.bind(11, call.seconds)
            try s.bind(12, call.outcome)
        }
    }

    /// Attributes calls made before their idea had an id (drafting and reflection) to that idea.
    public func assignCalls(_ callIDs: [Int64], toIdea ideaID: Int64) throws(SQLiteError) {
        for id in callIDs {
            try write("attribute call \(id)", "UPDATE llm_calls SET idea_id = ?1 WHERE id = ?2") { (s) throws(SQLiteError) in
                try s.bind(1, ideaID)
                try s.bind(2, id)
            }
        }
    }

    public enum UsageGrouping: String, Sendable, CaseIterable { case stage, idea, paper, launch }

    /// Totals grouped by stage, idea, paper or launch; only those of `launchID` and of `ideaID` when given. A
    /// paper's total is every call of its idea, from the idea's drafting to the paper's review: what the paper
    /// cost (ideas without a compiled paper are left out).
    public func usage(by grouping: UsageGrouping, launchID: Int64? = nil, ideaID: Int64? = nil) throws(SQLiteError) -> [UsageTotal] {
        let key = switch grouping {
        case .stage: "c.stage"
        case .idea, .paper: "COALESCE(i.template || '/' || i.name, '(no idea)')"
        case .launch: "COALESCE(CAST(c.launch_id AS TEXT) || ' ' || l.command, '(none)')"
        }
        let papers = grouping == .paper ? "AND c.idea_id IN (SELECT idea_id FROM papers WHERE pdf IS NOT NULL)" : ""
        let sql = """
        SELECT \(key) AS k, COUNT(*), SUM(c.input_tokens), SUM(c.output_tokens), TOTAL(c.cost_usd),
               SUM(c.cost_usd IS NULL)
        FROM llm_calls c LEFT JOIN ideas i ON i.id = c.idea_id LEFT JOIN launches l ON l.id = c.launch_id
        WHERE (?1 IS NULL OR c.launch_id = ?1) AND (?2 IS NULL OR c.idea_id = ?2) \(papers)
        GROUP BY k ORDER BY MIN(c.id)
        """
        return try read("summarise usage", sql, bind: { (s) throws(SQLiteError) in
            try s.bind(1, launchID)
            try s.bind(2, ideaID)
        }) { s in
            UsageTotal(key: s.string(0), calls: Int(s.int64(1)), inputTokens: Int(s.int64(2)), outputTokens: Int(s.int64(3)),
                       costUSD: s.double(4), unpricedCalls: Int(s.int64(5)))
        }
    }
}
