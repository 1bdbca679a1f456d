/// Where a run's stdout and stderr go while it runs. The supervisor's loop never blocks on a sink: a
/// sink that cannot take more says so (`isBackedUp`), the loop stops reading the program's pipes (so the
/// program blocks on its own writes, on its own time), and polls `pendingDescriptor` for POLLOUT.
public protocol OutputSink: AnyObject {
    func output(_ stream: OutputStream, _ bytes: UnsafeRawBufferPointer)
    var isBackedUp: Bool { get }
    /// A descriptor to poll for POLLOUT while buffered data waits; nil when nothing waits.
    var pendingDescriptor: Int32? { get }
    /// Called when `pendingDescriptor` is writable.
    func writable()
}
