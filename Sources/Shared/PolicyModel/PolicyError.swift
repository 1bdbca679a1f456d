/// Why a policy file was rejected: the file, the 1-based line where known, and the reason.
public struct PolicyError: Error, Sendable, Equatable, CustomStringConvertible {
    public let file: String
    public let line: Int?
    public let message: String

    public init(file: String, line: Int? = nil, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    /// "policies/x.toml:12: unknown key 'limits.memroy' (known: timeout, memory, ...)"
    public var description: String {
        if let line { return "\(file):\(line): \(message)" }
        return "\(file): \(message)"
    }
}
