import CSandbox
import GloveboxSystem
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The daemon's view of the host's cgroups: a unified v2 hierarchy, or v1 controllers (optionally with a
/// controller-less unified mount beside them, as on hybrid hosts). Detected once at start.
public enum CgroupHierarchy: Sendable {
    case unified(CgroupV2Driver)
    case legacy(CgroupV1Driver)

    static let cgroup2Magic: UInt = 0x6367_7270
    static let mountRoot = "/sys/fs/cgroup"

    /// Detects the layout and prepares this daemon's subtree `instance` under its own cgroups.
    public static func detect(instance: String) throws -> CgroupHierarchy {
        let membership = try CgroupMembership.ofSelf()
        if isCgroup2(mountRoot) {
            return .unified(try CgroupV2Driver(root: mountRoot, own: membership.unified ?? "/", instance: instance))
        }
        let unifiedMount = mountRoot + "/unified"
        let unified = isCgroup2(unifiedMount) ? (unifiedMount, membership.unified ?? "/") : nil
        return .legacy(try CgroupV1Driver(mountRoot: mountRoot, membership: membership.legacy, unified: unified, instance: instance))
    }

    static func isCgroup2(_ path: String) -> Bool {
        gb_fs_magic(path) == Int(cgroup2Magic)
    }

    public var description: String {
        switch self {
        case .unified(let d): return "cgroup v2 at \(d.base)"
        case .legacy(let d): return d.description
        }
    }

    /// Whether the kernel accounts swap in cgroups here, so that a run's swap can be limited (HostSwap).
    public var accountsSwap: Bool {
        if FaultInjection.hidesSwapAccounting { return false }
        switch self {
        case .unified(let d): return d.baseDirectory.has("memory.swap.max")
        case .legacy(let d): return d.bases["memory"]?.has("memory.memsw.limit_in_bytes") ?? false
        }
    }

    public func createRun(name: String, limits: CgroupLimits) throws -> RunCgroup {
        switch self {
        case .unified(let d): return try d.createRun(name: name, limits: limits)
        case .legacy(let d): return try d.createRun(name: name, limits: limits)
        }
    }

    /// Cgroups for a warm sandbox (WarmSandboxes): spare cgroups, every hierarchy's, without a run's
    /// limits yet (no device allowed but the standard ones), named `spare-N`; `adopt` makes them a run's.
    public func createSpare() throws -> RunCgroup {
        switch self {
        case .unified(let d): return try d.createSpare()
        case .legacy(let d): return try d.createSpareForSandbox()
        }
    }

    /// Starts making runs' cgroups ahead of need, where the hierarchy allows (v1: see CgroupV1Driver).
    /// Call it once the leftovers of an earlier daemon are removed.
    public func startSpares(logger: Logger) throws {
        if case .legacy(let d) = self { try d.startSpares(capacity: 2, logger: logger) }
    }

    /// The name of cgroups made ahead of need, before a run takes them: `spare-N`.
    static let sparePrefix = "spare-"

    /// Whether `name` (from leftoverRuns) is cgroups made ahead of need rather than a run's.
    public static func isSpare(_ name: String) -> Bool { name.hasPrefix(CgroupHierarchy.sparePrefix) }

    /// Names of run cgroups left from an earlier daemon of this instance (it died mid-run), and of the
    /// spares it had made.
    public func leftoverRuns() -> [String] {
        switch self {
        case .unified(let d): return d.leftoverRuns()
        case .legacy(let d): return d.leftoverRuns()
        }
    }

    /// The cgroups of a run left by an earlier daemon; nil when they are gone already.
    public func adoptLeftover(name: String) -> RunCgroup? {
        switch self {
        case .unified(let d): return d.adopt(name: name)
        case .legacy(let d): return d.adopt(name: name)
        }
    }

    /// Removes this instance's (empty) subtree; called at shutdown.
    public func removeInstance() {
        switch self {
        case .unified(let d): d.removeInstance()
        case .legacy(let d): d.removeInstance()
        }
    }
}

/// The daemon's own cgroup paths from /proc/self/cgroup.
struct CgroupMembership {
    var unified: String?
    /// controller name -> path, e.g. "memory" -> "/user.slice".
    var legacy: [String: String]

    static func ofSelf() throws -> CgroupMembership {
        let text = try FileIO.read("/proc/self/cgroup")
        var result = CgroupMembership(unified: nil, legacy: [:])
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            let path = String(fields[2])
            if fields[0] == "0" && fields[1].isEmpty {
                result.unified = path
            } else {
                for controller in fields[1].split(separator: ",") { result.legacy[String(controller)] = path }
            }
        }
        return result
    }
}

/// Paths join without doubled slashes: join("/sys/fs/cgroup/memory", "/") == "/sys/fs/cgroup/memory".
func cgroupJoin(_ parts: String...) -> String {
    var out = ""
    for part in parts {
        let trimmed = part.split(separator: "/").joined(separator: "/")
        if trimmed.isEmpty { continue }
        out += (out.isEmpty && part.hasPrefix("/") ? "/" : (out.isEmpty ? "" : "/")) + trimmed
    }
    return out
}

/// Waits for "populated 0" in a cgroup2 directory's `cgroup.events`, event-driven (the kernel signals
/// POLLPRI).
func waitUnpopulated(_ dir: CgroupDirectory, milliseconds: Int32) -> Bool {
    guard let fd = try? dir.open("cgroup.events", O_RDONLY) else { return true }
    let deadline = Monotonic.now() + Double(milliseconds) / 1000
    while true {
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = pread(fd.raw, &buffer, buffer.count, 0)
        if n > 0, String(decoding: buffer[0..<n], as: UTF8.self).contains("populated 0") { return true }
        let left = deadline - Monotonic.now()
        if left <= 0 { return false }
        var p = pollfd(fd: fd.raw, events: Int16(POLLPRI), revents: 0)
        _ = poll(&p, 1, Int32(left * 1000) + 1)
    }
}
