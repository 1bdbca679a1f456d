#if canImport(Glibc)
import Glibc
#endif

/// Starts a detached POSIX thread running `body`. The daemon gives each connection its own thread: runs
/// block only on their own descriptors, and a slow client never holds up another.
public func spawnDetachedThread(_ body: @escaping @Sendable () -> Void) throws {
    final class Box: @unchecked Sendable {  // handed to exactly one thread, which releases it
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    defer { pthread_attr_destroy(&attributes) }
    pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
    pthread_attr_setstacksize(&attributes, 1 << 20)
    var thread = pthread_t()
    let rc = pthread_create(&thread, &attributes, { raw in
        let box = Unmanaged<AnyObject>.fromOpaque(raw!).takeRetainedValue() as! Box
        box.body()
        return nil
    }, box)
    if rc != 0 {
        Unmanaged<AnyObject>.fromOpaque(box).release()
        throw SystemError("pthread_create", errno: rc)
    }
}
