import GloveboxSystem
import Logging

/// What the daemon makes every run's sandbox with: its cgroup subtree, the network namespaces made
/// between runs, the launcher (with the glovebox-init checked at start, and the launch watchdog) and the
/// warm-sandbox cache (prepared roots, and setup children made ahead from them). The Supervisor makes
/// one at start and hands it to each run (SandboxRun); nothing of it is global.
public final class Sandboxes: Sendable {
    public let cgroups: CgroupHierarchy
    let networks: NetworkNamespacePool?
    let launcher: SandboxLauncher
    public let warm: WarmSandboxes

    /// `scratch`: a directory of the daemon's for building the roots of warm sandboxes; `keepIdle`: how
    /// long a root or a warm sandbox no run takes is kept (`[sandbox] keep_idle`).
    public init(cgroups: CgroupHierarchy, networks: NetworkNamespacePool?, initProgram: InitProgram, scratch: String, keepIdle: Double,
                logger: Logger) {
        self.cgroups = cgroups
        self.networks = networks
        launcher = SandboxLauncher(initProgram: initProgram)
        warm = WarmSandboxes(cgroups: cgroups, networks: networks, launcher: launcher, scratch: scratch, keepIdle: keepIdle, logger: logger)
    }
}
