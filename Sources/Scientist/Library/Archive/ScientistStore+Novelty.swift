import Foundation
import SQLiteSupport

/// A novelty check as stored: every round's thought and query, every paper shown, the decision and reasons.
public struct NoveltyCheckRecord: Sendable, Equatable, Codable {
    public struct Round: Sendable, Equatable, Codable {
        public var round: Int
        public var thought: String
        public var query: String?
        public var papers: [Paper]
    }
    public var id: Int64
    public var ideaID: Int64
    public var engine: String
    public var startedAt: Double
    public var finishedAt: Double?
    public var decision: NoveltyDecision?
    public var reasons: String?
    public var rounds: [Round]
}

extension ScientistStore {
    public func beginNoveltyCheck(ideaID: Int64, launchID: Int64?, engine: String) throws(SQLiteError) -> Int64 {
        try write("insert novelty check", "INSERT INTO novelty_checks (idea_id, launch_id, engine, started_at) VALUES (?1, ?2, ?3, ?4)") { (s) throws(SQLiteError) in
            try s.bind(1, ideaID)
            try s.bind(2, launchID)
            try s.bind(3, engine)
            try s.bind(4, Self.now)
        }
    }

    /// One round: the model's thought, its query (nil when it decided), and the papers it was shown.
    public func addNoveltyRound(checkID: Int64, round: Int, thought: String, query: String?, papers: [Paper]) throws(SQLiteError) {
        try connection.transaction("record novelty round") { (db) throws(SQLiteError) in
            let r = try Statement(db, "INSERT INTO novelty_rounds (check_id, round, thought, query) VALUES (?1, ?2, ?3, ?4)",
                                  operation: "insert novelty round", path: path)
            try r.bind(1, checkID)
            try r.bind(2, Int64(round))
            try r.bind(3, thought)
            try r.bind(4, query)
            try r.run()
            for (rank, paper) in papers.enumerated() {
                let p = try Statement(db, """
                    INSERT INTO novelty_papers (check_id, round, rank, paper_id, title, authors, venue, year, abstract,
                                                citation_count, bibtex) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                    """, operation: "insert consulted paper", path: path)
                try p.bind(1, checkID)
                try p.bind(2, Int64(round))
                try p.bind(3, Int64(rank + 1))
                try p.bind(4, paper.id)
                try p.bind(5, paper.title)
                try p.bind(6, paper.authors.joined(separator: "; "))
                try p.bind(7, paper.venue)
                try p.bind(8, paper.year.map(Int64.init))
                try p.bind(9, paper.abstract)
                try p.bind(10, paper.citationCount.map(Int64.init))
                try p.bind(11, paper.bibtex)
                try p.run()
            }
        }
    }

    public func finishNoveltyCheck(_ id: Int64, ideaID: Int64, decision: NoveltyDecision, reasons: String, rounds: Int) throws(SQLiteError) {
        try connection.transaction("finish novelty check") { (db) throws(SQLiteError) in
            let s = try Statement(db, "UPDATE novelty_checks SET finished_at = ?1, decision = ?2, reasons = ?3, rounds = ?4 WHERE id = ?5",
                                  operation: "finish novelty check \(id)", path: path)
            try s.bind(1, Self.now)
            try s.bind(2, decision.rawValue)
            try s.bind(3, reasons)
            try s.bind(4, Int64(rounds))
            try s.bind(5, id)
            try s.run()
            let i = try Statement(db, "UPDATE ideas SET novelty_decision = ?1 WHERE id = ?2", operation: "update idea \(ideaID)", path: path)
            try i.bind(1, decision.rawValue)
            try i.bind(2, ideaID)
            try i.run()
        }
    }

    /// The checks of an idea, oldest first, with their rounds and papers.
    public func noveltyChecks(ideaID: Int64) throws(SQLiteError) -> [NoveltyCheckRecord] {
        var checks = try read("list novelty checks", "SELECT id, idea_id, engine, started_at, finished_at, decision, reasons FROM novelty_checks WHERE idea_id = ?1 ORDER BY id",
                              bind: { (s) throws(SQLiteError) in try s.bind(1, ideaID) }) { s in
            NoveltyCheckRecord(id: s.int64(0), ideaID: s.int64(1), engine: s.string(2), startedAt: s.double(3),
                               finishedAt: s.optionalDouble(4), decision: s.optionalString(5).flatMap(NoveltyDecision.init(rawValue:)),
                               reasons: s.optionalString(6), rounds: [])
        }
        for index in checks.indices {
            let id = checks[index].id
            let papers = try read("list consulted papers", "SELECT round, paper_id, title, authors, venue, year, abstract, citation_count, bibtex FROM novelty_papers WHERE check_id = ?1 ORDER BY round, rank",
                                  bind: { (s) throws(SQLiteError) in try s.bind(1, id) }) { s in
                (Int(s.int64(0)), Paper(id: s.optionalString(1), title: s.string(2),
                                        authors: s.string(3).isEmpty ? [] : s.string(3).components(separatedBy: "; "),
                                        venue: s.optionalString(4), year: s.optionalInt64(5).map(Int.init), abstract: s.optionalString(6),
                                        citationCount: s.optionalInt64(7).map(Int.init), bibtex: s.optionalString(8)))
            }
            checks[index].rounds = try read("list novelty rounds", "SELECT round, thought, query FROM novelty_rounds WHERE check_id = ?1 ORDER BY round",
                                            bind: { (s) throws(SQLiteError) in try s.bind(1, id) }) { s in
                let round = Int(s.int64(0))
                return NoveltyCheckRecord.Round(round: round, thought: s.string(1), query: s.optionalString(2),
                                                papers: papers.filter { $0.0 == round }.map(\.1))
            }
        }
        return checks
    }
}
