import Foundation
import SQLiteSupport

extension ScientistStore {
    /// Cached results for (engine, normalised query, limit), if any.
    public func cachedSearch(engine: String, query: String, limit: Int) throws(SQLiteError) -> SearchResult? {
        let rows = try read("read literature cache", "SELECT papers, total FROM literature_cache WHERE engine = ?1 AND query = ?2 AND result_limit = ?3",
                            bind: { (s) throws(SQLiteError) in
                                try s.bind(1, engine)
                                try s.bind(2, SearchResult.normalise(query))
                                try s.bind(3, Int64(limit))
                            }) { s in (s.string(0), s.optionalInt64(1)) }
        guard let (json, total) = rows.first else { return nil }
        // A row this code cannot read (written by another version) counts as a miss and is overwritten.
        guard let papers = try? JSONDecoder().decode([Paper].self, from: Data(json.utf8)) else { return nil }
        return SearchResult(papers: papers, total: total.map(Int.init), cached: true)
    }

    public func cacheSearch(engine: String, query: String, limit: Int, result: SearchResult) throws(SQLiteError) {
        let json: String
        do { json = String(decoding: try JSONEncoder().encode(result.papers), as: UTF8.self) } catch {
            throw SQLiteError(operation: "encode search results", code: 1, message: "\(error)", path: path)
        }
        let sql = "INSERT OR REPLACE INTO literature_cache (engine, query, result_limit, fetched_at, total, papers) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
        try write("write literature cache", sql) { (s) throws(SQLiteError) in
            try s.bind(1, engine)
            try s.bind(2, SearchResult.normalise(query))
            try s.bind(3, Int64(limit))
            try s.bind(4, Self.now)
            try s.bind(5, result.total.map(Int64.init))
            try s.bind(6, json)
        }
    }
}
