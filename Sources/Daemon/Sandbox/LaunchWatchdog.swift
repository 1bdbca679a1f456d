import CSandbox
import CSetupChild
import GloveboxSystem
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Kills a run's setup child that is still setting up when the run's deadline passes. The launching
/// thread cannot: it sleeps in clone3 (CLONE_VFORK) until the child has executed init. A setup can hang
/// (a bind of a path on a stuck network filesystem), and a run's time limit must hold from its start.
///
/// The launcher's (SandboxLauncher): one thread, started at the first launch, sleeping on a timerfd set
/// to the earliest deadline of the launches in progress: arming a launch whose deadline is later than
/// that only adds it to the list, and nothing wakes the thread on a launch's way (an eventfd wake at
/// every arm put a context switch beside every launch). A deadline of a launch that has ended meanwhile wakes it once, for
/// nothing. The kernel writes the child's pidfd into the watch at the clone, before the child runs;
/// `disarm` and the kill take the same lock, so the pidfd is never signalled after the launching thread
/// has taken it back.
final class LaunchWatchdog: Sendable {
    final class Watch: @unchecked Sendable {  // mutated under the watchdog's lock only (the kernel writes pidfd)
        let deadline: Double
        /// Where clone3 stores the child's pidfd (CLONE_PIDFD); -1 until then.
        let pidfd: UnsafeMutablePointer<Int32>
        var fired = false

        init(deadline: Double) {
            self.deadline = deadline
            pidfd = .allocate(capacity: 1)
            pidfd.initialize(to: -1)
        }

        deinit { pidfd.deallocate() }
    }

    private struct State {
        var watches: [ObjectIdentifier: Watch] = [:]
        var timer = OneShotTimer()
    }

    private let state = Mutex(State())
    private let thread = ThreadOnNeed()

    /// Watches a launch about to start; `disarm` it once gb_launch has returned.
    func arm(deadline: Double) throws -> Watch {
        // Started first: a watch registered by a launch that then failed to start the thread would never be
        // disarmed, and would keep the thread waking every millisecond once a later launch started it.
        try thread.start { [self] in run() }
        let watch = Watch(deadline: deadline)
        state.withLock { s in
            s.watches[ObjectIdentifier(watch)] = watch
            s.timer.setIfSooner(deadline)
        }
        return watch
    }

    /// Stops watching; true when the watchdog killed the child (the deadline passed during the setup).
    func disarm(_ watch: Watch) -> Bool {
        state.withLock { s in
            s.watches[ObjectIdentifier(watch)] = nil
            return watch.fired
        }
    }

    private func run() {
        let timer = state.withLock { $0.timer.descriptor }
        while true {
            OneShotTimer.wait(timer)
            state.withLock { s in
                let now = Monotonic.now()
                var next: Double?
                for watch in s.watches.values where !watch.fired {
                    // The kernel stores the pidfd's number before it installs the descriptor: until then the
                    // signal fails (EBADF) and is tried again.
                    if watch.deadline <= now, watch.pidfd.pointee >= 0, gb_pidfd_send_signal(watch.pidfd.pointee, SIGKILL) == 0 {
                        watch.fired = true
                        continue
                    }
                    // Expired but not cloned yet (or not yet signalable): look again in a millisecond.
                    let at = watch.deadline <= now ? now + 0.001 : watch.deadline
                    next = min(next ?? at, at)
                }
                s.timer.set(next)
            }
        }
    }
}
