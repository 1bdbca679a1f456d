import Foundation
import Synchronization

/// A paper search engine.
public protocol LiteratureSearch: Sendable {
    /// "semanticscholar", "openalex": also the cache's key.
    var engine: String { get }
    func search(_ query: String, limit: Int) throws(LiteratureError) -> SearchResult
}

/// Keeps requests to one service at least `interval` apart (Semantic Scholar: 1 request a second), measured
/// on the monotonic clock from the start of the previous request. Shared by every search of a process.
public final class RequestPacer: Sendable {
    public let interval: Duration
    private let last = Mutex<ContinuousClock.Instant?>(nil)

    public init(interval: Duration) { self.interval = interval }

    /// Waits until a request may start, and books that start.
    public func wait() {
        let delay = last.withLock { last -> Duration in
            let now = ContinuousClock.now
            let start = last.map { max(now, $0 + interval) } ?? now
            last = start
            return start - now
        }
        if delay > .zero { RetryPolicy.threadSleep(delay) }
    }
}

/// A search that answers from the archive's cache when it can, so a query is paid for (in rate limit and
/// time) once: the key is (engine, normalised query, limit).
public struct CachedLiteratureSearch: LiteratureSearch {
    public let upstream: any LiteratureSearch
    public let store: ScientistStore
    public var engine: String { upstream.engine }

    public init(upstream: any LiteratureSearch, store: ScientistStore) {
        self.upstream = upstream
        self.store = store
    }

    public func search(_ query: String, limit: Int) throws(LiteratureError) -> SearchResult {
        if let hit = try? store.cachedSearch(engine: engine, query: query, limit: limit) { return hit }
        let result = try upstream.search(query, limit: limit)
        do {
            try store.cacheSearch(engine: engine, query: query, limit: limit, result: result)
        } catch {
            throw LiteratureError(engine: engine, query: query, reason: "results fetched but not cached: \(error)")
        }
        return result
    }
}

enum QueryString {
    /// `name=value&…` with each value percent-encoded (RFC 3986 unreserved characters left as they are).
    static func encode(_ items: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return items.map { name, value in
            "\(name)=\(value.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")"
        }.joined(separator: "&")
    }
}
