import ArgumentParser
import CSandbox
import GloveboxSystem
import Logging
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
        (one TOML file per template in the policy directory), run in new namespaces under cgroup limits, \
        seccomp and an unprivileged uid, and recorded in SQLite in the state directory.

        SIGTERM, SIGINT or SIGHUP: stop accepting work, cancel the runs in flight, record them, remove its \
        cgroups and exit.
        """)

    @Option(help: "Unix socket to listen on.")
    var socket = "/run/glovebox/glovebox.sock"

    @Option(help: "Directory for the run database and the runs' scratch space.")
    var stateDir = "/var/lib/glovebox"

    @Option(help: "Directory of policy files (<template>.toml).")
    var policyDir = "/etc/glovebox/policies"

    @Option(help: "First of the uids given to runs (one per concurrent run); no real user may own them.")
    var sandboxUIDBase: UInt32 = 1_900_000_000

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown log level '\(logLevel)'") }
        guard stateDir.hasPrefix("/"), policyDir.hasPrefix("/"), socket.hasPrefix("/") else {
            throw ValidationError("--socket, --state-dir and --policy-dir must be absolute paths")
        }
    }

    func run() throws {
        guard geteuid() == 0 else { throw ValidationError("gloveboxd must run as root: it creates namespaces, cgroups and mounts") }
        let level = Logger.Level(rawValue: logLevel)!
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "gloveboxd")
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
        for fd in Int32(0)...2 where fcntl(fd, F_GETFD) < 0 { _ = open("/dev/null", O_RDWR) }
        signal(SIGPIPE, SIG_IGN)
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
            supervisor = try Supervisor(config: SupervisorConfig(socketPath: socket, stateDirectory: stateDir, policyDirectory: policyDir,
                                                                 sandboxUIDBase: sandboxUIDBase), logger: logger)
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
}
