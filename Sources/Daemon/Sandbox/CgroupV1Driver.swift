import CSandbox
import GloveboxSystem
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// cgroup v1 controllers, each its own hierarchy: memory, pids, cpu, cpuacct, devices, freezer. When a
/// unified (controller-less) cgroup2 mount sits beside them, as on hybrid hosts, a run also gets a cgroup
/// there: CLONE_INTO_CGROUP, `cgroup.kill` and `cgroup.events` make placement, killing and waiting exact.
/// Without it, the freezer stops the whole group before every task is SIGKILLed; with it, a run has no
/// freezer cgroup at all (one hierarchy fewer to make, join and remove per run).
///
/// Making a run's v1 cgroups (a directory in each hierarchy, the device list, the OOM eventfd, the
/// `tasks` descriptors) is most of a run's preparation (BENCHMARKS.md): once `startSpares` is called,
/// a thread keeps two sets made ahead of need, named `spare-N`. A run takes one, renames it `run-N` (v1
/// renames within a parent) and writes its own limits; with none ready it makes its own, as before.
public final class CgroupV1Driver: Sendable {
    static let controllers = ["memory", "pids", "cpu", "cpuacct", "devices", "freezer"]
    static let sparePrefix = "spare-"
    /// controller -> this instance's directory in that hierarchy, open: runs' cgroups are made, renamed
    /// and removed through it
    let bases: [String: CgroupDirectory]
    let unifiedBase: CgroupDirectory?
    private let spares = Mutex(Spares())
    /// Held while a spare is being made: taking it waits out a maker caught mid-way at shutdown.
    private let making = Mutex(())
    private let wake: Int32

    private struct Spares {
        var ready: [CgroupV1Run] = []
        var next = 0
        var started = false
        var stopped = false
    }

    init(mountRoot: String, membership: [String: String], unified: (mount: String, own: String)?, instance: String) throws {
        var bases: [String: CgroupDirectory] = [:]
        for controller in Self.controllers {
            let mount = cgroupJoin(mountRoot, controller)
            guard FileIO.exists(cgroupJoin(mount, "cgroup.procs")), let own = membership[controller] else {
                throw SandboxError.unavailable("the cgroup v1 \(controller) controller is not mounted at \(mount)")
            }
            let base = cgroupJoin(mount, own, instance)
            try FileIO.mkdir(base)
            bases[controller] = try CgroupDirectory.open(base)
        }
        // A new memory cgroup takes its parent's swappiness: every run's is 0, so that the kernel reclaims
        // a run's page cache rather than pushing its memory to swap (memory.memsw.limit_in_bytes, where
        // swap is accounted, stops that too; HostSwap refuses runs where it is not and swap is on).
        try bases["memory"]!.write("memory.swappiness", "0")
        self.bases = bases
        if let unified {
            let base = cgroupJoin(unified.mount, unified.own, instance)
            try FileIO.mkdir(base)
            unifiedBase = try CgroupDirectory.open(base)
        } else {
            unifiedBase = nil
        }
        // cpuset children start empty; not used, so nothing to copy.
        wake = gb_eventfd()
        if wake < 0 { throw SystemError("eventfd", errno: errno) }
    }

    public var description: String {
        "cgroup v1 (" + Self.controllers.joined(separator: ", ") + ")" + (unifiedBase.map { " with unified \($0.path)" } ?? "")
    }

    /// The hierarchies a new run joins: the freezer only where there is no unified cgroup to kill with.
    var runControllers: [String] { unifiedBase == nil ? Self.controllers : Self.controllers.filter { $0 != "freezer" } }

    private func newRun(_ name: String) -> CgroupV1Run {
        CgroupV1Run(name: name, bases: bases.filter { runControllers.contains($0.key) }, unifiedBase: unifiedBase)
    }

    func createRun(name: String, limits: CgroupLimits) throws -> RunCgroup {
        if let spare = takeSpare() {
            do {
                try spare.adopt(as: name, limits: limits)
                return spare
            } catch {
                try? spare.remove()  // and make the run's own below
            }
        }
        let run = newRun(name)
        do {
            try run.create(limits)
        } catch {
            try? run.remove()
            throw error
        }
        return run
    }

    // MARK: - Spares

    /// Cgroups for a warm sandbox (WarmSandboxes): a spare set (one made ahead, else one made now) and
    /// its unified cgroup, made now under the spare's name, since the child is cloned into it and a cgroup2
    /// directory cannot be renamed: a run that takes the child keeps that name there.
    func createSpareForSandbox() throws -> RunCgroup {
        let spare: CgroupV1Run
        if let ready = takeSpare() {
            spare = ready
        } else {
            let name = spares.withLock { s in
                defer { s.next += 1 }
                return Self.sparePrefix + String(s.next)
            }
            spare = newRun(name)
            do { try spare.createSpare(devices: MountPlan.standardDevices) } catch {
                try? spare.remove()
                throw error
            }
        }
        do {
            try spare.makeUnified()
        } catch {
            try? spare.remove()
            throw error
        }
        return spare
    }

    /// Starts the thread that keeps `capacity` spares ready (called once leftovers are removed).
    func startSpares(capacity: Int, logger: Logger) throws {
        let start = spares.withLock { s in
            defer { s.started = true }
            return !s.started && !s.stopped
        }
        guard start else { return }
        try spawnDetachedThread { [self] in makeSpares(capacity: capacity, logger: logger) }
    }

    private func takeSpare() -> CgroupV1Run? {
        let spare: CgroupV1Run? = spares.withLock { $0.ready.isEmpty ? nil : $0.ready.removeFirst() }
        if spare != nil {
            var one: UInt64 = 1
            _ = write(wake, &one, 8)
        }
        return spare
    }

    private func makeSpares(capacity: Int, logger: Logger) {
        while true {
            while true {
                let name: String? = spares.withLock { s in
                    guard !s.stopped, s.ready.count < capacity else { return nil }
                    defer { s.next += 1 }
                    return Self.sparePrefix + String(s.next)
                }
                guard let name else { break }
                let made: Bool = making.withLock { _ in
                    // removeSpares may have passed already: then no spare must be made behind its back.
                    if spares.withLock({ $0.stopped }) { return false }
                    let spare = newRun(name)
                    do {
                        try spare.createSpare(devices: MountPlan.standardDevices)
                    } catch {
                        try? spare.remove()
                        // Runs still make their own cgroups; this only loses the head start.
                        logger.error("cannot make cgroups ahead of need; runs make their own", metadata: ["error": "\(error)"])
                        return false
                    }
                    let kept = spares.withLock { s in
                        if s.stopped { return false }
                        s.ready.append(spare)
                        return true
                    }
                    if !kept { try? spare.remove() }
                    return kept
                }
                if !made { break }
            }
            if spares.withLock({ $0.stopped }) { return }
            var counter: UInt64 = 0
            while read(wake, &counter, 8) < 0 && errno == EINTR {}
        }
    }

    /// Stops making spares and removes those made (at shutdown, before the instance goes).
    func removeSpares() {
        let ready: [CgroupV1Run] = spares.withLock { s in
            s.stopped = true
            defer { s.ready = [] }
            return s.ready
        }
        var one: UInt64 = 1
        _ = write(wake, &one, 8)
        making.withLock { _ in }  // a spare being made is kept by nobody: its maker removes it
        for spare in ready { try? spare.remove() }
    }

    /// A run left by an earlier daemon: every hierarchy is looked at (an older daemon made a freezer
    /// cgroup for every run); the ones it does not have are skipped when removing.
    func adopt(name: String) -> RunCgroup {
        CgroupV1Run(leftover: name, bases: bases, unifiedBase: unifiedBase)
    }

    /// Runs, and spares, left by an earlier daemon of this instance.
    func leftoverRuns() -> [String] {
        let left = { (name: String) in name.hasPrefix("run-") || name.hasPrefix(Self.sparePrefix) }
        var names = Set<String>()
        for base in bases.values { names.formUnion(subdirectories(of: base.path).filter(left)) }
        if let unifiedBase { names.formUnion(subdirectories(of: unifiedBase.path).filter(left)) }
        return names.sorted()
    }

    func removeInstance() {
        removeSpares()
        for base in bases.values { _ = rmdir(base.path) }
        if let unifiedBase { _ = rmdir(unifiedBase.path) }
    }
}

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
