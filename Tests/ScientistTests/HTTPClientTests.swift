import Foundation
import XCTest
@testable import Scientist

final class HTTPClientTests: XCTestCase {
    private var server: TestHTTPServer?

    override func setUp() { ignoreSIGPIPE() }

    override func tearDown() {
        server?.stop()
        server = nil
    }

    private func start(_ script: [TestHTTPServer.Reply]) throws -> TestHTTPServer {
        let server = try TestHTTPServer(script: script)
        self.server = server
        return server
    }

    private func client(_ retry: RetryPolicy, total: Duration = .seconds(5), maxBytes: Int = 1 << 20) -> HTTPClient {
        HTTPClient(configuration: .init(connectTimeout: .seconds(2), totalTimeout: total, maxResponseBytes: maxBytes,
                                        retry: retry), logger: quietLogger())
    }

    func testPostSendsHeadersAndBodyAndReturnsResponseHeaders() throws {
        let server = try start([.json(#"{"ok":true}"#, headers: [("X-Trace", "abc")])])
        let body = Array(String(repeating: "x", count: 5000).utf8)  // large enough that curl would send Expect
        let response = try client(SleepRecorder().policy()).send(
            HTTPRequest(method: .post, url: server.baseURL + "/v1/thing", headers: [("X-Test", "1")], body: body))
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.header("x-trace"), "abc")
        XCTAssertEqual(String(decoding: response.body, as: UTF8.self), #"{"ok":true}"#)
        let request = try XCTUnwrap(server.requests.first)
        XCTAssertEqual(request.method, "POST")
        XCTAssertEqual(request.path, "/v1/thing")
        XCTAssertEqual(request.headers["x-test"], "1")
        XCTAssertNil(request.headers["expect"], "no 100-continue round trip")
        XCTAssertEqual(request.body, body)
    }

    func testRetryAfterSecondsIsTheWaitBefore429IsRetried() throws {
        let server = try start([.text("slow down", status: 429, headers: [("Retry-After", "7")]), .json("{}")])
        let sleeps = SleepRecorder()
        _ = try client(sleeps.policy()).send(HTTPRequest(method: .get, url: server.baseURL + "/"))
        XCTAssertEqual(sleeps.recorded, [.seconds(7)])
        XCTAssertEqual(server.requests.count, 2)
    }

    func testRetryAfterIsActuallyWaitedOnTheRealClock() throws {
        let server = try start([.text("slow down", status: 429, headers: [("Retry-After", "1")]), .json("{}")])
        _ = try client(RetryPolicy(maxAttempts: 2, baseDelay: .milliseconds(1)))
            .send(HTTPRequest(method: .get, url: server.baseURL + "/"))
        let times = server.requests.map(\.receivedAt)
        XCTAssertEqual(times.count, 2)
        XCTAssertGreaterThanOrEqual(times[1] - times[0], .milliseconds(950))
    }

    func testRetryAfterHTTPDateIsTheWait() throws {
        let now = Date().timeIntervalSince1970
        XCTAssertEqual(RetryPolicy.retryAfter("Wed, 21 Oct 2015 07:28:00 GMT", now: 1_445_412_470), .seconds(10))
        XCTAssertEqual(RetryPolicy.retryAfter("Wed, 21 Oct 2015 07:28:00 GMT", now: now), .zero, "a past date waits 0")
        XCTAssertEqual(RetryPolicy.retryAfter(" 12 "), .seconds(12))
        XCTAssertNil(RetryPolicy.retryAfter("soon"))
        XCTAssertNil(RetryPolicy.retryAfter("-5"))

        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        let date = formatter.string(from: Date(timeIntervalSince1970: now.rounded(.down) + 30))
        let server = try start([.text("busy", status: 503, headers: [("Retry-After", date)]), .json("{}")])
        let sleeps = SleepRecorder()
        _ = try client(sleeps.policy()).send(HTTPRequest(method: .get, url: server.baseURL + "/"))
        let wait = try XCTUnwrap(sleeps.recorded.first)
        XCTAssertGreaterThan(wait, .seconds(27))
        XCTAssertLessThanOrEqual(wait, .seconds(30))
    }

    func testServerErrorsAreRetriedWithGrowingBackoff() throws {
        let server = try start([.text("a", status: 500), .text("b", status: 502), .text("c", status: 503), .json("{}")])
        let sleeps = SleepRecorder()
        let response = try client(sleeps.policy()).send(HTTPRequest(method: .get, url: server.baseURL + "/"))
        XCTAssertEqual(response.status, 200)
        let waits = sleeps.recorded
        XCTAssertEqual(waits.count, 3)
        XCTAssertGreaterThanOrEqual(waits[0], .milliseconds(100))
        XCTAssertGreaterThanOrEqual(waits[1], .milliseconds(200))
        XCTAssertGreaterThanOrEqual(waits[2], .milliseconds(400))
        XCTAssertLessThanOrEqual(waits[2], .milliseconds(500), "jitter adds at most 25%")
    }

    func testLastRetryFailureIsAClearErrorAndNoMoreAttemptsAreMade() throws {
        let server = try start(Array(repeating: .text("upstream exploded", status: 500), count: 5))
        let error = expectError(HTTPError.self) {
            try client(SleepRecorder().policy(maxAttempts: 3)).send(HTTPRequest(method: .get, url: server.baseURL + "/x"))
        }
        XCTAssertEqual(server.requests.count, 3)
        XCTAssertEqual(error?.httpStatus, 500)
        XCTAssertEqual(error?.description, "GET \(server.baseURL)/x: HTTP 500 (after 3 attempts): upstream exploded")
    }

    func testClientErrorsAreNotRetried() throws {
        let server = try start([.json(#"{"error":"bad"}"#, status: 400), .json("{}")])
        let error = expectError(HTTPError.self) {
            try client(SleepRecorder().policy()).send(HTTPRequest(method: .get, url: server.baseURL + "/"))
        }
        XCTAssertEqual(error?.httpStatus, 400)
        XCTAssertEqual(server.requests.count, 1)
    }

    func testRetryAfterBeyondTheLimitFailsAtOnce() throws {
        let server = try start([.text("later", status: 429, headers: [("Retry-After", "3600")]), .json("{}")])
        let sleeps = SleepRecorder()
        let error = expectError(HTTPError.self) {
            try client(sleeps.policy(maxRetryAfter: .seconds(60))).send(HTTPRequest(method: .get, url: server.baseURL + "/"))
        }
        XCTAssertEqual(error, .retryAfterTooLong(request: "GET \(server.baseURL)/", seconds: 3600, limit: 60))
        XCTAssertEqual(sleeps.recorded, [])
        XCTAssertEqual(server.requests.count, 1)
    }

    func testStallingServerTimesOutOnEveryAttempt() throws {
        let server = try start([.stall(limit: .seconds(10)), .stall(limit: .seconds(10))])
        let started = ContinuousClock.now
        let error = expectError(HTTPError.self) {
            try client(SleepRecorder().policy(maxAttempts: 2), total: .milliseconds(300))
                .send(HTTPRequest(method: .get, url: server.baseURL + "/"))
        }
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(3))
        guard case let .transport(_, code, message, attempts, sent) = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertEqual(code, 28, "CURLE_OPERATION_TIMEDOUT")
        XCTAssertEqual(attempts, 2)
        XCTAssertTrue(message.contains("timed out"), message)
        XCTAssertTrue(sent)
        XCTAssertEqual(server.requests.count, 2)
    }

    func testTruncatedBodyIsRetriedThenReported() throws {
        let cut = TestHTTPServer.Reply.truncated(status: 200, declaredLength: 500, body: Array(#"{"choices":"#.utf8))
        let server = try start([cut, cut])
        let error = expectError(HTTPError.self) {
            try client(SleepRecorder().policy(maxAttempts: 2)).send(HTTPRequest(method: .get, url: server.baseURL + "/"))
        }
        guard case let .transport(_, code, _, attempts, _) = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertEqual(code, 18, "CURLE_PARTIAL_FILE")
        XCTAssertEqual(attempts, 2)
    }

    func testTruncatedBodyFollowedByAGoodOneSucceeds() throws {
        let server = try start([.truncated(status: 200, declaredLength: 50, body: Array("{".utf8)), .json(#"{"a":1}"#)])
        let response = try client(SleepRecorder().policy()).send(HTTPRequest(method: .get, url: server.baseURL + "/"))
        XCTAssertEqual(String(decoding: response.body, as: UTF8.self), #"{"a":1}"#)
    }

    func testOversizedResponseIsAbortedAndNotRetried() throws {
        let big = TestHTTPServer.Reply.respond(status: 200, headers: [], body: Array(repeating: 65, count: 200_000))
        let server = try start([big, big])
        let error = expectError(HTTPError.self) {
            try client(SleepRecorder().policy(), maxBytes: 10_000).send(HTTPRequest(method: .get, url: server.baseURL + "/"))
        }
        XCTAssertEqual(error, .responseTooLarge(request: "GET \(server.baseURL)/", limit: 10_000))
        XCTAssertEqual(server.requests.count, 1)
    }

    func testConnectionRefusedIsRetriedThenReported() throws {
        let server = try start([])
        let url = server.baseURL + "/"
        server.stop()
        let sleeps = SleepRecorder()
        let error = expectError(HTTPError.self) {
            try client(sleeps.policy(maxAttempts: 3)).send(HTTPRequest(method: .get, url: url))
        }
        guard case let .transport(_, code, _, attempts, _) = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertEqual(code, 7, "CURLE_COULDNT_CONNECT")
        guard case .transport(_, _, _, _, requestSent: false) = error else { return XCTFail("nothing was sent") }
        XCTAssertEqual(attempts, 3)
        XCTAssertEqual(sleeps.recorded.count, 2)
    }

    func testOnlyHTTPAndHTTPSURLsAreFetched() {
        for url in ["file:///etc/passwd", "ftp://127.0.0.1/", "gopher://127.0.0.1/", "dict://127.0.0.1/"] {
            let error = expectError(HTTPError.self) {
                try client(SleepRecorder().policy()).send(HTTPRequest(method: .get, url: url))
            }
            guard case .invalidRequest = error else { return XCTFail("\(url): \(String(describing: error))") }
        }
    }

    func testLibcurlItselfRefusesOtherProtocols() {
        // Bypasses HTTPClient's own check: CURLOPT_PROTOCOLS_STR must stop libcurl reading a local file.
        let transport = CurlTransport(connectTimeoutMilliseconds: 1000, totalTimeoutMilliseconds: 1000,
                                      maxResponseBytes: 1 << 20, userAgent: "t")
        switch transport.perform(HTTPRequest(method: .get, url: "file:///etc/hostname")) {
        case .success: XCTFail("file:// was read")
        case let .failure(.curl(code, _, _)): XCTAssertEqual(code.rawValue, 1, "CURLE_UNSUPPORTED_PROTOCOL")
        case let .failure(other): XCTFail("\(other)")
        }
    }

    func testProxyVariablesAreHonoured() throws {
        // The "proxy" is the test server: libcurl must send it the absolute URL of a host that does not exist.
        let server = try start([.json(#"{"via":"proxy"}"#)])
        setenv("http_proxy", server.baseURL, 1)
        defer { unsetenv("http_proxy") }
        let response = try client(SleepRecorder().policy(maxAttempts: 1))
            .send(HTTPRequest(method: .get, url: "http://api.example.invalid/v1/models"))
        XCTAssertEqual(String(decoding: response.body, as: UTF8.self), #"{"via":"proxy"}"#)
        XCTAssertEqual(server.requests.first?.target, "http://api.example.invalid/v1/models")
    }

    func testFailuresAfterSendingAreNotRetriedWhenThePolicySaysSo() throws {
        // Model calls: a timeout or a cut-short reply may already have been billed, so it is not repeated.
        let cut = TestHTTPServer.Reply.truncated(status: 200, declaredLength: 500, body: Array("{".utf8))
        let server = try start([.stall(limit: .seconds(10)), cut, .json("{}")])
        var policy = SleepRecorder().policy(maxAttempts: 3)
        policy.retriesAfterSending = false
        let once = client(policy, total: .milliseconds(300))
        let timeout = expectError(HTTPError.self) { try once.send(HTTPRequest(method: .post, url: server.baseURL + "/")) }
        guard case .transport(_, 28, _, 1, requestSent: true)? = timeout else { return XCTFail("\(String(describing: timeout))") }
        let partial = expectError(HTTPError.self) { try once.send(HTTPRequest(method: .post, url: server.baseURL + "/")) }
        guard case .transport(_, 18, _, 1, requestSent: true)? = partial else { return XCTFail("\(String(describing: partial))") }
        XCTAssertEqual(server.requests.count, 2)
    }
}
