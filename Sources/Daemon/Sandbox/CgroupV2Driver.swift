import CSandbox
import GloveboxSystem
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// cgroup v2 (unified), as on hosts under systemd with Delegate=yes. The daemon's tree:
///   <own>/                       the daemon's cgroup (its delegated service cgroup)
///   <own>/supervisor             the daemon itself, moved here so <own> has no processes of its own
///   <own>/<instance>/run-N       one per run: memory.max, memory.swap.max, memory.oom.group, pids.max,
///                                cpu.max, a device BPF program
public final class CgroupV2Driver: Sendable {
    public var base: String { baseDirectory.path }
    /// This instance's directory, open: runs' cgroups are made and removed through it.
    let baseDirectory: CgroupDirectory
    static let controllers = ["memory", "pids", "cpu"]
    private let nextSpare = Mutex(0)

    init(root: String, own: String, instance: String) throws {
        let ownDir = cgroupJoin(root, own)
        let parent: String
        if own == "/" {
            // The root cgroup is exempt from the no-internal-processes rule (a VM or container without
            // systemd): the daemon stays where it is.
            parent = ownDir
        } else if own.hasSuffix("/supervisor") {
            // Started again inside the leaf an earlier start moved it to (or moved there by hand).
            parent = String(ownDir.dropLast("/supervisor".count))
        } else {
            // The no-internal-processes rule: controllers can be enabled for children of <own> only
            // when no process lives in <own> itself, so the daemon moves to <own>/supervisor first.
            parent = ownDir
            let supervisor = cgroupJoin(ownDir, "supervisor")
            try FileIO.mkdir(supervisor)
            try FileIO.write(cgroupJoin(supervisor, "cgroup.procs"), "0")
        }
        do {
            try Self.enableControllers(in: parent)
        } catch let error as SystemError where error.errno == EBUSY {
            let others = (FileIO.readIfPresent(cgroupJoin(parent, "cgroup.procs")) ?? "").split(separator: "\n").joined(separator: ", ")
            throw SandboxError.unavailable("cannot enable cgroup controllers in \(parent): processes \(others) live there (run gloveboxd alone in its delegated cgroup)")
        }
        let base = cgroupJoin(parent, instance)
        try FileIO.mkdir(base)
        try Self.enableControllers(in: base)
        baseDirectory = try CgroupDirectory.open(base)
    }

    /// Enables the controllers runs need for the children of `dir`, writing only those not yet enabled
    /// (a directory the daemon did not make is left as it is when it already delegates them).
    static func enableControllers(in dir: String) throws {
        func words(_ file: String) throws -> Set<String> {
            Set(try FileIO.read(cgroupJoin(dir, file)).split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
        }
        let available = try words("cgroup.controllers")
        let missing = controllers.filter { !available.contains($0) }
        if !missing.isEmpty {
            throw SandboxError.unavailable("cgroup v2 controllers \(missing.joined(separator: ", ")) are not delegated to \(dir) (a systemd service needs Delegate=yes)")
        }
        let enabled = try words("cgroup.subtree_control")
        let toEnable = controllers.filter { !enabled.contains($0) }
        if toEnable.isEmpty { return }
        try FileIO.write(cgroupJoin(dir, "cgroup.subtree_control"), toEnable.map { "+" + $0 }.joined(separator: " "))
    }

    func createRun(name: String, limits: CgroupLimits) throws -> RunCgroup {
        let run = CgroupV2Run(name: name, dir: try baseDirectory.makeChild(name), base: baseDirectory)
        do {
            try run.configure(limits)
        } catch {
            try? run.remove()
            throw error
        }
        return run
    }

    /// A cgroup for a warm sandbox (WarmSandboxes), `spare-N`, without limits until a run adopts it; a
    /// cgroup2 directory cannot be renamed, so a run that takes the child keeps that name.
    func createSpare() throws -> RunCgroup {
        let name = CgroupHierarchy.sparePrefix + String(nextSpare.withLock { n in
            defer { n += 1 }
            return n
        })
        let run = CgroupV2Run(name: name, dir: try baseDirectory.makeChild(name), base: baseDirectory)
        do {
            try run.open()
        } catch {
            try? run.remove()
            throw error
        }
        return run
    }

    /// A run left by an earlier daemon; nil when its directory is gone already.
    func adopt(name: String) -> RunCgroup? {
        (try? baseDirectory.openChild(name)).map { CgroupV2Run(name: name, dir: $0, base: baseDirectory) }
    }

    func leftoverRuns() -> [String] {
        subdirectories(of: base).filter { $0.hasPrefix("run-") || $0.hasPrefix(CgroupHierarchy.sparePrefix) }
    }

    func removeInstance() { _ = rmdir(base) }
}

final class CgroupV2Run: RunCgroup, @unchecked Sendable {
    // Immutable after configure() or open(), which run before the object is shared.
    let name: String
    private let dir: CgroupDirectory
    private let base: CgroupDirectory
    var cloneTarget: FileDescriptor? { dir.descriptor }
    var oomEvents: FileDescriptor?
    var oomEventsArePriority: Bool { true }

    init(name: String, dir: CgroupDirectory, base: CgroupDirectory) {
        self.name = name
        self.dir = dir
        self.base = base
    }

    func configure(_ limits: CgroupLimits) throws {
        try open()
        try limit(limits)
    }

    /// memory.events, open for OOM kills (the directory's descriptor is the one CLONE_INTO_CGROUP takes).
    func open() throws {
        oomEvents = try dir.open("memory.events", O_RDONLY)
        _ = memoryEvents()  // a kernfs file polls as changed until first read through its descriptor
    }

    /// A spare made the run's: its name stays (cgroup2 cannot rename).
    func adopt(as name: String, limits: CgroupLimits) throws { try limit(limits) }

    /// The limits, and the device filter: attached with the limits, before the run's setup goes on.
    private func limit(_ limits: CgroupLimits) throws {
        try dir.write("memory.max", String(limits.memoryBytes))
        if dir.has("memory.swap.max") { try dir.write("memory.swap.max", "0") }
        try dir.write("memory.oom.group", "1")
        try dir.write("pids.max", String(limits.pids))
        try dir.write("cpu.max", CPUQuota(cpus: limits.cpus).v2Text)
        let majors = limits.devices.map(\.major), minors = limits.devices.map(\.minor)
        try syscallValue("attach the device filter to", dir.path) {
            gb_attach_device_filter(dir.descriptor.raw, majors, minors, Int32(majors.count))
        }
    }

    var placementDescriptors: [Int32] { [] }  // CLONE_INTO_CGROUP puts the child here
    func place(pid: Int32) throws { try dir.write("cgroup.procs", String(pid)) }

    func killAll() throws { try dir.write("cgroup.kill", "1") }

    func waitUntilEmpty(milliseconds: Int32) -> Bool { waitUnpopulated(dir, milliseconds: milliseconds) }

    func stats() -> CgroupStats {
        var s = CgroupStats()
        let cpu = FileIO.keyedIntegers(dir.read("cpu.stat") ?? "")
        s.userCPUSeconds = Double(cpu["user_usec"] ?? 0) / 1e6
        s.systemCPUSeconds = Double(cpu["system_usec"] ?? 0) / 1e6
        s.throttledSeconds = Double(cpu["throttled_usec"] ?? 0) / 1e6
        s.peakMemoryBytes = UInt64((dir.read("memory.peak") ?? "").trimmingNewline) ?? 0
        s.oomKills = FileIO.keyedIntegers(memoryEvents())["oom_kill"] ?? 0
        s.pidsLimitHits = FileIO.keyedIntegers(dir.read("pids.events") ?? "")["max"] ?? 0
        return s
    }

    /// memory.events, read through `oomEvents` while it is open. kernfs reports POLLPRI on that descriptor
    /// from its opening, and again after every change of the file (a "max" or "high" event too, not only
    /// an OOM kill), until the file is read through the same descriptor. Reading it here re-arms the
    /// supervisor's poll; reading it by path left the supervisor spinning for the whole run.
    private func memoryEvents() -> String {
        if let fd = oomEvents, fd.raw >= 0 {
            var buffer = [UInt8](repeating: 0, count: 1024)
            let n = pread(fd.raw, &buffer, buffer.count, 0)
            if n > 0 { return String(decoding: buffer[0..<n], as: UTF8.self) }
        }
        return dir.read("memory.events") ?? ""
    }

    var procsFiles: [String] { [cgroupJoin(dir.path, "cgroup.procs")] }

    func remove() throws {
        dir.close()
        oomEvents?.close()
        try base.removeChild(name)
    }
}

/// cpus → quota per 100 ms period.
struct CPUQuota {
    static let periodMicroseconds = 100_000
    let quotaMicroseconds: Int
    init(cpus: Double) { quotaMicroseconds = max(1000, Int((cpus * Double(Self.periodMicroseconds)).rounded())) }
    var v2Text: String { "\(quotaMicroseconds) \(Self.periodMicroseconds)" }
}

func subdirectories(of path: String) -> [String] { FileIO.entries(of: path, directoriesOnly: true) }

extension String {
    var trimmingNewline: String { split(whereSeparator: { $0 == "\n" || $0 == " " }).first.map(String.init) ?? "" }
}
