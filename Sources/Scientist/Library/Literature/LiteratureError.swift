/// A literature search that failed: the engine, the query, and why (already redacted of any key).
public struct LiteratureError: Error, Sendable, CustomStringConvertible, Equatable {
    public let engine: String
    public let query: String
    public let reason: String

    public var description: String { "\(engine) search for \"\(query)\" failed: \(reason)" }
}
