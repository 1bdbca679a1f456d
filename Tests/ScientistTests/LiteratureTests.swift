import Foundation
import XCTest
@testable import Scientist

final class LiteratureTests: XCTestCase {
    private var server: TestHTTPServer?
    private var directory: TemporaryDirectory!

    override func setUpWithError() throws {
        ignoreSIGPIPE()
        directory = try TemporaryDirectory("scientist-literature")
    }

    override func tearDown() {
        server?.stop()
        directory?.remove()
    }

    private func start(_ script: [TestHTTPServer.Reply]) throws -> TestHTTPServer {
        let server = try TestHTTPServer(script: script)
        self.server = server
        return server
    }

    private func http(_ sleeps: SleepRecorder = SleepRecorder()) -> HTTPClient {
        HTTPClient(configuration: .init(totalTimeout: .seconds(5), retry: sleeps.policy(maxAttempts: 3)), logger: quietLogger())
    }

    private let key = APIKey(value: "s2-key-0123456789", origin: "test")

    func testSemanticScholarRequestAndResultsFollowTheGraphAPI() throws {
        let server = try start([LiteratureWire.semanticScholar([("p1", "Sparse probes"), ("p2", "Dense probes")], total: 97)])
        let search = SemanticScholarSearch(baseURL: server.baseURL, key: key, http: http(), pacer: RequestPacer(interval: .zero))
        let result = try search.search("sparse probing & LLMs", limit: 2)
        XCTAssertEqual(result.total, 97)
        XCTAssertFalse(result.cached)
        XCTAssertEqual(result.papers.first, Paper(id: "p1", title: "Sparse probes", authors: ["Ada Lovelace", "Alan Turing"],
                                                  venue: "NeurIPS", year: 2020, abstract: "Abstract of Sparse probes.",
                                                  citationCount: 10, bibtex: "@inproceedings{p1,\n title={Sparse probes}\n}"))
        XCTAssertNil(result.papers[1].venue, "an empty venue is no venue")

        let request = try XCTUnwrap(server.requests.first)
        XCTAssertEqual(request.path, "/graph/v1/paper/search")
        XCTAssertEqual(request.query["query"], "sparse probing & LLMs")
        XCTAssertEqual(request.query["limit"], "2")
        XCTAssertEqual(request.query["fields"]?.split(separator: ",").contains("citationStyles"), true)
        XCTAssertEqual(request.headers["x-api-key"], "s2-key-0123456789")
    }

    func testSemanticScholarWithNoMatchesAndNoKey() throws {
        let server = try start([Wire.json(["total": 0, "offset": 0])])
        let result = try SemanticScholarSearch(baseURL: server.baseURL, key: nil, http: http(), pacer: RequestPacer(interval: .zero))
            .search("nothing matches this", limit: 10)
        XCTAssertEqual(result.papers, [])
        XCTAssertNil(server.requests.first?.headers["x-api-key"])
    }

    func testSemanticScholar429IsRetriedAfterRetryAfter() throws {
        let server = try start([.json(#"{"message": "Too Many Requests"}"#, status: 429, headers: [("Retry-After", "3")]),
                                LiteratureWire.semanticScholar([("p1", "A")])])
        let sleeps = SleepRecorder()
        let result = try SemanticScholarSearch(baseURL: server.baseURL, key: nil, http: http(sleeps), pacer: RequestPacer(interval: .zero))
            .search("a", limit: 1)
        XCTAssertEqual(result.papers.count, 1)
        XCTAssertEqual(sleeps.recorded, [.seconds(3)])
    }

    func testRequestsArePacedToTheMinimumInterval() throws {
        let server = try start(Array(repeating: LiteratureWire.semanticScholar([("p", "T")]), count: 3))
        let search = SemanticScholarSearch(baseURL: server.baseURL, key: nil, http: http(), pacer: RequestPacer(interval: .milliseconds(300)))
        for query in ["one", "two", "three"] { _ = try search.search(query, limit: 1) }
        let times = server.requests.map(\.receivedAt)
        XCTAssertEqual(times.count, 3)
        XCTAssertGreaterThanOrEqual(times[1] - times[0], .milliseconds(280))
        XCTAssertGreaterThanOrEqual(times[2] - times[1], .milliseconds(280))
    }

    func testOpenAlexRequestAndResultsIncludingTheRebuiltAbstract() throws {
        let server = try start([LiteratureWire.openAlex([("W1", "grokking")])])
        let result = try OpenAlexSearch(baseURL: server.baseURL, mailto: "me@example.org", http: http(), pacer: RequestPacer(interval: .zero))
            .search("grokking transformers", limit: 5)
        XCTAssertEqual(result.total, 1234)
        XCTAssertEqual(result.papers, [Paper(id: "https://openalex.org/W1", title: "grokking", authors: ["Grace Hopper"], venue: "ICML",
                                             year: 2023, abstract: "We study grokking deeply", citationCount: 42, bibtex: nil)])
        let request = try XCTUnwrap(server.requests.first)
        XCTAssertEqual(request.path, "/works")
        XCTAssertEqual(request.query["search"], "grokking transformers")
        XCTAssertEqual(request.query["per-page"], "5")
        XCTAssertEqual(request.query["mailto"], "me@example.org")
    }

    func testTheCacheAnswersARepeatedQueryWithoutARequestEvenAfterReopening() throws {
        let server = try start([LiteratureWire.semanticScholar([("p1", "A")]), LiteratureWire.semanticScholar([("p2", "B")]),
                                LiteratureWire.semanticScholar([("p3", "C")])])
        let upstream = SemanticScholarSearch(baseURL: server.baseURL, key: nil, http: http(), pacer: RequestPacer(interval: .zero))
        let first = CachedLiteratureSearch(upstream: upstream, store: try ScientistStore(path: directory.file("a.db")))
        let fresh = try first.search("Sparse  Probes", limit: 10)
        XCTAssertFalse(fresh.cached)
        let again = try first.search("  sparse probes ", limit: 10)
        XCTAssertTrue(again.cached)
        XCTAssertEqual(again.papers, fresh.papers)
        XCTAssertEqual(server.requests.count, 1)

        let reopened = CachedLiteratureSearch(upstream: upstream, store: try ScientistStore(path: directory.file("a.db")))
        XCTAssertTrue(try reopened.search("sparse probes", limit: 10).cached)
        XCTAssertEqual(server.requests.count, 1)
        XCTAssertFalse(try reopened.search("sparse probes", limit: 5).cached, "the limit is part of the key")
        XCTAssertEqual(server.requests.count, 2)
    }

    func testUnreadableRepliesAreClearErrorsWithTheKeyRedacted() throws {
        let server = try start([.text("<html>s2-key-0123456789 maintenance</html>"), .json(#"{"data": "nope"}"#)])
        let search = SemanticScholarSearch(baseURL: server.baseURL, key: key, http: http(), pacer: RequestPacer(interval: .zero))
        let html = expectError(LiteratureError.self) { try search.search("q", limit: 1) }
        XCTAssertEqual(html?.description, "semanticscholar search for \"q\" failed: unexpected reply: not valid JSON; body: <html><redacted> maintenance</html>")
        let shape = expectError(LiteratureError.self) { try search.search("q", limit: 1) }
        XCTAssertTrue(shape?.reason.contains("'data' is not") ?? false, "\(String(describing: shape))")
    }

    func testServerErrorsEndInAClearErrorAfterRetries() throws {
        let server = try start(Array(repeating: .text("down", status: 503), count: 3))
        let error = expectError(LiteratureError.self) {
            try OpenAlexSearch(baseURL: server.baseURL, mailto: nil, http: http(), pacer: RequestPacer(interval: .zero)).search("q", limit: 1)
        }
        XCTAssertEqual(error?.reason, "GET \(server.baseURL)/works?search=q&per-page=1: HTTP 503 (after 3 attempts): down")
    }
}
