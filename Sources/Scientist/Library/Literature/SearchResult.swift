import Foundation

/// The papers one query returned, and whether they came from the cache.
public struct SearchResult: Sendable, Equatable {
    public var papers: [Paper]
    /// The engine's count of all matches, where it gives one.
    public var total: Int?
    public var cached: Bool

    public init(papers: [Paper], total: Int?, cached: Bool) {
        self.papers = papers
        self.total = total
        self.cached = cached
    }

    /// The cache key's form of a query: lowercased, whitespace collapsed and trimmed, so "Sparse  Probes " and
    /// "sparse probes" are one entry.
    public static func normalise(_ query: String) -> String {
        query.lowercased().split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }
}
