import Synchronization
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

/// A detached thread an object starts on its first need, once: the watchdog's, the warm-sandbox cache's,
/// the log store's. `start` from any thread starts it the first time; a start that failed (no thread could
/// be made) is tried again at the next call.
public final class ThreadOnNeed: Sendable {
    private let started = Atomic<Bool>(false)

    public init() {}

    public func start(_ body: @escaping @Sendable () -> Void) throws {
        // Loaded first: once started (every call but the first), no write to the shared flag.
        guard !started.load(ordering: .acquiring), !started.exchange(true, ordering: .acquiringAndReleasing) else { return }
        do {
            try spawnDetachedThread(body)
        } catch {
            started.store(false, ordering: .releasing)
            throw error
        }
    }
}
