import Foundation

/// OpenAlex: GET `/works?search=&per-page=` (with `mailto` for the polite pool). Abstracts arrive as an
/// inverted index (word → positions) and are rebuilt; OpenAlex gives no BibTeX.
public struct OpenAlexSearch: LiteratureSearch {
    public var engine: String { "openalex" }
    let baseURL: String
    let mailto: String?
    let http: HTTPClient
    let pacer: RequestPacer

    public init(baseURL: String = "https://api.openalex.org", mailto: String?, http: HTTPClient, pacer: RequestPacer) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.mailto = mailto
        self.http = http
        self.pacer = pacer
    }

    public func search(_ query: String, limit: Int) throws(LiteratureError) -> SearchResult {
        var items = [("search", query), ("per-page", "\(limit)")]
        if let mailto { items.append(("mailto", mailto)) }
        pacer.wait()
        let response: HTTPResponse
        do {
            response = try http.send(HTTPRequest(method: .get, url: baseURL + "/works?" + QueryString.encode(items),
                                                 headers: [("Accept", "application/json")]))
        } catch {
            throw LiteratureError(engine: engine, query: query, reason: error.description)
        }
        let reply: Reply
        do {
            reply = try JSONDecoder().decode(Reply.self, from: Data(response.body))
        } catch {
            throw LiteratureError(engine: engine, query: query,
                                  reason: "unexpected reply: \(ProviderHTTP.describe(error)); body: \(response.bodyExcerpt())")
        }
        let papers = reply.results.compactMap { work -> Paper? in
            guard let title = work.title ?? work.display_name, !title.isEmpty else { return nil }
            return Paper(id: work.id, title: title,
                         authors: (work.authorships ?? []).compactMap { $0.author?.display_name },
                         venue: work.primary_location?.source?.display_name, year: work.publication_year,
                         abstract: work.abstract_inverted_index.map(Self.abstract(from:)),
                         citationCount: work.cited_by_count, bibtex: nil)
        }
        return SearchResult(papers: papers, total: reply.meta?.count, cached: false)
    }

    /// The text of an inverted index: each word placed at its positions, joined by spaces.
    static func abstract(from index: [String: [Int]]) -> String {
        var positioned: [(Int, String)] = []
        for (word, positions) in index { for p in positions { positioned.append((p, word)) } }
        return positioned.sorted { $0.0 < $1.0 }.map(\.1).joined(separator: " ")
    }

    private struct Reply: Decodable {
        struct Meta: Decodable { let count: Int? }
        struct Work: Decodable {
            struct Authorship: Decodable {
                struct Author: Decodable { let display_name: String? }
                let author: Author?
            }
            struct Location: Decodable {
                struct Source: Decodable { let display_name: String? }
                let source: Source?
            }
            let id: String?
            let title: String?
            let display_name: String?
            let publication_year: Int?
            let cited_by_count: Int?
            let authorships: [Authorship]?
            let primary_location: Location?
            let abstract_inverted_index: [String: [Int]]?
        }
        let meta: Meta?
        let results: [Work]
    }
}
