import CSandbox
import GloveboxSystem
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Network namespaces made ahead of need. Creating one (its loopback device, its sysctl tables) is the
/// costliest part of a run's clone (BENCHMARKS.md); a thread of its own makes them between runs, so that a
/// run joins one that is ready (`setns` in the child) instead of waiting for CLONE_NEWNET.
///
/// Each namespace is fresh, has only its loopback (up), belongs to the initial user namespace exactly as
/// one made by CLONE_NEWNET would, and goes to one run only: `take()` hands over the only descriptor the
/// daemon holds, and the launcher closes it once the run's init has joined, so the namespace dies with the
/// run. When none is ready (a burst of runs, or the pool stopped), `take()` returns nil and the run gets a
/// namespace at its clone as before: slower, never less isolated.
public final class NetworkNamespacePool: Sendable {
    private let ready = Mutex<[Int32]>([])
    private let capacity: Int
    /// Signalled by take(): the maker thread refills.
    private let wake: FileDescriptor
    private let logger: Logger

    /// Starts the maker thread, which fills the pool to `capacity` and refills it after each take().
    public init(capacity: Int, logger: Logger) throws {
        self.capacity = capacity
        self.logger = logger
        wake = FileDescriptor(try syscallValue("eventfd") { gb_eventfd() })
        let home = try FileDescriptor.open("/proc/self/ns/net", O_RDONLY)
        try spawnDetachedThread { [self] in maker(home: home) }
    }

    /// A namespace made for this run alone, or nil when none is ready. The caller owns the descriptor.
    public func take() -> FileDescriptor? {
        let fd: Int32? = ready.withLock { $0.isEmpty ? nil : $0.removeFirst() }
        var one: UInt64 = 1
        _ = write(wake.raw, &one, 8)
        return fd.map(FileDescriptor.init)
    }

    /// The maker thread: never does anything but make namespaces, since unshare(CLONE_NEWNET) moves the
    /// calling thread itself (it returns home each time).
    private func maker(home: FileDescriptor) {
        while true {
            while ready.withLock({ $0.count }) < capacity {
                var stranded: Int32 = 0
                let fd = gb_make_network_namespace(home.raw, &stranded)
                if fd < 0 {
                    let err = errno
                    // Runs still get their namespace at their clone; this only loses the head start.
                    logger.error("cannot make a network namespace ahead of need; runs make their own",
                                 metadata: ["error": "\(String(cString: strerror(err)))", "stranded": "\(stranded != 0)"])
                    if stranded != 0 { return }  // this thread is no longer in the daemon's namespace: stop
                    break
                }
                ready.withLock { $0.append(fd) }
            }
            var counter: UInt64 = 0
            while read(wake.raw, &counter, 8) < 0 && errno == EINTR {}
        }
    }
}
