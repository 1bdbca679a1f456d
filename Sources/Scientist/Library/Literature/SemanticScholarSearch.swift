import Foundation

/// Semantic Scholar's Graph API: GET `/graph/v1/paper/search?query=&limit=&fields=`, with the optional
/// `x-api-key`. Requests are paced (1 a second by default, the limit with a key; keyless use shares a pool) and
/// 429s are retried after Retry-After by the HTTP client.
public struct SemanticScholarSearch: LiteratureSearch {
    public var engine: String { "semanticscholar" }
    let baseURL: String
    let key: APIKey?
    let http: HTTPClient
    let pacer: RequestPacer
    static let fields = "title,authors,venue,year,abstract,citationCount,citationStyles,externalIds"

    public init(baseURL: String = "https://api.semanticscholar.org", key: APIKey?, http: HTTPClient, pacer: RequestPacer) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.key = key
        self.http = http
        self.pacer = pacer
    }

    public func search(_ query: String, limit: Int) throws(LiteratureError) -> SearchResult {
        let url = baseURL + "/graph/v1/paper/search?" + QueryString.encode([("query", query), ("limit", "\(limit)"), ("fields", Self.fields)])
        var headers: [(name: String, value: String)] = [("Accept", "application/json")]
        if let key { headers.append((name: "x-api-key", value: key.value)) }
        pacer.wait()
        let response: HTTPResponse
        do {
            response = try http.send(HTTPRequest(method: .get, url: url, headers: headers))
        } catch {
            throw LiteratureError(engine: engine, query: query, reason: key.redact(error.description))
        }
        let reply: Reply
        do {
            reply = try JSONDecoder().decode(Reply.self, from: Data(response.body))
        } catch {
            throw LiteratureError(engine: engine, query: query,
                                  reason: key.redact("unexpected reply: \(ProviderHTTP.describe(error)); body: \(response.bodyExcerpt())"))
        }
        let papers = (reply.data ?? []).compactMap { item -> Paper? in
            guard let title = item.title, !title.isEmpty else { return nil }
            return Paper(id: item.paperId, title: title, authors: (item.authors ?? []).compactMap(\.name),
                         venue: item.venue.flatMap { $0.isEmpty ? nil : $0 }, year: item.year, abstract: item.abstract,
                         citationCount: item.citationCount, bibtex: item.citationStyles?.bibtex)
        }
        return SearchResult(papers: papers, total: reply.total, cached: false)
    }

    private struct Reply: Decodable {
        struct Item: Decodable {
            struct Author: Decodable { let name: String? }
            struct Styles: Decodable { let bibtex: String? }
            let paperId: String?
            let title: String?
            let authors: [Author]?
            let venue: String?
            let year: Int?
            let abstract: String?
            let citationCount: Int?
            let citationStyles: Styles?
        }
        let total: Int?
        /// Absent when nothing matched.
        let data: [Item]?
    }
}
