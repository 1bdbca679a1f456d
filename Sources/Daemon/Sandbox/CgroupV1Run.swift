import CSandbox
import GloveboxSystem
#if canImport(Glibc)
import Glibc
#endif

/// One run's cgroups in the v1 hierarchies (and its unified cgroup where there is one): made, limited, killed,
/// waited for and removed. Made by CgroupV1Driver, or taken from its spares (CgroupV1SparePool).
final class CgroupV1Run: RunCgroup, @unchecked Sendable {
    // The name and directories are set in create(), createSpare() or adopt(), before the object is shared
    // with a run, and the descriptors closed in remove() at the end.
    private(set) var name: String
    /// controller -> the daemon instance's directory (the driver's), in which the run's is made and removed
    private let bases: [String: CgroupDirectory]
    private let unifiedBase: CgroupDirectory?
    /// controller -> the run's directory, open
    private var dirs: [String: CgroupDirectory] = [:]
    /// The unified cgroup, where there is a unified mount: made under the run's name, or under a spare's
    /// for a warm sandbox (cgroup2 cannot rename, so a run that takes the child keeps that name).
    private var unified: CgroupDirectory?
    var cloneTarget: FileDescriptor? { unified?.descriptor }
    var oomEvents: FileDescriptor?
    var oomEventsArePriority: Bool { false }
    private var oomControl: FileDescriptor?
    /// Each controller's `tasks`, opened when the cgroups are made so that the new run's setup child joins
    /// each hierarchy with one write of "0", which moves the calling thread: the setup child is a process
    /// of one thread, so this moves all of it. Through `cgroup.procs` the same move takes the kernel's
    /// global threadgroup lock for writing, which waits for an RCU grace period whenever no other cgroup
    /// write happened just before: several milliseconds for each run that does not follow another closely
    /// (BENCHMARKS.md). Moving one's own thread skips that lock (Linux 6.0 and later).
    private var taskFiles: [FileDescriptor] = []

    /// A run's or a spare's cgroups, to be made in `bases` (the hierarchies a run joins).
    init(name: String, bases: [String: CgroupDirectory], unifiedBase: CgroupDirectory?) {
        self.name = name
        self.bases = bases
        self.unifiedBase = unifiedBase
    }

    /// The cgroups of a run left by an earlier daemon: those of its directories that exist, in every
    /// hierarchy (an older daemon made a freezer cgroup for every run).
    init(leftover name: String, bases: [String: CgroupDirectory], unifiedBase: CgroupDirectory?) {
        self.name = name
        self.bases = bases
        self.unifiedBase = unifiedBase
        dirs = bases.compactMapValues { try? $0.openChild(name) }
        unified = try? unifiedBase?.openChild(name)
    }

    /// The controllers this run has, in a fixed order.
    private var controllers: [String] { CgroupV1Driver.controllers.filter { bases[$0] != nil } }

    private func dir(_ controller: String) throws -> CgroupDirectory {
        guard let dir = dirs[controller] else { throw SandboxError.invalid("run \(name) has no \(controller) cgroup") }
        return dir
    }

    /// A run's cgroups, made and limited for it.
    func create(_ limits: CgroupLimits) throws {
        try makeDirectories()
        try makeUnified()
        try limit(memoryBytes: limits.memoryBytes, pids: limits.pids, cpus: limits.cpus)
        try dir("devices").write("devices.deny", "a")
        try allow(limits.devices)
        try watchOOM()
        try openTasks()
    }

    /// Cgroups made ahead of need (`spare-N`), with everything but the run's own limits: no device but
    /// `devices`, the OOM eventfd, the `tasks` descriptors. No unified cgroup (cgroup2 cannot rename),
    /// unless one is made for a warm sandbox (makeUnified, under the spare's name).
    func createSpare(devices: [DeviceNumber]) throws {
        try makeDirectories()
        try dir("devices").write("devices.deny", "a")
        try allow(devices)
        try watchOOM()
        try openTasks()
    }

    /// Makes a spare the run `name`'s: renamed (the descriptors follow), its unified cgroup made unless it
    /// has one already (a setup child's, which keeps the spare's name), its own limits written and the
    /// devices it has beyond the spare's allowed.
    func adopt(as newName: String, limits: CgroupLimits) throws {
        for controller in controllers {
            // One at a time: a failure part-way still removes every directory by its current name.
            try bases[controller]!.rename(try dir(controller), to: newName)
        }
        name = newName
        if unified == nil { try makeUnified() }
        try limit(memoryBytes: limits.memoryBytes, pids: limits.pids, cpus: limits.cpus)
        let standard = MountPlan.standardDevices
        try allow(limits.devices.filter { !standard.contains($0) })
    }

    private func makeDirectories() throws {
        for controller in controllers { dirs[controller] = try bases[controller]!.makeChild(name) }
    }

    /// The unified cgroup (where there is a unified mount), under the current name; its descriptor is the
    /// one CLONE_INTO_CGROUP takes.
    func makeUnified() throws {
        unified = try unifiedBase?.makeChild(name)
    }

    private func limit(memoryBytes: UInt64, pids: Int, cpus: Double) throws {
        let memory = try dir("memory")
        try memory.write("memory.limit_in_bytes", String(memoryBytes))
        if memory.has("memory.memsw.limit_in_bytes") { try memory.write("memory.memsw.limit_in_bytes", String(memoryBytes)) }
        try dir("pids").write("pids.max", String(pids))
        let cpu = try dir("cpu")
        try cpu.write("cpu.cfs_period_us", String(CPUQuota.periodMicroseconds))
        try cpu.write("cpu.cfs_quota_us", String(CPUQuota(cpus: cpus).quotaMicroseconds))
    }

    private func allow(_ devices: [DeviceNumber]) throws {
        try dir("devices").write("devices.allow", each: devices.map { "c \($0.v1Text) rwm" })
    }

    /// OOM notification: an eventfd the kernel signals through cgroup.event_control.
    private func watchOOM() throws {
        let efd = try syscallValue("eventfd") { gb_eventfd() }
        let eventFD = FileDescriptor(efd)
        let memory = try dir("memory")
        let control = try memory.open("memory.oom_control", O_RDONLY)
        try memory.write("cgroup.event_control", "\(eventFD.raw) \(control.raw)")
        oomEvents = eventFD
        oomControl = control
    }

    private func openTasks() throws {
        taskFiles = try controllers.map { try dir($0).open("tasks", O_WRONLY) }
    }

    var placementDescriptors: [Int32] { taskFiles.map(\.raw) }

    func place(pid: Int32) throws {
        for controller in controllers { try dir(controller).write("cgroup.procs", String(pid)) }
    }

    func killAll() throws {
        if let unified {
            try unified.write("cgroup.kill", "1")
            return
        }
        // Freeze so nothing forks while we kill, SIGKILL every task, thaw so the kills are delivered.
        let freezer = try dir("freezer")
        try freezer.write("freezer.state", "FROZEN")
        let deadline = Monotonic.now() + 1
        while (freezer.read("freezer.state") ?? "").hasPrefix("FREEZING") && Monotonic.now() < deadline {
            usleep(1000)
        }
        for pid in tasks() { kill(pid, SIGKILL) }
        try freezer.write("freezer.state", "THAWED")
    }

    private func tasks() -> [Int32] {
        (dirs["pids"]?.read("cgroup.procs") ?? "").split(separator: "\n").compactMap { Int32($0) }
    }

    func waitUntilEmpty(milliseconds: Int32) -> Bool {
        if let unified { return waitUnpopulated(unified, milliseconds: milliseconds) }
        let deadline = Monotonic.now() + Double(milliseconds) / 1000
        while !tasks().isEmpty {
            if Monotonic.now() > deadline { return false }
            usleep(1000)
        }
        return true
    }

    func stats() -> CgroupStats {
        func value(_ controller: String, _ file: String) -> String { dirs[controller]?.read(file) ?? "" }
        var s = CgroupStats()
        s.userCPUSeconds = Double(UInt64(value("cpuacct", "cpuacct.usage_user").trimmingNewline) ?? 0) / 1e9
        s.systemCPUSeconds = Double(UInt64(value("cpuacct", "cpuacct.usage_sys").trimmingNewline) ?? 0) / 1e9
        s.peakMemoryBytes = UInt64(value("memory", "memory.max_usage_in_bytes").trimmingNewline) ?? 0
        s.oomKills = FileIO.keyedIntegers(value("memory", "memory.oom_control"))["oom_kill"] ?? 0
        s.pidsLimitHits = FileIO.keyedIntegers(value("pids", "pids.events"))["max"] ?? 0
        let cpu = FileIO.keyedIntegers(value("cpu", "cpu.stat"))
        s.throttledSeconds = Double(cpu["throttled_time"] ?? 0) / 1e9  // nanoseconds
        return s
    }

    var procsFiles: [String] {
        (dirs.values.map(\.path).sorted() + (unified.map { [$0.path] } ?? [])).map { cgroupJoin($0, "cgroup.procs") }
    }

    func remove() throws {
        oomEvents?.close()
        oomControl?.close()
        for fd in taskFiles { fd.close() }
        taskFiles = []
        var firstError: Error?
        func removing(_ body: () throws -> Void) {
            do { try body() } catch { if firstError == nil { firstError = error } }
        }
        for (controller, dir) in dirs {
            dir.close()
            removing { try bases[controller]!.removeChild(dir.name) }
        }
        if let unified, let unifiedBase {
            unified.close()
            removing { try unifiedBase.removeChild(unified.name) }
        }
        if let firstError { throw firstError }
    }
}
