/// What went wrong on the client's side, in words for the person at the terminal.
public struct ClientError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
