import SQLiteSupport

extension ScientistStore {
    static let ideaColumns = """
    i.id, i.template, i.name, i.title, i.experiment, i.interestingness, i.feasibility, i.novelty, i.source, i.launch_id,
    i.reflections, i.created_at, i.novelty_decision,
    (SELECT SUM(c.cost_usd) FROM llm_calls c WHERE c.idea_id = i.id),
    (SELECT COUNT(*) FROM llm_calls c WHERE c.idea_id = i.id AND c.cost_usd IS NULL),
    (SELECT TOTAL(c.input_tokens) FROM llm_calls c WHERE c.idea_id = i.id),
    (SELECT TOTAL(c.output_tokens) FROM llm_calls c WHERE c.idea_id = i.id)
    """

    @discardableResult
    public func insertIdea(_ idea: IdeaProposal, template: String, source: ArchivedIdea.Source, launchID: Int64?,
                           reflections: Int) throws(SQLiteError) -> Int64 {
        let sql = """
        INSERT INTO ideas (template, name, title, experiment, interestingness, feasibility, novelty, source, launch_id,
                           reflections, created_at)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
        """
        return try write("insert idea \(idea.name)", sql) { (s) throws(SQLiteError) in
            try s.bind(1, template)
            try s.bind(2, idea.name)
            try s.bind(3, idea.title)
            try s.bind(4, idea.experiment)
            try s.bind(5, Int64(idea.interestingness))
            try s.bind(6, Int64(idea.feasibility))
            try s.bind(7, Int64(idea.novelty))
            try s.bind(8, source.rawValue)
            try s.bind(9, launchID)
            try s.bind(10, Int64(reflections))
            try s.bind(11, Self.now)
        }
    }

    /// Ideas, oldest first; only those of `template` when given.
    public func ideas(template: String? = nil) throws(SQLiteError) -> [ArchivedIdea] {
        try read("list ideas", "SELECT \(Self.ideaColumns) FROM ideas i WHERE ?1 IS NULL OR i.template = ?1 ORDER BY i.id",
                 bind: { (s) throws(SQLiteError) in try s.bind(1, template) }, row: Self.idea(from:))
    }

    public func idea(id: Int64) throws(SQLiteError) -> ArchivedIdea? {
        try read("read idea \(id)", "SELECT \(Self.ideaColumns) FROM ideas i WHERE i.id = ?1",
                 bind: { (s) throws(SQLiteError) in try s.bind(1, id) }, row: Self.idea(from:)).first
    }

    /// The idea called `name`: in `template` when given, else in any template (the most recent one).
    public func idea(named name: String, template: String? = nil) throws(SQLiteError) -> ArchivedIdea? {
        try read("read idea \(name)", "SELECT \(Self.ideaColumns) FROM ideas i WHERE i.name = ?1 AND (?2 IS NULL OR i.template = ?2) ORDER BY i.id DESC LIMIT 1",
                 bind: { (s) throws(SQLiteError) in
                     try s.bind(1, name)
                     try s.bind(2, template)
                 }, row: Self.idea(from:)).first
    }

    public func setNoveltyDecision(_ decision: NoveltyDecision, ideaID: Int64) throws(SQLiteError) {
        try write("update idea \(ideaID)", "UPDATE ideas SET novelty_decision = ?1 WHERE id = ?2") { (s) throws(SQLiteError) in
            try s.bind(1, decision.rawValue)
            try s.bind(2, ideaID)
        }
    }

    static func idea(from s: borrowing Statement) -> ArchivedIdea {
        let proposal = IdeaProposal(name: s.string(2), title: s.string(3), experiment: s.string(4),
                                    interestingness: Int(s.int64(5)), feasibility: Int(s.int64(6)), novelty: Int(s.int64(7)))
        let unpriced = s.int64(14) > 0
        return ArchivedIdea(id: s.int64(0), template: s.string(1), proposal: proposal,
                            source: ArchivedIdea.Source(rawValue: s.string(8)) ?? .generated, launchID: s.optionalInt64(9),
                            reflections: Int(s.int64(10)), createdAt: s.double(11),
                            novelty: s.optionalString(12).flatMap(NoveltyDecision.init(rawValue:)),
                            costUSD: unpriced ? nil : (s.optionalDouble(13) ?? 0),
                            inputTokens: Int(s.double(15)), outputTokens: Int(s.double(16)))
    }
}
