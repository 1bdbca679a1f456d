/// A problem with the configuration: the config file (and line, where known), a key file, a missing key.
/// "~/.config/glovebox/scientist.toml:12: model.temperature: expected a number, found a string".
public struct ConfigError: Error, Sendable, CustomStringConvertible, Equatable {
    public let file: String?
    public let line: Int?
    public let message: String

    public init(file: String? = nil, line: Int? = nil, _ message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String {
        switch (file, line) {
        case let (file?, line?): "\(file):\(line): \(message)"
        case let (file?, nil): "\(file): \(message)"
        default: message
        }
    }
}
