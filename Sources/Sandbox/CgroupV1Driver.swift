import CSandbox
import GloveboxSystem
#if canImport(Glibc)
import Glibc
#endif

/// cgroup v1 controllers, each its own hierarchy: memory, pids, cpu, cpuacct, devices, freezer. When a
/// unified (controller-less) cgroup2 mount sits beside them, as on hybrid hosts, a run also gets a cgroup
/// there: CLONE_INTO_CGROUP, `cgroup.kill` and `cgroup.events` make placement, killing and waiting exact.
/// Without it, the freezer stops the whole group before every task is SIGKILLed; with it, a run has no
/// freezer cgroup at all (one hierarchy fewer to make, join and remove per run).
public final class CgroupV1Driver: Sendable {
    static let controllers = ["memory", "pids", "cpu", "cpuacct", "devices", "freezer"]
    /// controller -> this instance's directory in that hierarchy
    let bases: [String: String]
    let unifiedBase: String?

    init(mountRoot: String, membership: [String: String], unified: (mount: String, own: String)?, instance: String) throws {
        var bases: [String: String] = [:]
        for controller in Self.controllers {
            let mount = cgroupJoin(mountRoot, controller)
            guard FileIO.exists(cgroupJoin(mount, "cgroup.procs")), let own = membership[controller] else {
                throw SandboxError.unavailable("the cgroup v1 \(controller) controller is not mounted at \(mount)")
            }
            let base = cgroupJoin(mount, own, instance)
            try FileIO.mkdir(base)
            bases[controller] = base
        }
        self.bases = bases
        if let unified {
            let base = cgroupJoin(unified.mount, unified.own, instance)
            try FileIO.mkdir(base)
            unifiedBase = base
        } else {
            unifiedBase = nil
        }
        // cpuset children start empty; not used, so nothing to copy.
    }

    public var description: String {
        "cgroup v1 (" + Self.controllers.joined(separator: ", ") + ")" + (unifiedBase.map { " with unified \($0)" } ?? "")
    }

    /// The hierarchies a new run joins: the freezer only where there is no unified cgroup to kill with.
    var runControllers: [String] { unifiedBase == nil ? Self.controllers : Self.controllers.filter { $0 != "freezer" } }

    func createRun(name: String, limits: CgroupLimits) throws -> RunCgroup {
        let run = CgroupV1Run(name: name, dirs: bases.filter { runControllers.contains($0.key) }.mapValues { cgroupJoin($0, name) },
                              unified: unifiedBase.map { cgroupJoin($0, name) })
        do {
            try run.create(limits)
        } catch {
            try? run.remove()
            throw error
        }
        return run
    }

    /// A run left by an earlier daemon: every hierarchy is looked at (an older daemon made a freezer
    /// cgroup for every run); the ones it does not have are skipped when removing.
    func adopt(name: String) -> RunCgroup {
        CgroupV1Run(name: name, dirs: bases.mapValues { cgroupJoin($0, name) }, unified: unifiedBase.map { cgroupJoin($0, name) })
    }

    func leftoverRuns() -> [String] {
        var names = Set<String>()
        for base in bases.values { names.formUnion(subdirectories(of: base).filter { $0.hasPrefix("run-") }) }
        if let unifiedBase { names.formUnion(subdirectories(of: unifiedBase).filter { $0.hasPrefix("run-") }) }
        return names.sorted()
    }

    func removeInstance() {
        for base in bases.values { _ = rmdir(base) }
        if let unifiedBase { _ = rmdir(unifiedBase) }
    }
}

final class CgroupV1Run: RunCgroup, @unchecked Sendable {
    // Descriptors are set in create(), before the object is shared, and closed in remove() at the end.
    let name: String
    let dirs: [String: String]
    let unified: String?
    var cloneTarget: FileDescriptor?
    var oomEvents: FileDescriptor?
    var oomEventsArePriority: Bool { false }
    private var oomControl: FileDescriptor?
    /// Each controller's cgroup.procs, opened when the cgroups are made so that the new run's setup child
    /// joins each hierarchy with one write.
    private var procs: [(path: String, fd: FileDescriptor)] = []

    init(name: String, dirs: [String: String], unified: String?) {
        self.name = name
        self.dirs = dirs
        self.unified = unified
    }

    private func file(_ controller: String, _ name: String) -> String { cgroupJoin(dirs[controller]!, name) }

    func create(_ limits: CgroupLimits) throws {
        for controller in CgroupV1Driver.controllers where dirs[controller] != nil { try FileIO.mkdir(dirs[controller]!, existOK: false) }
        if let unified { try FileIO.mkdir(unified, existOK: false) }

        try FileIO.write(file("memory", "memory.limit_in_bytes"), String(limits.memoryBytes))
        let memsw = file("memory", "memory.memsw.limit_in_bytes")
        if FileIO.exists(memsw) { try FileIO.write(memsw, String(limits.memoryBytes)) }
        try FileIO.write(file("pids", "pids.max"), String(limits.pids))
        try FileIO.write(file("cpu", "cpu.cfs_period_us"), String(CPUQuota.periodMicroseconds))
        try FileIO.write(file("cpu", "cpu.cfs_quota_us"), String(CPUQuota(cpus: limits.cpus).quotaMicroseconds))
        try FileIO.write(file("devices", "devices.deny"), "a")
        for d in limits.devices { try FileIO.write(file("devices", "devices.allow"), "c \(d.major):\(d.minor) rwm") }

        // OOM notification: an eventfd the kernel signals through cgroup.event_control.
        let efd = try syscallValue("eventfd") { gb_eventfd() }
        let eventFD = FileDescriptor(efd)
        let control = try FileDescriptor.open(file("memory", "memory.oom_control"), O_RDONLY)
        try FileIO.write(file("memory", "cgroup.event_control"), "\(eventFD.raw) \(control.raw)")
        oomEvents = eventFD
        oomControl = control
        if let unified { cloneTarget = try FileDescriptor.open(unified, O_RDONLY | O_DIRECTORY) }
        procs = try CgroupV1Driver.controllers.filter { dirs[$0] != nil }.map { controller in
            let path = file(controller, "cgroup.procs")
            return (path, try FileDescriptor.open(path, O_WRONLY))
        }
    }

    var placementDescriptors: [Int32] { procs.map(\.fd.raw) }

    func place(pid: Int32) throws {
        let text = Array(String(pid).utf8)
        for (path, fd) in procs {
            let n = text.withUnsafeBytes { write(fd.raw, $0.baseAddress, $0.count) }
            guard n == text.count else { throw SystemError("write", path, errno: n < 0 ? errno : EIO) }
        }
    }

    func killAll() throws {
        if let unified {
            try FileIO.write(cgroupJoin(unified, "cgroup.kill"), "1")
            return
        }
        // Freeze so nothing forks while we kill, SIGKILL every task, thaw so the kills are delivered.
        try FileIO.write(file("freezer", "freezer.state"), "FROZEN")
        let deadline = Monotonic.now() + 1
        while (FileIO.readIfPresent(file("freezer", "freezer.state")) ?? "").hasPrefix("FREEZING") && Monotonic.now() < deadline {
            usleep(1000)
        }
        for pid in tasks() { kill(pid, SIGKILL) }
        try FileIO.write(file("freezer", "freezer.state"), "THAWED")
    }

    private func tasks() -> [Int32] {
        (FileIO.readIfPresent(file("pids", "cgroup.procs")) ?? "").split(separator: "\n").compactMap { Int32($0) }
    }

    func waitUntilEmpty(milliseconds: Int32) -> Bool {
        if let unified { return waitUnpopulated(eventsPath: cgroupJoin(unified, "cgroup.events"), milliseconds: milliseconds) }
        let deadline = Monotonic.now() + Double(milliseconds) / 1000
        while !tasks().isEmpty {
            if Monotonic.now() > deadline { return false }
            usleep(1000)
        }
        return true
    }

    func stats() -> CgroupStats {
        var s = CgroupStats()
        s.userCPUSeconds = Double(UInt64((FileIO.readIfPresent(file("cpuacct", "cpuacct.usage_user")) ?? "").trimmingNewline) ?? 0) / 1e9
        s.systemCPUSeconds = Double(UInt64((FileIO.readIfPresent(file("cpuacct", "cpuacct.usage_sys")) ?? "").trimmingNewline) ?? 0) / 1e9
        s.peakMemoryBytes = UInt64((FileIO.readIfPresent(file("memory", "memory.max_usage_in_bytes")) ?? "").trimmingNewline) ?? 0
        s.oomKills = FileIO.keyedIntegers(FileIO.readIfPresent(file("memory", "memory.oom_control")) ?? "")["oom_kill"] ?? 0
        s.pidsLimitHits = FileIO.keyedIntegers(FileIO.readIfPresent(file("pids", "pids.events")) ?? "")["max"] ?? 0
        s.throttledPeriods = FileIO.keyedIntegers(FileIO.readIfPresent(file("cpu", "cpu.stat")) ?? "")["nr_throttled"] ?? 0
        return s
    }

    var procsFiles: [String] { (dirs.values.sorted() + (unified.map { [$0] } ?? [])).map { cgroupJoin($0, "cgroup.procs") } }

    func remove() throws {
        cloneTarget?.close()
        oomEvents?.close()
        oomControl?.close()
        for (_, fd) in procs { fd.close() }
        procs = []
        var firstError: Error?
        for dir in Array(dirs.values) + (unified.map { [$0] } ?? []) {
            if rmdir(dir) != 0 && errno != ENOENT && firstError == nil { firstError = SystemError("remove cgroup", dir, errno: errno) }
        }
        if let firstError { throw firstError }
    }
}
