import Dispatch
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A real HTTP/1.1 server on 127.0.0.1 (an ephemeral port) for the tests: one thread accepts, one thread per
/// connection reads a request, asks the handler what to do, does it, and closes the connection. The handler
/// can answer normally, stall, cut a body short, or send raw bytes, so the client's handling of each is
/// exercised over a real socket. `stop()` (also run by deinit) wakes and joins every thread.
final class TestHTTPServer: @unchecked Sendable {
    struct Request: Sendable {
        let method: String
        /// Path and query, as sent ("/graph/v1/paper/search?query=…").
        let target: String
        /// Header names lowercased.
        let headers: [String: String]
        let body: [UInt8]
        let receivedAt: ContinuousClock.Instant

        var path: String { String(target.split(separator: "?", maxSplits: 1).first ?? "") }
        var bodyText: String { String(decoding: body, as: UTF8.self) }
        var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] }

        /// The decoded query parameters.
        var query: [String: String] {
            guard let components = URLComponents(string: "http://x" + target) else { return [:] }
            var result: [String: String] = [:]
            for item in components.queryItems ?? [] { result[item.name] = item.value ?? "" }
            return result
        }
    }

    enum Reply: Sendable {
        /// A complete response with Content-Length.
        case respond(status: Int, headers: [(String, String)], body: [UInt8])
        /// Sends nothing until the client gives up (or `limit` passes, or the server stops).
        case stall(limit: Duration)
        /// Headers announcing `declaredLength` bytes, then only `body`, then close.
        case truncated(status: Int, declaredLength: Int, body: [UInt8])
        /// Exactly these bytes, then close.
        case raw([UInt8])

        static func json(_ text: String, status: Int = 200, headers: [(String, String)] = []) -> Reply {
            .respond(status: status, headers: [("Content-Type", "application/json")] + headers, body: Array(text.utf8))
        }

        static func text(_ text: String, status: Int = 200, headers: [(String, String)] = []) -> Reply {
            .respond(status: status, headers: [("Content-Type", "text/plain")] + headers, body: Array(text.utf8))
        }
    }

    typealias Handler = @Sendable (Request) -> Reply

    private struct State {
        var requests: [Request] = []
        var connections: Set<Int32> = []
        var stopping = false
        var script: [Reply] = []
    }

    let port: Int
    var baseURL: String { "http://127.0.0.1:\(port)" }
    private let listener: Int32
    private let handler: Handler?
    private let state = Mutex(State())
    private let threads = DispatchGroup()

    /// A server answering every request with `handler`.
    convenience init(handler: @escaping Handler) throws {
        try self.init(handler: handler, script: [])
    }

    /// A server answering requests with `script` in order; once it is used up, 599 "script exhausted".
    convenience init(script: [Reply]) throws {
        try self.init(handler: nil, script: script)
    }

    private init(handler: Handler?, script: [Reply]) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard bound == 0, listen(fd, 64) == 0, named == 0 else {
            let code = errno
            close(fd)
            throw POSIXError(.init(rawValue: code) ?? .EIO)
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        self.handler = handler
        state.withLock { $0.script = script }
        spawn { [self] in acceptLoop() }
    }

    deinit { stop() }

    /// Every request received so far, in arrival order.
    var requests: [Request] { state.withLock { $0.requests } }

    /// Stops accepting, wakes stalled connections, and waits for every thread. Idempotent.
    func stop() {
        let connections = state.withLock { state -> Set<Int32>? in
            if state.stopping { return nil }
            state.stopping = true
            return state.connections
        }
        guard let connections else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        for fd in connections { shutdown(fd, Int32(SHUT_RDWR)) }
        threads.wait()
        close(listener)
    }

    // MARK: Threads

    private func spawn(_ body: @escaping @Sendable () -> Void) {
        threads.enter()
        let group = threads
        let thread = Thread {
            body()
            group.leave()
        }
        thread.start()
    }

    private func acceptLoop() {
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 {
                if errno == EINTR { continue }
                return  // shut down by stop()
            }
            let accepted = state.withLock { state -> Bool in
                guard !state.stopping else { return false }
                state.connections.insert(fd)
                return true
            }
            guard accepted else {
                close(fd)
                return
            }
            spawn { [self] in serve(fd) }
        }
    }

    private func serve(_ fd: Int32) {
        defer {
            state.withLock { _ = $0.connections.remove(fd) }
            close(fd)
        }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard let request = readRequest(fd) else { return }
        let reply = state.withLock { state -> Reply? in
            state.requests.append(request)
            if handler != nil { return nil }
            return state.script.isEmpty ? .text("script exhausted", status: 599) : state.script.removeFirst()
        } ?? handler?(request) ?? .text("no handler", status: 599)
        perform(reply, on: fd)
    }

    // MARK: Requests and replies

    private func readRequest(_ fd: Int32) -> Request? {
        var buffer: [UInt8] = []
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        var headerEnd: Int?
        while headerEnd == nil {
            guard let chunk = receive(fd), !chunk.isEmpty else { return nil }
            buffer += chunk
            headerEnd = buffer.firstRange(of: separator)?.lowerBound
        }
        guard let headerEnd else { return nil }
        let head = String(decoding: buffer[..<headerEnd], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ")
        guard requestLine.count >= 2 else { return nil }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Array(buffer[(headerEnd + separator.count)...])
        let expected = Int(headers["content-length"] ?? "0") ?? 0
        while body.count < expected {
            guard let chunk = receive(fd), !chunk.isEmpty else { return nil }
            body += chunk
        }
        return Request(method: String(requestLine[0]), target: String(requestLine[1]), headers: headers,
                       body: body, receivedAt: .now)
    }

    private func receive(_ fd: Int32) -> [UInt8]? {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            return n < 0 ? nil : Array(chunk[..<n])
        }
    }

    private func perform(_ reply: Reply, on fd: Int32) {
        switch reply {
        case let .respond(status, headers, body):
            send(fd, head(status: status, headers: headers, length: body.count) + body)
        case let .truncated(status, declaredLength, body):
            send(fd, head(status: status, headers: [("Content-Type", "application/json")], length: declaredLength) + body)
        case let .raw(bytes):
            send(fd, bytes)
        case let .stall(limit):
            let deadline = ContinuousClock.now + limit
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            while ContinuousClock.now < deadline {
                // Readable means the client closed (or stop() shut the socket down): done stalling.
                if poll(&poller, 1, 50) > 0 { return }
            }
        }
    }

    private func head(status: Int, headers: [(String, String)], length: Int) -> [UInt8] {
        var text = "HTTP/1.1 \(status) \(Self.reason(status))\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        text += "Content-Length: \(length)\r\nConnection: close\r\n\r\n"
        return Array(text.utf8)
    }

    private func send(_ fd: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            offset += n
        }
    }

    private static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 503: "Service Unavailable"
        default: "Status"
        }
    }
}
