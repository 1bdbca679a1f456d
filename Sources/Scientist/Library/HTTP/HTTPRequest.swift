/// One HTTP request. Secrets travel only in `headers` (never in `url`), so the URL can appear in errors and logs.
public struct HTTPRequest: Sendable {
    public enum Method: String, Sendable { case get = "GET", post = "POST" }

    public var method: Method
    public var url: String
    /// Name and value pairs, sent in order.
    public var headers: [(name: String, value: String)]
    /// The request body (POST only).
    public var body: [UInt8]

    public init(method: Method, url: String, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }

    /// "POST https://api.openai.com/v1/chat/completions": how errors and logs name a request.
    public var summary: String { "\(method.rawValue) \(url)" }
}
