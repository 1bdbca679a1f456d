import Foundation
import CCurl

/// One HTTP exchange through a libcurl easy handle: no retries here (`HTTPClient` does those).
///
/// Every handle gets: only http and https (also for redirects, which are not followed), TLS peer and host
/// verification on, CURLOPT_NOSIGNAL (timeouts without SIGALRM, safe with threads), connect and total timeouts,
/// no "Expect: 100-continue" round trip, and a cap on the response body. Proxies come from libcurl's usual
/// environment variables (http_proxy, https_proxy, no_proxy), which it reads by default.
struct CurlTransport: Sendable {
    var connectTimeoutMilliseconds: Int
    var totalTimeoutMilliseconds: Int
    var maxResponseBytes: Int
    var userAgent: String

    enum Failure: Error {
        case invalid(String)
        /// `requestSent`: libcurl had sent request bytes (CURLINFO_REQUEST_SIZE > 0) before failing.
        case curl(code: CURLcode, message: String, requestSent: Bool)
        case tooLarge
    }

    /// `curl_global_init` exactly once per process, before the first handle (Swift runs a static initializer
    /// once, thread-safely).
    private static let globalInit: CURLcode = curl_global_init(Int(CURL_GLOBAL_ALL))

    func perform(_ request: HTTPRequest) -> Result<HTTPResponse, Failure> {
        guard CurlTransport.globalInit == CURLE_OK else {
            return .failure(.invalid("curl_global_init failed: \(String(cString: curl_easy_strerror(CurlTransport.globalInit)))"))
        }
        guard let handle = curl_easy_init() else { return .failure(.invalid("curl_easy_init failed")) }
        defer { curl_easy_cleanup(handle) }

        var headerList: UnsafeMutablePointer<curl_slist>? = nil
        defer { curl_slist_free_all(headerList) }
        for (name, value) in request.headers {
            guard !name.contains(where: { $0 == ":" || $0.isNewline }), !value.contains(where: \.isNewline) else {
                return .failure(.invalid("header \(name) contains a line break or colon"))
            }
            headerList = curl_slist_append(headerList, "\(name): \(value)")
        }
        // An empty "Expect:" stops libcurl from waiting for 100 Continue before large POST bodies.
        headerList = curl_slist_append(headerList, "Expect:")

        let sink = ResponseSink(limit: maxResponseBytes)
        let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
        defer { errorBuffer.deallocate() }

        return withExtendedLifetime(sink) { () -> Result<HTTPResponse, Failure> in
            let context = Unmanaged.passUnretained(sink).toOpaque()
            var setup: [CURLcode] = [
                ccurl_setopt_string(handle, CURLOPT_URL, request.url),
                ccurl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https"),
                ccurl_setopt_string(handle, CURLOPT_REDIR_PROTOCOLS_STR, "http,https"),
                ccurl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0),
                ccurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1),
                ccurl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 1),
                ccurl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 2),
                ccurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, connectTimeoutMilliseconds),
                ccurl_setopt_long(handle, CURLOPT_TIMEOUT_MS, totalTimeoutMilliseconds),
                ccurl_setopt_string(handle, CURLOPT_USERAGENT, userAgent),
                ccurl_setopt_string(handle, CURLOPT_ACCEPT_ENCODING, ""),
                ccurl_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList),
                ccurl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer),
                ccurl_setopt_callback(handle, CURLOPT_WRITEFUNCTION, ResponseSink.bodyCallback),
                ccurl_setopt_pointer(handle, CURLOPT_WRITEDATA, context),
                ccurl_setopt_callback(handle, CURLOPT_HEADERFUNCTION, ResponseSink.headerCallback),
                ccurl_setopt_pointer(handle, CURLOPT_HEADERDATA, context),
            ]
            switch request.method {
            case .get:
                setup.append(ccurl_setopt_long(handle, CURLOPT_HTTPGET, 1))
            case .post:
                setup.append(ccurl_setopt_long(handle, CURLOPT_POSTFIELDSIZE, request.body.count))
                // COPYPOSTFIELDS copies the bytes, so the Swift array need not outlive this call.
                setup.append(request.body.withUnsafeBufferPointer { bytes -> CURLcode in
                    guard let base = bytes.baseAddress else { return ccurl_setopt_string(handle, CURLOPT_COPYPOSTFIELDS, "") }
                    return base.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
                        ccurl_setopt_string(handle, CURLOPT_COPYPOSTFIELDS, $0)
                    }
                })
            }
            if let bad = setup.first(where: { $0 != CURLE_OK }) {
                // Typically CURLE_UNSUPPORTED_PROTOCOL or CURLE_URL_MALFORMAT surface at perform; this is rarer.
                return .failure(.invalid("libcurl refused an option: \(String(cString: curl_easy_strerror(bad)))"))
            }

            let code = curl_easy_perform(handle)
            if sink.overflowed { return .failure(.tooLarge) }
            guard code == CURLE_OK else {
                let detail = String(cString: errorBuffer)
                let message = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
                var sent = 0
                _ = ccurl_getinfo_long(handle, CURLINFO_REQUEST_SIZE, &sent)
                return .failure(.curl(code: code, message: message, requestSent: sent > 0))
            }
            var status = 0
            _ = ccurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
            return .success(HTTPResponse(status: status, headers: sink.headers, body: sink.body))
        }
    }

    /// Transport failures worth another attempt: the network or the server may do better next time.
    static func isTransient(_ code: CURLcode) -> Bool {
        [CURLE_COULDNT_CONNECT, CURLE_OPERATION_TIMEDOUT, CURLE_PARTIAL_FILE, CURLE_GOT_NOTHING,
         CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY].contains(code)
    }
}

/// Collects one transfer's response headers and body; lives for the duration of `curl_easy_perform`, which
/// calls back on the calling thread only.
private final class ResponseSink {
    let limit: Int
    var body: [UInt8] = []
    var headers: [(name: String, value: String)] = []
    var overflowed = false

    init(limit: Int) { self.limit = limit }

    /// Appends, or refuses (libcurl then aborts with CURLE_WRITE_ERROR) once the cap would be passed.
    func append(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard body.count + bytes.count <= limit else {
            overflowed = true
            return false
        }
        body.append(contentsOf: bytes)
        return true
    }

    /// One header line. A status line starts a new response (after 100 Continue, a proxy CONNECT, ...), so
    /// the headers kept are those of the final response.
    func headerLine(_ bytes: UnsafeRawBufferPointer) {
        let line = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if line.hasPrefix("HTTP/") {
            headers.removeAll()
            return
        }
        guard let colon = line.firstIndex(of: ":") else { return }
        let name = line[..<colon].trimmingCharacters(in: .whitespaces)
        let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        headers.append((name: name, value: value))
    }

    static let bodyCallback: ccurl_data_callback = { data, size, count, context in
        let total = size * count
        guard let context else { return 0 }
        let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
        guard total > 0, let data else { return total }
        return sink.append(UnsafeRawBufferPointer(start: data, count: total)) ? total : 0
    }

    static let headerCallback: ccurl_data_callback = { data, size, count, context in
        let total = size * count
        guard let context, let data, total > 0 else { return total }
        let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
        sink.headerLine(UnsafeRawBufferPointer(start: data, count: total))
        return total
    }
}
