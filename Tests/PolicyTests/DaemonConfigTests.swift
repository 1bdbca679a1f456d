import Glibc
import Policy
import XCTest

final class DaemonConfigTests: XCTestCase {
    private let source = "/etc/glovebox/gloveboxd.toml"

    private func parse(_ text: String) throws(PolicyError) -> DaemonConfig {
        try DaemonConfig.parse(text, source: source)
    }

    /// Asserts that parsing fails on `line` with exactly `message` (or, with `contains`, a message containing it).
    private func assertConfigError(_ text: String, line: Int?, _ message: String, contains: Bool = false,
                                   file: StaticString = #filePath, at: UInt = #line) {
        do {
            let config = try parse(text)
            XCTFail("expected an error, parsed \(config)", file: file, line: at)
        } catch {
            XCTAssertEqual(error.file, source, file: file, line: at)
            XCTAssertEqual(error.line, line, "line of: \(error)", file: file, line: at)
            if contains {
                XCTAssertTrue(error.message.contains(message), "\(error.message) lacks \(message)", file: file, line: at)
            } else {
                XCTAssertEqual(error.message, message, file: file, line: at)
            }
        }
    }

    private func assertParses(_ text: String, file: StaticString = #filePath, at: UInt = #line) -> DaemonConfig? {
        do {
            return try parse(text)
        } catch {
            XCTFail("\(error)", file: file, line: at)
            return nil
        }
    }

    // MARK: - Defaults and a full file

    func testDefaults() throws {
        let config = DaemonConfig()
        XCTAssertEqual(config.socketPath, "/run/glovebox/glovebox.sock")
        XCTAssertNil(config.socketGroup)
        XCTAssertEqual(config.socketMode, 0o666)
        XCTAssertEqual(config.stateDirectory, "/var/lib/glovebox")
        XCTAssertEqual(config.policyDirectory, "/etc/glovebox/policies")
        XCTAssertNil(config.adminGroup)
        XCTAssertEqual(config.sandboxUIDBase, 1_900_000_000)
        XCTAssertEqual(config.sandboxUIDCount, 65_536)
        XCTAssertEqual(config.keepIdleSeconds, 60)
        XCTAssertNil(config.gpus)
        XCTAssertEqual(config.maxConcurrentRuns, 64)
        XCTAssertEqual(config.maxRunsPerHour, 3600)
        XCTAssertEqual(config.perUserConcurrentRuns, 8)
        XCTAssertEqual(config.perUserRunsPerHour, 600)
        XCTAssertEqual(config.overCap, .queue)
        XCTAssertEqual(config.maxQueued, 256)
        XCTAssertEqual(config.shutdown, .cancel)
        XCTAssertEqual(config.shutdownGraceSeconds, 30)
        XCTAssertEqual(config.logOutputBytes, 64 << 20)
        XCTAssertEqual(DaemonConfig.defaultPath, "/etc/glovebox/gloveboxd.toml")

        XCTAssertEqual(try parse(""), config)
        XCTAssertEqual(try parse("# nothing set\n"), config)
        XCTAssertEqual(try parse("[socket]\n[paths]\n[access]\n[sandbox]\n[gpus]\n[caps]\n[shutdown]\n[logs]\n"), config,
                       "empty tables leave the defaults")
    }

    func testFullFileSetsEveryKey() throws {
        let config = try parse("""
        [socket]
        path = "/run/gb/daemon.sock"
        group = "glovebox"
        mode = "0660"

        [paths]
        state = "/srv/glovebox/state"
        policies = "/srv/glovebox/policies"

        [access]
        admin_group = "1500"

        [sandbox]
        uid_base = 200000
        uid_count = 1000
        keep_idle = "5m"

        [gpus]
        devices = [
            "/dev/nvidia0",
            "/dev/nvidia3",
        ]

        [caps]
        concurrent_runs = 16
        runs_per_hour = 100
        user_concurrent_runs = 2
        user_runs_per_hour = 20
        over_cap = "refuse"
        max_queued = 0

        [shutdown]
        runs = "wait"
        grace = "5m"

        [logs]
        max_bytes = "1GiB"
        """)
        var expected = DaemonConfig()
        expected.socketPath = "/run/gb/daemon.sock"
        expected.socketGroup = "glovebox"
        expected.socketMode = 0o660
        expected.stateDirectory = "/srv/glovebox/state"
        expected.policyDirectory = "/srv/glovebox/policies"
        expected.adminGroup = "1500"
        expected.sandboxUIDBase = 200_000
        expected.sandboxUIDCount = 1000
        expected.keepIdleSeconds = 300
        expected.gpus = ["/dev/nvidia0", "/dev/nvidia3"]
        expected.maxConcurrentRuns = 16
        expected.maxRunsPerHour = 100
        expected.perUserConcurrentRuns = 2
        expected.perUserRunsPerHour = 20
        expected.overCap = .refuse
        expected.maxQueued = 0
        expected.shutdown = .wait
        expected.shutdownGraceSeconds = 300
        expected.logOutputBytes = 1 << 30
        XCTAssertEqual(config, expected)
        XCTAssertNotEqual(config, DaemonConfig())
    }

    func testNumbersAndOtherSpellings() throws {
        let config = try parse("""
        socket.mode = "600"
        shutdown = { grace = 90, runs = "cancel" }
        logs.max_bytes = 65536
        gpus.devices = []
        """)
        XCTAssertEqual(config.socketMode, 0o600)
        XCTAssertEqual(config.shutdownGraceSeconds, 90)
        XCTAssertEqual(config.logOutputBytes, 64 << 10)
        XCTAssertEqual(config.gpus, [], "an empty list means no GPUs, not discovery")
        XCTAssertEqual(try parse("[shutdown]\ngrace = 0\n").shutdownGraceSeconds, 0)
        XCTAssertEqual(try parse("[shutdown]\ngrace = \"1h\"\n").shutdownGraceSeconds, 3600)
        XCTAssertEqual(try parse("[shutdown]\ngrace = 1.5\n").shutdownGraceSeconds, 1.5)
        XCTAssertEqual(try parse("[socket]\nmode = \"0777\"\n").socketMode, 0o777)
        XCTAssertEqual(try parse("[socket]\ngroup = \"2000\"\n").socketGroup, "2000")
        XCTAssertEqual(try parse("[sandbox]\nuid_base = 65536\nuid_count = 1\n[caps]\nconcurrent_runs = 1\n").sandboxUIDBase, 65_536)
        XCTAssertEqual(try parse("[sandbox]\nuid_base = 4294901757\n").sandboxUIDCount, 65_536,
                       "base + count = 4294967293 exactly (init's uid)")
        let socket107 = "/" + String(repeating: "s", count: 106)
        XCTAssertEqual(try parse("[socket]\npath = \"\(socket107)\"\n").socketPath, socket107)
    }

    // MARK: - Errors

    func testLogQuotasHoldAtLeastOneRunsLog() {
        XCTAssertEqual(try parse("[logs]\nretention = \"7d\"\nuser_bytes = \"1GiB\"\ntotal_bytes = \"8GiB\"\n").logRetentionSeconds, 7 * 86400)
        assertConfigError("[logs]\nmax_bytes = \"64MiB\"\nuser_bytes = \"32MiB\"\n", line: 3,
                          "logs.user_bytes: logs.user_bytes 32 MiB is below logs.max_bytes 64 MiB: one run's log must fit in a user's quota")
        assertConfigError("[logs]\nuser_bytes = \"1GiB\"\ntotal_bytes = \"512MiB\"\n", line: 3,
                          "logs.total_bytes: logs.total_bytes 512 MiB is below logs.user_bytes 1 GiB: a user's quota must fit in the total")
        assertConfigError("[logs]\nretention = \"0s\"\n", line: 2, "logs.retention: 0s is below the minimum 1s")
        XCTAssertEqual(try parse("[paths]\nstate_min_free = \"10GiB\"\n").stateMinFree, .bytes(10 << 30))
        XCTAssertEqual(try parse("[paths]\nstate_min_free = \"5%\"\n").stateMinFree, .percent(5))
        assertConfigError("[paths]\nstate_min_free = \"75%\"\n", line: 2, "paths.state_min_free: '75%' is not a share of the filesystem from \"0%\" to \"50%\"")
        XCTAssertEqual(try parse("[caps]\nrefusals_per_minute = 10\n").refusalsPerMinute, 10)
    }

    func testUnknownTablesAndKeys() {
        assertConfigError("""
        [socket]
        path = "/run/x.sock"

        [logging]
        level = "info"
        """, line: 4, "unknown table [logging] (known: socket, paths, access, sandbox, gpus, caps, shutdown, logs)")
        assertConfigError("""
        [caps]
        concurrent_runs = 4
        max_runs = 3
        """, line: 3, "unknown key 'caps.max_runs' (known: concurrent_runs, runs_per_hour, user_concurrent_runs, "
            + "user_runs_per_hour, over_cap, max_queued, refusals_per_minute)")
        assertConfigError("socket_path = \"/run/x.sock\"\n", line: 1,
                          "unknown key 'socket_path' (known: socket, paths, access, sandbox, gpus, caps, shutdown, logs)")
        assertConfigError("[paths]\nstate = \"/srv\"\n[paths.extra]\nx = 1\n", line: 3,
                          "unknown key 'paths.extra' (known: state, policies, state_min_free)")
        // The first unknown key in the file is reported.
        assertConfigError("[logs]\nmax = 1\n[socket]\nowner = \"root\"\n", line: 2,
                          "unknown key 'logs.max' (known: max_bytes, retention, total_bytes, user_bytes)")
    }

    func testWrongTypes() {
        assertConfigError("[socket]\npath = 1\n", line: 2, "socket.path: expected a string, found an integer")
        assertConfigError("socket = \"/run/x.sock\"\n", line: 1, "socket: expected a table, found a string")
        assertConfigError("[[caps]]\nconcurrent_runs = 1\n", line: 1, "caps: expected a table, found an array")
        assertConfigError("\n[caps]\nconcurrent_runs = \"8\"\n", line: 3, "caps.concurrent_runs: expected an integer, found a string")
        assertConfigError("[caps]\nmax_queued = 1.5\n", line: 2, "caps.max_queued: expected an integer, found a float")
        assertConfigError("[gpus]\ndevices = \"/dev/nvidia0\"\n", line: 2, "gpus.devices: expected an array of strings, found a string")
        assertConfigError("[gpus]\ndevices = [\n  \"/dev/nvidia0\",\n  0,\n]\n", line: 4,
                          "gpus.devices[1]: expected a string, found an integer")
        assertConfigError("[access]\nadmin_group = true\n", line: 2, "access.admin_group: expected a string, found a boolean")
        assertConfigError("[shutdown]\ngrace = true\n", line: 2,
                          "shutdown.grace: expected a duration string or a number of seconds, found a boolean")
        assertConfigError("[logs]\nmax_bytes = 1.5\n", line: 2,
                          "logs.max_bytes: expected a size string or an integer number of bytes, found a float")
        assertConfigError("[socket]\nmode = 0o660\n", line: 2, "socket.mode: expected an octal string such as \"0660\", found an integer")
        assertConfigError("[sandbox]\nuid_base = \"200000\"\n", line: 2, "sandbox.uid_base: expected an integer, found a string")
    }

    func testPaths() {
        assertConfigError("[paths]\nstate = \"var/lib/glovebox\"\n", line: 2, "paths.state: 'var/lib/glovebox' is not absolute")
        assertConfigError("[paths]\npolicies = \"/etc/glovebox/policies/\"\n", line: 2,
                          "paths.policies: '/etc/glovebox/policies/' has a trailing '/'")
        assertConfigError("[paths]\nstate = \"/\"\n", line: 2, "paths.state: '/' is the root directory")
        assertConfigError("[paths]\nstate = \"/var/../tmp\"\n", line: 2, "paths.state: '/var/../tmp' contains a '.' or '..' component")
        assertConfigError("[socket]\npath = \"/run//x.sock\"\n", line: 2, "socket.path: '/run//x.sock' contains '//'")
        assertConfigError("[socket]\npath = \"\"\n", line: 2, "socket.path: '' is not absolute")
        let socket108 = "/" + String(repeating: "s", count: 107)
        assertConfigError("[socket]\npath = \"\(socket108)\"\n", line: 2,
                          "socket.path: '\(socket108)' is 108 bytes, a socket path must be shorter than 108")
    }

    func testSocketMode() {
        for (mode, value) in [("0600", 0o600), ("0640", 0o640), ("0660", 0o660), ("0666", 0o666), ("755", 0o755)] {
            XCTAssertEqual(assertParses("[socket]\nmode = \"\(mode)\"\n")?.socketMode, UInt32(value), mode)
        }
        for bad in ["", "rw", "0o660", "66", "00660", "0680", " 0660", "-660"] {
            assertConfigError("[socket]\nmode = \"\(bad)\"\n", line: 2, "socket.mode: '\(bad)' is not an octal mode such as \"0660\"")
        }
        assertConfigError("[socket]\nmode = \"4660\"\n", line: 2,
                          "socket.mode: '4660' sets the setuid, setgid or sticky bit, which is not allowed")
        assertConfigError("[socket]\nmode = \"1777\"\n", line: 2,
                          "socket.mode: '1777' sets the setuid, setgid or sticky bit, which is not allowed")
        assertConfigError("[socket]\nmode = \"0460\"\n", line: 2,
                          "socket.mode: '0460' must give the owner read and write (at least 0600)")
        assertConfigError("[socket]\nmode = \"0066\"\n", line: 2,
                          "socket.mode: '0066' must give the owner read and write (at least 0600)")
    }

    func testGroups() {
        XCTAssertEqual(assertParses("[access]\nadmin_group = \"wheel\"\n")?.adminGroup, "wheel")
        XCTAssertEqual(assertParses("[access]\nadmin_group = \"0\"\n")?.adminGroup, "0")
        assertConfigError("[access]\nadmin_group = \"*\"\n", line: 2, "access.admin_group: '*' is not a valid name or numeric id")
        assertConfigError("[access]\nadmin_group = \"\"\n", line: 2, "access.admin_group: '' is not a valid name or numeric id")
        assertConfigError("[socket]\ngroup = \"glove box\"\n", line: 2, "socket.group: 'glove box' is not a valid name or numeric id")
        assertConfigError("[socket]\ngroup = \"4294967295\"\n", line: 2, "socket.group: '4294967295' is not a valid numeric id")
        assertConfigError("[socket]\ngroup = \"12ab\"\n", line: 2, "socket.group: '12ab' is not a valid numeric id")
    }

    func testGPUDevices() {
        assertConfigError("""
        [gpus]
        devices = [
            "/dev/nvidia0",
            "/dev/nvidia1",
            "/dev/nvidia0",
        ]
        """, line: 5, "gpus.devices[2]: '/dev/nvidia0' is listed twice")
        for bad in ["/dev/nvidia", "/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia0/", "dev/nvidia0", "/dev/dri/card0",
                    "/dev/nvidia1a", "/dev/../dev/nvidia0"] {
            assertConfigError("[gpus]\ndevices = [\"/dev/nvidia2\", \"\(bad)\"]\n", line: 2,
                              "gpus.devices[1]: '\(bad)' is not a GPU device node (an absolute path ending in nvidia followed by a number, e.g. /dev/nvidia0)")
        }
        XCTAssertEqual(assertParses("[gpus]\ndevices = [\"/dev/nvidia12\"]\n")?.gpus, ["/dev/nvidia12"])
        XCTAssertEqual(assertParses("[gpus]\ndevices = [\"/var/tmp/gpus/nvidia0\"]\n")?.gpus, ["/var/tmp/gpus/nvidia0"])
    }

    func testSandboxUIDs() {
        assertConfigError("[sandbox]\nuid_base = 1000\n", line: 2, "sandbox.uid_base: 1000 is below the minimum 65536")
        assertConfigError("[sandbox]\nuid_base = 0\n", line: 2, "sandbox.uid_base: 0 is below the minimum 65536")
        assertConfigError("[sandbox]\nuid_base = 4294967294\n", line: 2, "sandbox.uid_base: 4294967294 is above the maximum 4294967292")
        assertConfigError("[sandbox]\nuid_count = 0\n", line: 2, "sandbox.uid_count: 0 is below the minimum 1")
        assertConfigError("[sandbox]\nuid_count = -5\n", line: 2, "sandbox.uid_count: -5 is below the minimum 1")
        assertConfigError("[sandbox]\nuid_base = 4294967000\nuid_count = 294\n", line: 3,
                          "sandbox.uid_count: uid_base + uid_count is 4294967294, above the maximum 4294967293")
        assertConfigError("[sandbox]\nuid_base = 4294901758\n", line: 2,
                          "sandbox.uid_base: uid_base + uid_count is 4294967294, above the maximum 4294967293")
        assertConfigError("[sandbox]\nuid_count = 8\n[caps]\nconcurrent_runs = 9\n", line: 4,
                          "caps.concurrent_runs: 9 is above sandbox.uid_count 8 (each run at once needs its own uid)")
        XCTAssertEqual(assertParses("[sandbox]\nuid_count = 8\n[caps]\nconcurrent_runs = 8\n")?.maxConcurrentRuns, 8)
        assertConfigError("[sandbox]\nuid_count = 8\n", line: 2,
                          "sandbox.uid_count: 8 is below caps.concurrent_runs 64 (each run at once needs its own uid)")
        assertConfigError("[caps]\nconcurrent_runs = 65537\n", line: 2,
                          "caps.concurrent_runs: 65537 is above sandbox.uid_count 65536 (each run at once needs its own uid)")
    }

    func testKeepIdle() {
        assertConfigError("[sandbox]\nkeep_idle = \"500ms\"\n", line: 2, "sandbox.keep_idle: 500ms is below the minimum 1s")
        assertConfigError("[sandbox]\nkeep_idle = 0\n", line: 2, "sandbox.keep_idle: 0s is below the minimum 1s")
        assertConfigError("[sandbox]\nkeep_idle = nan\n", line: 2, "sandbox.keep_idle: nan is below the minimum 1s")
        assertConfigError("[sandbox]\nkeep_idle = \"2h\"\n", line: 2, "sandbox.keep_idle: 2h is above the maximum 1h")
        XCTAssertEqual(assertParses("[sandbox]\nkeep_idle = 2\n")?.keepIdleSeconds, 2)
        XCTAssertEqual(assertParses("[sandbox]\nkeep_idle = \"1h\"\n")?.keepIdleSeconds, 3600)
    }

    func testCaps() {
        for key in ["concurrent_runs", "runs_per_hour", "user_concurrent_runs", "user_runs_per_hour"] {
            assertConfigError("[caps]\n\(key) = 0\n", line: 2, "caps.\(key): 0 is below the minimum 1")
        }
        assertConfigError("[caps]\nmax_queued = -1\n", line: 2, "caps.max_queued: -1 is below the minimum 0")
        assertConfigError("[caps]\nover_cap = \"drop\"\n", line: 2, "caps.over_cap: 'drop' is not one of: queue, refuse")
        assertConfigError("[caps]\nover_cap = \"Queue\"\n", line: 2, "caps.over_cap: 'Queue' is not one of: queue, refuse")
        XCTAssertEqual(assertParses("[caps]\nover_cap = \"refuse\"\n")?.overCap, .refuse)
    }

    func testShutdown() {
        assertConfigError("[shutdown]\nruns = \"kill\"\n", line: 2, "shutdown.runs: 'kill' is not one of: cancel, wait")
        assertConfigError("[shutdown]\ngrace = \"2h\"\n", line: 2, "shutdown.grace: 2h is above the maximum 1h")
        assertConfigError("[shutdown]\ngrace = 3601\n", line: 2, "shutdown.grace: 3601s is above the maximum 1h")
        assertConfigError("[shutdown]\ngrace = -1\n", line: 2, "shutdown.grace: -1s is below the minimum 0s")
        assertConfigError("[shutdown]\ngrace = nan\n", line: 2, "shutdown.grace: nan is below the minimum 0s")
        assertConfigError("[shutdown]\ngrace = inf\n", line: 2, "shutdown.grace: inf is above the maximum 1h")
        assertConfigError("[shutdown]\ngrace = \"soon\"\n", line: 2,
                          "shutdown.grace: invalid duration 'soon' (for example \"90s\", \"10m\", \"1.5h\", or a number of seconds)")
        XCTAssertEqual(assertParses("[shutdown]\nruns = \"wait\"\n")?.shutdown, .wait)
    }

    func testLogs() {
        assertConfigError("[logs]\nmax_bytes = \"32KiB\"\n", line: 2, "logs.max_bytes: 32 KiB is below the minimum 64 KiB")
        assertConfigError("[logs]\nmax_bytes = 65000\n", line: 2, "logs.max_bytes: 63.48 KiB is below the minimum 64 KiB")
        assertConfigError("[logs]\nmax_bytes = -1\n", line: 2, "logs.max_bytes: -1 is negative")
        assertConfigError("[logs]\nmax_bytes = \"lots\"\n", line: 2,
                          "logs.max_bytes: invalid size 'lots' (for example \"512MiB\", \"4GiB\", \"100M\", or a number of bytes)")
        XCTAssertEqual(assertParses("[logs]\nmax_bytes = \"64KiB\"\n")?.logOutputBytes, 64 << 10)
    }

    func testDocumentProblems() {
        assertConfigError("[socket]\npath = \"/run/x.sock\"\nmode = \n", line: 3, "TOML syntax error", contains: true)
        assertConfigError("[socket]\npath = \"/run/x.sock\"\npath = \"/run/y.sock\"\n", line: 3, "TOML syntax error", contains: true)
        assertConfigError("[socket]\ngroup = \"a\\u0000b\"\n", line: 2, "NUL characters are not allowed (raw or as \\u0000)")
        assertConfigError(String(repeating: "#\n", count: 600 * 1024), line: nil, "file is larger than 1 MiB")
    }

    // MARK: - load

    private var directory = ""

    override func setUpWithError() throws {
        var template = Array("/tmp/glovebox-config-tests-XXXXXX".utf8CString)
        guard let path = mkdtemp(&template) else { throw XCTSkip("mkdtemp failed") }
        directory = String(cString: path)
    }

    override func tearDown() {
        guard !directory.isEmpty, let handle = opendir(directory) else { return }
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != ".", name != ".." {
                let path = directory + "/" + name
                if unlink(path) != 0 { rmdir(path) }
            }
        }
        closedir(handle)
        rmdir(directory)
    }

    private func write(_ name: String, _ bytes: [UInt8]) {
        let fd = open(directory + "/" + name, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        XCTAssertGreaterThanOrEqual(fd, 0)
        XCTAssertEqual(bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }, bytes.count)
        close(fd)
    }

    private func assertLoadError(_ path: String, explicit: Bool, _ message: String,
                                 file: StaticString = #filePath, at: UInt = #line) {
        do {
            let config = try DaemonConfig.load(path: path, explicit: explicit)
            XCTFail("expected an error, loaded \(config)", file: file, line: at)
        } catch {
            XCTAssertEqual(error.file, path, file: file, line: at)
            XCTAssertEqual(error.message, message, file: file, line: at)
        }
    }

    func testLoadOfAMissingFile() throws {
        let missing = directory + "/gloveboxd.toml"
        XCTAssertEqual(try DaemonConfig.load(path: missing, explicit: false), DaemonConfig(),
                       "no file where the default path is looked up: all defaults")
        XCTAssertEqual(try DaemonConfig.load(path: directory + "/absent/gloveboxd.toml", explicit: false), DaemonConfig(),
                       "nor its directory")
        assertLoadError(missing, explicit: true, "cannot open: No such file or directory")
        // A dangling symbolic link is not a missing file: someone meant to configure something.
        XCTAssertEqual(symlink(directory + "/elsewhere.toml", directory + "/link.toml"), 0)
        assertLoadError(directory + "/link.toml", explicit: false, "cannot open: No such file or directory")
    }

    func testLoadReadsAndValidatesTheFile() throws {
        write("gloveboxd.toml", Array("[caps]\nconcurrent_runs = 4\n".utf8))
        for explicit in [false, true] {
            let config = try DaemonConfig.load(path: directory + "/gloveboxd.toml", explicit: explicit)
            XCTAssertEqual(config.maxConcurrentRuns, 4)
        }
        write("bad.toml", Array("[caps]\nconcurrent_runs = 0\n".utf8))
        do {
            _ = try DaemonConfig.load(path: directory + "/bad.toml", explicit: false)
            XCTFail("expected an error")
        } catch {
            XCTAssertEqual(error.description, directory + "/bad.toml:2: caps.concurrent_runs: 0 is below the minimum 1")
        }
    }

    func testLoadRefusesLargeNonRegularAndNonUTF8Files() {
        write("big.toml", Array(String(repeating: "#\n", count: 600 * 1024).utf8))
        assertLoadError(directory + "/big.toml", explicit: true, "file is larger than 1 MiB")
        mkdir(directory + "/dir.toml", 0o755)
        assertLoadError(directory + "/dir.toml", explicit: false, "not a regular file")
        write("latin1.toml", [0x23, 0xe9, 0x0a])
        assertLoadError(directory + "/latin1.toml", explicit: true, "not valid UTF-8")
    }

    // MARK: - The shipped example

    /// systemd/gloveboxd.toml, from the repository root.
    private func shippedExample() throws -> (path: String, text: String) {
        var components = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        components.removeLast(3)  // Tests/PolicyTests/DaemonConfigTests.swift
        let path = components.joined(separator: "/") + "/systemd/gloveboxd.toml"
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw XCTSkip("cannot open \(path)") }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        return (path, String(decoding: bytes, as: UTF8.self))
    }

    func testShippedExampleIsTheDefaults() throws {
        let (path, text) = try shippedExample()
        XCTAssertEqual(try DaemonConfig.parse(text, source: path), DaemonConfig())
        XCTAssertEqual(try DaemonConfig.load(path: path, explicit: true), DaemonConfig())
    }

    func testShippedExampleCommentedKeysAreValid() throws {
        // Uncommenting the commented-out keys ("# key = value") gives a file that still parses.
        let (path, text) = try shippedExample()
        var uncommented = 0
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> Substring in
            let body = line.dropFirst(2)
            guard line.hasPrefix("# "), let first = body.first, first.isLowercase, body.contains(" = ") else { return line }
            uncommented += 1
            return body
        }
        XCTAssertEqual(uncommented, 3, "socket.group, access.admin_group, gpus.devices")
        let config = try DaemonConfig.parse(lines.joined(separator: "\n"), source: path)
        XCTAssertEqual(config.socketGroup, "glovebox")
        XCTAssertEqual(config.adminGroup, "glovebox-admin")
        XCTAssertEqual(config.gpus, ["/dev/nvidia0", "/dev/nvidia1"])
    }
}
