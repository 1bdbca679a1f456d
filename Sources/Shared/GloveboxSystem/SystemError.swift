#if canImport(Glibc)
import Glibc
#endif

/// An errno from a named operation, with the object it was applied to, for messages a person can act on:
/// "mkdir /sys/fs/cgroup/memory/glovebox/run-7: Permission denied".
public struct SystemError: Error, CustomStringConvertible, Sendable, Equatable {
    public let operation: String
    public let object: String
    public let errno: Int32

    public init(_ operation: String, _ object: String = "", errno: Int32) {
        self.operation = operation
        self.object = object
        self.errno = errno
    }

    public var description: String {
        let reason = String(cString: strerror(errno))
        return object.isEmpty ? "\(operation): \(reason)" : "\(operation) \(object): \(reason)"
    }
}

/// Runs a system call, retrying on EINTR; turns -1 into a `SystemError` carrying the operation and object.
@discardableResult
public func syscallValue<T: BinaryInteger>(_ operation: String, _ object: String = "", _ body: () -> T) throws -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        let e = Glibc.errno
        if e == EINTR { continue }
        throw SystemError(operation, object, errno: e)
    }
}
