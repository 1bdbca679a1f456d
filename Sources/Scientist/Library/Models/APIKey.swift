import Foundation

/// A secret (API key). Its value is reachable only inside the module; printing, interpolating or dumping it
/// shows "<redacted>", and `redact(_:)` removes it from any text before that text is logged or thrown.
public struct APIKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    let value: String
    /// Where it came from ("environment variable OPENAI_API_KEY", "file /home/u/.config/glovebox/openai.key").
    public let origin: String

    init(value: String, origin: String) {
        self.value = value
        self.origin = origin
    }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
    public var customMirror: Mirror { Mirror(self, children: ["origin": origin]) }

    /// `text` with every occurrence of the key replaced.
    public func redact(_ text: String) -> String {
        guard value.count >= 4 else { return text }
        return text.replacingOccurrences(of: value, with: "<redacted>")
    }
}

extension Optional where Wrapped == APIKey {
    func redact(_ text: String) -> String { self?.redact(text) ?? text }
}
