import GloveboxSystem

/// One run's cgroup(s), whichever hierarchy holds them.
public protocol RunCgroup: AnyObject, Sendable {
    var name: String { get }
    /// A cgroup2 directory for CLONE_INTO_CGROUP, or nil when the child must be placed by pid.
    var cloneTarget: FileDescriptor? { get }
    /// `tasks` of each hierarchy CLONE_INTO_CGROUP cannot reach (v1), open for writing: the launched child,
    /// a process of one thread, writes "0" to each before anything else, so it never runs outside its limits.
    var placementDescriptors: [Int32] { get }
    /// Moves `pid` into the same cgroups (for processes the launcher did not start: tests, diagnostics).
    func place(pid: Int32) throws
    /// A descriptor that becomes ready (POLLIN or POLLPRI, per `oomEventsArePriority`) when the kernel's
    /// OOM killer acts in this cgroup.
    var oomEvents: FileDescriptor? { get }
    var oomEventsArePriority: Bool { get }
    /// SIGKILLs every process in the cgroup at once.
    func killAll() throws
    /// True when no process is left, waiting at most `milliseconds`.
    func waitUntilEmpty(milliseconds: Int32) -> Bool
    func stats() -> CgroupStats
    /// The cgroup.procs file of this run's cgroup in each hierarchy (for tests and diagnostics).
    var procsFiles: [String] { get }
    /// Removes the cgroup directories; they must be empty.
    func remove() throws
    /// Makes cgroups made ahead of need (CgroupHierarchy.createSpare) the run `name`'s, with its limits:
    /// renamed where the hierarchy can rename (v1), limited, its devices allowed.
    func adopt(as name: String, limits: CgroupLimits) throws
}
