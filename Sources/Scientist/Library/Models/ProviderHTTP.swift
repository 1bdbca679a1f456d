import Foundation

/// What both providers share: JSON bodies, and turning HTTP failures into redacted `ModelError`s.
enum ProviderHTTP {
    static func post(_ http: HTTPClient, url: String, headers: [(name: String, value: String)], json: [String: Any],
                     model: String, key: APIKey?) throws(ModelError) -> HTTPResponse {
        let body: Data
        do {
            body = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
        } catch {
            throw .request(model: model, detail: "cannot encode the request: \(error)")
        }
        do {
            return try http.send(HTTPRequest(method: .post, url: url, headers: headers, body: Array(body)))
        } catch {
            if case .transport(_, _, _, _, requestSent: true) = error {
                throw .noReply(model: model, detail: key.redact(error.description))
            }
            throw .request(model: model, detail: key.redact(error.description))
        }
    }

    /// A decoding error in words: "missing key 'choices'", "'usage.prompt_tokens' is not an integer".
    static func describe(_ error: Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case let .keyNotFound(key, context):
            let at = path(context)
            return "missing key '\(key.stringValue)'" + (at.isEmpty ? "" : " in '\(at)'")
        case let .typeMismatch(type, context): return "'\(path(context))' is not \(Self.name(type))"
        case let .valueNotFound(type, context): return "'\(path(context))' is null, expected \(Self.name(type))"
        case let .dataCorrupted(context):
            let at = path(context)
            return at.isEmpty ? "not valid JSON" : "invalid value at '\(at)': \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }

    private static func name(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type: "an integer"
        case is String.Type: "a string"
        case is Double.Type: "a number"
        case is Bool.Type: "a boolean"
        default: "of type \(type)"
        }
    }
}
