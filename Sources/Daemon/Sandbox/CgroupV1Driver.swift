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
/// Making a run's v1 cgroups is most of a run's preparation: once `startSpares` is called, a pool keeps
/// sets made ahead of need (CgroupV1SparePool). A run takes one, renames it `run-N` (v1 renames within a
/// parent) and writes its own limits; with none ready it makes its own.
public final class CgroupV1Driver: Sendable {
    static let controllers = ["memory", "pids", "cpu", "cpuacct", "devices", "freezer"]
    /// controller -> this instance's directory in that hierarchy, open: runs' cgroups are made, renamed
    /// and removed through it
    let bases: [String: CgroupDirectory]
    let unifiedBase: CgroupDirectory?
    /// The bases a new run's cgroups are made in (`bases` without the freezer where there is a unified base).
    private let runBases: [String: CgroupDirectory]
    /// Runs' cgroups made ahead of need (`spare-N`), and the thread that makes them.
    private let spares: CgroupV1SparePool

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
        // The hierarchies a new run joins: the freezer only where there is no unified cgroup to kill with.
        let runBases = unifiedBase == nil ? bases : bases.filter { $0.key != "freezer" }
        self.runBases = runBases
        let unified = unifiedBase
        spares = try CgroupV1SparePool { name in CgroupV1Run(name: name, bases: runBases, unifiedBase: unified) }
    }

    public var description: String {
        "cgroup v1 (" + Self.controllers.joined(separator: ", ") + ")" + (unifiedBase.map { " with unified \($0.path)" } ?? "")
    }

    /// The hierarchies a new run joins.
    var runControllers: [String] { Self.controllers.filter { runBases[$0] != nil } }

    func newRun(_ name: String) -> CgroupV1Run {
        CgroupV1Run(name: name, bases: runBases, unifiedBase: unifiedBase)
    }

    func createRun(name: String, limits: CgroupLimits) throws -> RunCgroup {
        if let spare = spares.take() {
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
        let spare = try spares.take() ?? spares.makeOne()
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
        try spares.start(capacity: capacity, logger: logger)
    }

    /// A run left by an earlier daemon: every hierarchy is looked at (an older daemon made a freezer
    /// cgroup for every run); the ones it does not have are skipped when removing.
    func adopt(name: String) -> RunCgroup {
        CgroupV1Run(leftover: name, bases: bases, unifiedBase: unifiedBase)
    }

    /// Runs, and spares, left by an earlier daemon of this instance.
    func leftoverRuns() -> [String] {
        let left = { (name: String) in name.hasPrefix("run-") || name.hasPrefix(CgroupHierarchy.sparePrefix) }
        var names = Set<String>()
        for base in bases.values { names.formUnion(subdirectories(of: base.path).filter(left)) }
        if let unifiedBase { names.formUnion(subdirectories(of: unifiedBase.path).filter(left)) }
        return names.sorted()
    }

    func removeInstance() {
        spares.stop()
        for base in bases.values { _ = rmdir(base.path) }
        if let unifiedBase { _ = rmdir(unifiedBase.path) }
    }
}
