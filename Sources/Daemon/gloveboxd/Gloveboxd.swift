import ArgumentParser
import CSandbox
import CSetupChild
import GloveboxSystem
import Logging
import Policy
import Sandbox
import Supervisor
#if canImport(Glibc)
import Glibc
#endif

@main
struct Gloveboxd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gloveboxd",
        abstract: "The Glovebox supervisor: runs experiments for clients in kernel-enforced sandboxes.",
        discussion: """
        Runs as root. Listens on a Unix socket; every request is checked against the policy of its template \
        (one TOML file per template in the policy directory) and the caps of the configuration file, run in \
        new namespaces under cgroup limits, seccomp and an unprivileged uid, and recorded in SQLite in the \
        state directory, with an append-only audit log.

        Settings come from /etc/glovebox/gloveboxd.toml (or --config; a missing default file means all \
        defaults); --socket, --state-dir, --policy-dir and --sandbox-uid-base override it.

        SIGTERM, SIGINT or SIGHUP: stop accepting work; then cancel the runs in flight, or wait for them up \
        to the configured grace ([shutdown] runs = "wait"); record them, remove its cgroups and exit.
        """)

    @Option(help: "Configuration file (default /etc/glovebox/gloveboxd.toml, optional).")
    var config: String?

    @Flag(help: "Validate the configuration, glovebox-init (each run's first process) and every policy, print what is wrong, and exit (0: all valid).")
    var checkConfig = false

    @Option(name: .customLong("check-policy"), parsing: .remaining,
            help: "Validate these policy files (parsed, and each seccomp filter built), print each problem with its file and line, and exit (0: all valid). Needs no root; `glovebox policy check` runs this.")
    var checkPolicies: [String] = []

    @Option(help: "Unix socket to listen on (overrides [socket] path).")
    var socket: String?

    @Option(help: "Directory for the run database, logs and the runs' scratch space (overrides [paths] state).")
    var stateDir: String?

    @Option(help: "Directory of policy files, <template>.toml (overrides [paths] policies).")
    var policyDir: String?

    @Option(help: "First of the uids given to runs (overrides [sandbox] uid_base).")
    var sandboxUIDBase: UInt32?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown log level '\(logLevel)'") }
        for (name, path) in [("--socket", socket), ("--state-dir", stateDir), ("--policy-dir", policyDir), ("--config", config)] {
            if let path, !path.hasPrefix("/") { throw ValidationError("\(name) must be an absolute path") }
        }
    }

    /// The configuration file with the command line's overrides.
    func settings() throws -> DaemonConfig {
        var settings = try DaemonConfig.load(path: config ?? DaemonConfig.defaultPath, explicit: config != nil)
        if let socket { settings.socketPath = socket }
        if let stateDir { settings.stateDirectory = stateDir }
        if let policyDir { settings.policyDirectory = policyDir }
        if let sandboxUIDBase { settings.sandboxUIDBase = sandboxUIDBase }
        return settings
    }

    func run() throws {
        if !checkPolicies.isEmpty { return try Self.check(policyFiles: checkPolicies) }
        if checkConfig { return try Self.check(settings: settings) }
        guard geteuid() == 0 else { throw ValidationError("gloveboxd must run as root: it creates namespaces, cgroups and mounts") }
        let level = Logger.Level(rawValue: logLevel)!
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "gloveboxd")
        let settings: DaemonConfig
        do { settings = try self.settings() } catch {
            logger.critical("cannot start: bad configuration", metadata: ["problem": "\(error)"])
            throw ExitCode(1)
        }
        if let point = FaultInjection.armedPoint {
            logger.warning("fault injection armed: the daemon will SIGKILL itself", metadata: ["point": "\(point.rawValue)"])
        }
        if FaultInjection.hidesSwapAccounting {
            logger.warning("fault injection armed: swap accounting is taken to be absent", metadata: ["point": "no-swap-accounting"])
        }
        if let fault = FaultInjection.setupFault {
            logger.warning("fault injection armed: every run's setup fails", metadata: ["point": "\(fault.rawValue)"])
        }
        let initProgram: InitProgram
        do {
            initProgram = try InitProgram.locate()
            logger.info("each run's pid 1", metadata: ["init": "\(initProgram.path)"])
        } catch {
            logger.critical("cannot start", metadata: ["problem": "\(error)"])
            throw ExitCode(1)
        }
        // Never dumpable: runs' setup children share this memory until they execute init, and change uid
        // meanwhile (CSetupChild/privileges.c). No core dump or /proc access of the daemon's memory by anyone but root.
        guard gb_clear_dumpable() == 0 else {
            logger.critical("cannot start: prctl(PR_SET_DUMPABLE, 0)", metadata: ["error": "\(String(cString: strerror(errno)))"])
            throw ExitCode(1)
        }
        let missing = HostCapabilities.missing()
        guard missing.isEmpty else {
            logger.critical("cannot start: missing capabilities", metadata: ["missing": "\(missing.joined(separator: ", "))"])
            throw ExitCode(1)
        }
        // Before any thread exists: the daemon's own mount namespace (a slave of the host's) keeps the
        // runs' volumes out of the host's mount table and takes them away if the daemon dies.
        guard gb_private_mount_namespace() == 0 else {
            logger.critical("cannot create the daemon's mount namespace", metadata: ["error": "\(String(cString: strerror(errno)))"])
            throw ExitCode(1)
        }
        // Also before any thread exists, since each thread has its own: nothing gloveboxd executes (each
        // run's init, mkfs.ext4) can have a capability but init's four. Every setup child inherits this set
        // and so need not empty it itself, one credential commit a capability, at every run.
        guard gb_limit_bounding_set() == 0 else {
            logger.critical("cannot limit the capability bounding set", metadata: ["error": "\(String(cString: strerror(errno)))"])
            throw ExitCode(1)
        }
        if !Self.rootReceivesHostMounts() {
            logger.warning("the host's / is not a shared mount: filesystems mounted on the host after gloveboxd started (a workdir on a new mount) stay unseen by it until it restarts")
        }
        for fd in Int32(0)...2 where fcntl(fd, F_GETFD) < 0 { _ = open("/dev/null", O_RDWR) }
        signal(SIGPIPE, SIG_IGN)
        // glibc keeps each malloc arena's high-water mark, 8 arenas a core: with a thread per connection
        // that is resident memory without end on a big machine. Two arenas hold it flat.
        _ = gb_limit_malloc_arenas(2)
        // Each client connection is a descriptor: use all the hard limit allows.
        var files = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &files) == 0 && files.rlim_cur < files.rlim_max {
            files.rlim_cur = files.rlim_max
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &files)
        }
        var stop = sigset_t()
        sigemptyset(&stop)
        for s in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&stop, s) }
        pthread_sigmask(SIG_BLOCK, &stop, nil)

        let supervisor: Supervisor
        do {
            supervisor = try Supervisor(config: settings, initProgram: initProgram, logger: logger)
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        let signals = stop
        try spawnDetachedThread {
            var set = signals
            var received: Int32 = 0
            sigwait(&set, &received)
            logger.info("stopping", metadata: ["signal": "\(received)"])
            supervisor.requestShutdown()
        }
        do {
            try supervisor.serve()
        } catch {
            logger.critical("cannot serve", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
    }

    /// Whether the daemon's root mount is a slave of the host's (mountinfo's "master:N"): only then do mounts
    /// made on the host later reach the daemon's namespace. A host whose / is private (no systemd as PID 1
    /// making it shared) propagates nothing.
    static func rootReceivesHostMounts() -> Bool {
        guard let text = FileIO.readIfPresent("/proc/self/mountinfo") else { return false }
        return text.split(separator: "\n").contains { line in
            let fields = line.split(separator: " ")
            guard fields.count > 6, fields[4] == "/" else { return false }
            return fields[6...].prefix { $0 != "-" }.contains { $0.hasPrefix("master:") }
        }
    }

    /// --check-policy: each file parsed as a policy and its seccomp filter built, one line per file.
    static func check(policyFiles: [String]) throws {
        var failed = false
        for file in policyFiles {
            do {
                let policy = try Policy.load(path: file)
                _ = try SeccompProfile.build(extraDenied: policy.seccompDeny)
                print("\(file): ok (template '\(policy.template)', timeout \(DurationText.format(policy.limits.timeoutSeconds)), memory \(ByteSize.format(policy.limits.memoryBytes)))")
            } catch {
                print("\(error)")
                failed = true
            }
        }
        if failed { throw ExitCode(1) }
    }

    /// --check-config: the configuration file, glovebox-init, then every policy (parsed, and its seccomp filter built).
    static func check(settings: () throws -> DaemonConfig) throws {
        let config: DaemonConfig
        do {
            config = try settings()
            print("configuration: ok (socket \(config.socketPath), state \(config.stateDirectory), policies \(config.policyDirectory))")
        } catch {
            print("\(error)")
            throw ExitCode(1)
        }
        var failed = false
        do { print("\(InitProgram.fileName): ok (\(try InitProgram.locate().path))") } catch { print("\(error)"); failed = true }
        if let problem = SuidDumpable.problem() { print(problem); failed = true }
        let (policies, errors) = Policy.loadDirectory(config.policyDirectory)
        failed = failed || !errors.isEmpty
        for error in errors { print("\(error)") }
        for (name, policy) in policies.sorted(by: { $0.key < $1.key }) {
            do {
                if let problem = policy.readOnlyPaths.lazy.compactMap(BindSource.readOnlyProblem).first {
                    throw SandboxError.invalid("[filesystem] read_only: \(problem)")
                }
                _ = try SeccompProfile.build(extraDenied: policy.seccompDeny)
                print("\(config.policyDirectory)/\(name).toml: ok")
            } catch {
                print("\(config.policyDirectory)/\(name).toml: \(error)")
                failed = true
            }
        }
        if policies.isEmpty && errors.isEmpty { print("\(config.policyDirectory): no policies (*.toml)"); failed = true }
        if failed { throw ExitCode(1) }
    }
}
