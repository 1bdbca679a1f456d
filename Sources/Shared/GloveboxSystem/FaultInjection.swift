#if canImport(Glibc)
import Glibc
#endif

/// Crash points for the fault-injection tests: when gloveboxd was started with GLOVEBOX_FAULT=<point>
/// (only whoever starts the daemon, root, can set it), reaching that point SIGKILLs the daemon, as a
/// crash or an OOM kill would, at that exact moment of a run's life. Unset, each point is one comparison.
public enum FaultInjection {
    public enum Point: String, Sendable, CaseIterable {
        case beforeCgroup = "before-cgroup"
        case afterClone = "after-clone"
        case duringOutputs = "during-outputs"
        case writingRecord = "writing-record"
    }

    private static let armed: Point? = {
        // Read once, before any thread that could change the environment exists (the first call is made
        // from the daemon's start-up, below); never written afterwards.
        guard let value = getenv("GLOVEBOX_FAULT") else { return nil }
        return Point(rawValue: String(cString: value))
    }()

    /// Faults of every run's setup child, for the tests of what the daemon does then.
    public enum SetupFault: String, Sendable {
        /// Hang before building the root (until killed), as a bind of a path on a stuck network
        /// filesystem would: the launch watchdog must end the run at its time limit.
        case stall = "stall-setup"
        /// Fail to execute glovebox-init, once the descriptors are in init's places: the failure must
        /// still reach the daemon, named.
        case failInitExec = "fail-init-exec"
        /// Kill a warm sandbox once a run has taken it, before it is handed the run (as
        /// someone on the host might): the run must start in a child of its own.
        case spareGone = "spare-gone"
        /// Mount a tmpfs on `transient` in the first read-only directory while the first prepared root is
        /// built, and unmount it after, in the daemon's namespace (as an automounter expiring a filesystem
        /// at that moment would): the root has a mount no later look at the host shows, and must not be kept.
        case mountDuringBuild = "mount-during-build"
    }

    /// GLOVEBOX_FAULT=no-swap-accounting: the daemon takes the kernel to account no swap in cgroups, as on a
    /// host booted with swapaccount=0 (which no test machine here is): it must refuse to start while swap
    /// is on, and refuse runs once swap is turned on.
    public static let hidesSwapAccounting: Bool = getenv("GLOVEBOX_FAULT").map { String(cString: $0) == "no-swap-accounting" } ?? false

    /// GLOVEBOX_FAULT naming a SetupFault, read once.
    public static let setupFault: SetupFault? = getenv("GLOVEBOX_FAULT").flatMap { SetupFault(rawValue: String(cString: $0)) }

    /// The armed point, for the daemon's start-up log.
    public static var armedPoint: Point? { armed }

    public static func hit(_ point: Point) {
        guard armed == point else { return }
        let message = "gloveboxd: fault injection: SIGKILL at \(point.rawValue)\n"
        _ = message.withCString { write(2, $0, strlen($0)) }
        kill(getpid(), SIGKILL)
    }
}
