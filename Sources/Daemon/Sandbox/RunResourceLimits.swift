import CCap
#if canImport(Glibc)
import Glibc
#endif

/// Every resource limit of a run, set by the setup child before it executes init: none is inherited
/// from the daemon (whose own are whatever its service manager gave it). The cgroups bound memory,
/// processes and CPU; these bound what the cgroups do not, or back them up.
///
/// A daemon without CAP_SYS_RESOURCE cannot raise a hard limit above its own: there, a run gets the
/// daemon's hard limit where it is the lower one (stricter, never looser), and the daemon says which at
/// start (`clamped`).
public enum RunResourceLimits {
    public typealias Entry = (resource: Int32, soft: UInt64, hard: UInt64)
    static let unlimited = UInt64.max  // RLIM_INFINITY

    /// The kernel's limits, RLIMIT_CPU (0) to RLIMIT_RTTIME (15).
    static let count = 16

    /// The limits of a run, each at most what the daemon may set.
    public static func entries() -> [Entry] {
        intended().map { entry in
            let ceiling = ceilings[Int(entry.resource)]
            return (entry.resource, min(entry.soft, ceiling), min(entry.hard, ceiling))
        }
    }

    /// The limits runs get lower than intended, as "RLIMIT_X: hard N (intended M)", for the start-up log.
    public static func clamped() -> [String] {
        intended().compactMap { entry in
            let ceiling = ceilings[Int(entry.resource)]
            guard entry.hard > ceiling else { return nil }
            func text(_ v: UInt64) -> String { v == unlimited ? "unlimited" : String(v) }
            return "\(names[Int(entry.resource)]) at \(text(ceiling)) (intended \(text(entry.hard)))"
        }
    }

    static let names = ["RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_RSS", "RLIMIT_NPROC",
                        "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS", "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE",
                        "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME"]

    /// The highest hard limit the daemon may give, per resource: unlimited with CAP_SYS_RESOURCE, else its
    /// own hard limit. Read once, at the first run (after the daemon has set its own at start).
    static let ceilings: [UInt64] = {
        let privileged = HostCapabilities.has(CAP_SYS_RESOURCE)
        return (0..<count).map { resource in
            if privileged { return unlimited }
            var limit = rlimit()
            guard getrlimit(__rlimit_resource_t(resource), &limit) == 0 else { return 0 }
            return UInt64(limit.rlim_max)
        }
    }()

    static func intended() -> [Entry] {
        func limit(_ resource: __rlimit_resource, _ soft: UInt64, _ hard: UInt64? = nil) -> Entry {
            (Int32(resource.rawValue), soft, hard ?? soft)
        }
        return [
            // Time is the supervisor's wall clock, CPU share the cgroup's quota.
            limit(RLIMIT_CPU, unlimited),
            // Space is the storage volume's and /dev/shm's to bound, by the blocks files hold: a sparse file
            // may be larger than either (NumPy's tests make a 5 GB one), as on any filesystem.
            limit(RLIMIT_FSIZE, unlimited),
            // Memory is the memory cgroup's to bound: an address-space limit breaks CUDA and the JITs, which
            // reserve far more than they use.
            limit(RLIMIT_DATA, unlimited),
            limit(RLIMIT_STACK, 8 << 20, unlimited),
            // 1 byte, not 0: the kernel writes no core file smaller than a page, and treats exactly 1 as "no
            // core dump" for a core_pattern that pipes to a program on the host ("|..."), which ignores 0.
            // Setting it succeeds and changes nothing (SeccompProfile.lockCoreLimit).
            limit(RLIMIT_CORE, 1),
            limit(__RLIMIT_RSS, unlimited),
            // Processes are the pids cgroup's to bound.
            limit(__RLIMIT_NPROC, unlimited),
            limit(RLIMIT_NOFILE, 4096),
            // Locked memory is charged to the run's memory cgroup, but cannot be reclaimed: a share of it.
            limit(__RLIMIT_MEMLOCK, 64 << 20),
            limit(RLIMIT_AS, unlimited),
            limit(__RLIMIT_LOCKS, unlimited),
            // Queued signals and POSIX message queue bytes, counted per uid (each run has its own).
            limit(__RLIMIT_SIGPENDING, 16384),
            limit(__RLIMIT_MSGQUEUE, 819_200),
            // No raising of its priority, no real-time scheduling.
            limit(__RLIMIT_NICE, 0),
            limit(__RLIMIT_RTPRIO, 0),
            limit(__RLIMIT_RTTIME, unlimited),
        ]
    }
}
