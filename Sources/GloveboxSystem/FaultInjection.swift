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

    nonisolated(unsafe) private static let armed: Point? = {
        // Read once, before any thread that could change the environment exists (the first call is made
        // from the daemon's start-up, below); never written afterwards.
        guard let value = getenv("GLOVEBOX_FAULT") else { return nil }
        return Point(rawValue: String(cString: value))
    }()

    /// GLOVEBOX_FAULT=stall-setup: every run's setup child hangs before building its root (until killed),
    /// as a bind of a path on a stuck network filesystem would; for the test of the launch watchdog.
    public static let stallsSetup: Bool = getenv("GLOVEBOX_FAULT").map { String(cString: $0) == "stall-setup" } ?? false

    /// The armed point, for the daemon's start-up log.
    public static var armedPoint: Point? { armed }

    public static func hit(_ point: Point) {
        guard armed == point else { return }
        let message = "gloveboxd: fault injection: SIGKILL at \(point.rawValue)\n"
        _ = message.withCString { write(2, $0, strlen($0)) }
        kill(getpid(), SIGKILL)
    }
}
