import Digests
import GloveboxClient
import GloveboxSystem
import GloveboxProtocol
import PolicyModel
import RecordModel
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A real gloveboxd, started from the build directory with its own socket, state and policy
/// directories under a scratch directory, stopped and cleaned up in `stop()` — also when a test fails.
// Sendable: after start() its fields are only read; start/stop are called from the test thread alone.
final class DaemonFixture: @unchecked Sendable {
    let scratch: String
    let socket: String
    let stateDir: String
    let policyDir: String
    let logPath: String
    private(set) var pid: pid_t = 0

    /// The runs' directories as the daemon sees them: a tmpfs in its own mount namespace, over the
    /// on-disk `<state>/runs` the host sees (which stays empty).
    var runsDirectory: String { "/proc/\(pid)/root" + stateDir + "/runs" }

    /// Entries of the runs' directories, the daemon's view and the disk's beneath together.
    var runDirectories: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: runsDirectory)) ?? [])
            + ((try? FileManager.default.contentsOfDirectory(atPath: stateDir + "/runs")) ?? [])
            + ((try? FileManager.default.contentsOfDirectory(atPath: stateDir + "/images")) ?? [])
    }

    static var buildDirectory: String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let exe = String(decoding: buffer[0..<max(0, n)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // …/debug/gloveboxPackageTests.xctest
        return String(exe[..<exe.lastIndex(of: "/")!])
    }

    static var gloveboxd: String { buildDirectory + "/gloveboxd" }
    static var glovebox: String { buildDirectory + "/glovebox" }

    /// `policies` maps template names to TOML text; the repository's shipped policies are added unless
    /// a test names its own.
    /// Extra gloveboxd arguments (such as --config).
    let arguments: [String]
    /// Extra environment for gloveboxd (GLOVEBOX_FAULT); read at each start().
    var daemonEnvironment: [String: String] = [:]
    /// A command gloveboxd is started through (such as prlimit), read at each start().
    var launcher: [String] = []

    init(policies: [String: String] = [:], shipped: Bool = true, config: String? = nil, stateDirectory: String? = nil) throws {
        var template = Array("/var/tmp/glovebox-test.XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else { throw ClientError("mkdtemp: \(String(cString: strerror(errno)))") }
        scratch = String(nulTerminated: template)
        chmod(scratch, 0o755)  // unprivileged test clients must reach the socket
        socket = scratch + "/glovebox.sock"
        stateDir = stateDirectory ?? scratch + "/state"
        policyDir = scratch + "/policies"
        logPath = scratch + "/gloveboxd.log"
        arguments = config == nil ? [] : ["--config", scratch + "/gloveboxd.toml"]
        mkdir(policyDir, 0o755)
        if shipped {
            for name in ["default", "python"] {
                try Self.write(policyDir + "/\(name).toml", try String(contentsOfFile: Self.repositoryRoot + "/policies/\(name).toml", encoding: .utf8))
            }
        }
        do {
            if let config { try Self.write(scratch + "/gloveboxd.toml", config) }
            for (name, text) in policies { try Self.write(policyDir + "/\(name).toml", text) }
            try start()
        } catch {
            stop()
            throw error
        }
    }

    /// The checkout's root (from this file's path), or $GLOVEBOX_REPOSITORY_ROOT where the tests run from a
    /// staged copy (inside the cgroup-v2 VM).
    static var repositoryRoot: String {
        if let root = ProcessInfo.processInfo.environment["GLOVEBOX_REPOSITORY_ROOT"], !root.isEmpty { return root }
        var path = #filePath
        for _ in 0..<3 { path = String(path[..<path.lastIndex(of: "/")!]) }
        return path
    }

    static func write(_ path: String, _ text: String, mode: mode_t = 0o644) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw ClientError("open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard bytes.withUnsafeBytes({ Glibc.write(fd, $0.baseAddress, $0.count) }) == bytes.count else { throw ClientError("write \(path)") }
    }

    func start() throws {
        unlink(socket)
        pid = try Self.spawn(launcher + [Self.gloveboxd, "--socket", socket, "--state-dir", stateDir, "--policy-dir", policyDir, "--log-level", "debug"] + arguments,
                             stdout: logPath, stderr: logPath, environment: ["PATH": "/usr/bin:/bin"].merging(daemonEnvironment) { $1 })
        let deadline = Date().addingTimeInterval(20)
        while access(socket, F_OK) != 0 {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                pid = 0
                throw ClientError("gloveboxd exited at start (status \(status)):\n\(log)")
            }
            if Date() > deadline { throw ClientError("gloveboxd did not create its socket:\n\(log)") }
            usleep(10_000)
        }
    }

    /// SIGTERM, then wait. Returns the daemon's wait status.
    @discardableResult
    func stopDaemon(signal: Int32 = SIGTERM) -> Int32 {
        guard pid > 0 else { return 0 }
        kill(pid, signal)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        pid = 0
        return status
    }

    /// Stops the daemon (with `signal`) and starts it again with `environment` (GLOVEBOX_FAULT, or none).
    func restart(signal: Int32 = SIGTERM, environment: [String: String] = [:]) throws {
        stopDaemon(signal: signal)
        daemonEnvironment = environment
        try start()
    }

    /// This daemon's cgroup directories, in every hierarchy, whose path below its instance matches `pattern`
    /// (find -path), sorted.
    func cgroupDirectories(_ pattern: String) throws -> [String] {
        try Self.run(["/usr/bin/find", "/sys/fs/cgroup", "-maxdepth", "7", "-type", "d", "-path", "*\(cgroupInstance)/\(pattern)"]).stdout
            .split(separator: "\n").map(String.init).sorted()
    }

    /// Stops the daemon and removes the scratch directory.
    func stop() {
        stopDaemon()
        _ = try? Self.run(["/bin/rm", "-rf", scratch])
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// The name of this daemon's cgroup subtree (derived from its state directory).
    var cgroupInstance: String { "glovebox-" + String(sha256Hex(Array(stateDir.utf8)).prefix(12)) }

    // MARK: - Clients

    struct Outcome {
        var record: RunRecord?
        var error: String?
        var stdout: String
        var stderr: String
    }

    /// Runs through the client library in this process.
    func run(_ argv: [String], template: String = "default", limits: LimitRequest = LimitRequest(), workdir: String? = nil,
             outputs: [String] = [], environment: [String: String] = [:]) -> Outcome {
        let out = Pipe(), err = Pipe()
        var client = RunClient(socketPath: socket, request: RunRequest(template: template, argv: argv, environment: environment,
                                                                        limits: limits, outputs: outputs), workdir: workdir)
        client.stdout = out.fileHandleForWriting.fileDescriptor
        client.stderr = err.fileHandleForWriting.fileDescriptor
        let collected = CollectedOutput(out: out, err: err)
        let outcome = Result { () throws -> RunRecord in
            let result = try client.run()
            let record = try result.record()
            XCTAssertEqual(result.summary, RunSummary(record), "the client's summary reads the record as Codable does")
            return record
        }
        let (o, e) = collected.finish()
        switch outcome {
        case .success(let record): return Outcome(record: record, error: nil, stdout: o, stderr: e)
        case .failure(let error): return Outcome(record: nil, error: "\(error)", stdout: o, stderr: e)
        }
    }

    /// Runs the `glovebox` executable, optionally as another user (via setpriv). Returns exit status and output.
    func cli(_ arguments: [String], asUser uid: uid_t? = nil, environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
        var argv = [Self.glovebox] + arguments
        if let uid { argv = ["/usr/bin/setpriv", "--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", "--"] + argv }
        var env = ["GLOVEBOX_SOCKET": socket, "PATH": "/usr/bin:/bin"]
        for (k, v) in environment { env[k] = v }
        return try Self.run(argv, environment: env)
    }

    // MARK: - Processes

    static func run(_ argv: [String], environment: [String: String] = ["PATH": "/usr/bin:/bin"]) throws -> (status: Int32, stdout: String, stderr: String) {
        let outPath = "/tmp/glovebox-test-out.\(getpid()).\(UInt32.random(in: 0...UInt32.max))"
        defer { unlink(outPath); unlink(outPath + ".err") }
        let pid = try spawn(argv, stdout: outPath, stderr: outPath + ".err", environment: environment)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return (code, (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "", (try? String(contentsOfFile: outPath + ".err", encoding: .utf8)) ?? "")
    }

    static func spawn(_ argv: [String], stdout: String, stderr: String, environment: [String: String] = ["PATH": "/usr/bin:/bin"]) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { cArgs.forEach { free($0) }; cEnv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, nil, cArgs, cEnv)
        guard rc == 0 else { throw ClientError("spawn \(argv[0]): \(String(cString: strerror(rc)))") }
        return pid
    }
}

/// Reads both pipes on background threads so a chatty program cannot fill them and stall the client.
final class CollectedOutput: @unchecked Sendable {
    private let out: Pipe, err: Pipe
    private var outData = Data(), errData = Data()
    private let group = DispatchGroup()

    init(out: Pipe, err: Pipe) {
        self.out = out
        self.err = err
        for (pipe, isOut) in [(out, true), (err, false)] {
            group.enter()
            DispatchQueue.global().async {
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                if isOut { self.outData = data } else { self.errData = data }
                self.group.leave()
            }
        }
    }

    func finish() -> (String, String) {
        try? out.fileHandleForWriting.close()
        try? err.fileHandleForWriting.close()
        group.wait()
        return (String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
    }
}

/// What a test must leave behind: nothing. Checked after every test that ran a daemon.
enum HostState {
    /// Glovebox cgroup directories in the host's cgroup trees (of one daemon, or of any).
    static func gloveboxCgroups(of daemon: DaemonFixture? = nil) -> [String] {
        let name = daemon?.cgroupInstance ?? "glovebox-*"
        let (_, out, _) = (try? DaemonFixture.run(["/usr/bin/find", "/sys/fs/cgroup", "-maxdepth", "6", "-type", "d", "-name", name])) ?? (0, "", "")
        return out.split(separator: "\n").map(String.init)
    }

    static func gloveboxMounts() -> [String] {
        ((try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? "").split(separator: "\n").filter { $0.contains("glovebox") }.map(String.init)
    }

    /// Host processes whose command line contains `marker`.
    static func processes(containing marker: String) -> [String] {
        let (_, out, _) = (try? DaemonFixture.run(["/usr/bin/pgrep", "-a", "-f", marker])) ?? (0, "", "")
        return out.split(separator: "\n").map(String.init).filter { !$0.contains("pgrep") }
    }
}
