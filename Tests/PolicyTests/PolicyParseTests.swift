import Digests
import GloveboxSystem
import Policy
import XCTest

final class PolicyParseTests: XCTestCase {
    func testFullPolicyParsesEveryKey() throws {
        let text = """
        description = "Python experiments on CPU"

        [limits]
        timeout = "2h"          # string duration or number of seconds
        memory = "4GiB"         # string size or integer bytes
        pids = 512
        cpus = 2.0              # float or integer
        storage = "2GiB"
        gpus = 1
        output_file = "64MiB"

        [filesystem]
        read_only = ["/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc/alternatives", "/etc/ssl/certs"]
        workdir = "/work"

        [environment]
        set = { PATH = "/usr/local/bin:/usr/bin:/bin", HOME = "/work", LANG = "C.UTF-8" }
        pass = ["TERM"]

        [access]
        users = ["*", "alice", "1001"]
        groups = ["research", "2000"]

        [seccomp]
        deny = ["socket", "ptrace"]
        """
        let policy = try parsePolicy(text, template: "python")
        XCTAssertEqual(policy, Policy(
            template: "python", digest: sha256Hex(Array(text.utf8)), description: "Python experiments on CPU",
            limits: Limits(timeoutSeconds: 7200, memoryBytes: 4 << 30, pids: 512, cpus: 2, storageBytes: 2 << 30,
                           gpus: 1, outputFileBytes: 64 << 20),
            readOnlyPaths: ["/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc/alternatives", "/etc/ssl/certs"],
            environment: ["PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/work", "LANG": "C.UTF-8"],
            passEnvironment: ["TERM"], users: ["*", "alice", "1001"], groups: ["research", "2000"],
            seccompDeny: ["socket", "ptrace"], workdir: "/work"))
    }

    func testMinimalPolicyGetsTheDefaults() throws {
        let policy = try parsePolicy(minimalPolicy)
        XCTAssertEqual(policy.template, "t")
        XCTAssertEqual(policy.description, "")
        XCTAssertEqual(policy.limits, Limits(timeoutSeconds: 600, memoryBytes: 1 << 30, pids: 64, cpus: 1,
                                             storageBytes: 512 << 20, gpus: 0, outputFileBytes: 256 << 20))
        XCTAssertEqual(policy.readOnlyPaths, ["/usr", "/lib", "/lib64", "/bin", "/sbin"])
        XCTAssertEqual(policy.workdir, "/workspace")
        XCTAssertEqual(policy.environment, [:])
        XCTAssertEqual(policy.passEnvironment, [])
        XCTAssertEqual(policy.users, [], "no access table means nobody but root")
        XCTAssertEqual(policy.groups, [])
        XCTAssertEqual(policy.seccompDeny, [])
    }

    func testDigestIsTheSHA256OfTheExactText() throws {
        let a = try parsePolicy(minimalPolicy)
        let b = try parsePolicy(minimalPolicy + "# a comment\n")
        XCTAssertEqual(a.digest, sha256Hex(Array(minimalPolicy.utf8)))
        XCTAssertNotEqual(a.digest, b.digest)
        XCTAssertEqual(a.digest.count, 64)
    }

    func testLimitsAcceptNumbersAsWellAsText() throws {
        let policy = try parsePolicy("""
        [limits]
        timeout = 90.5
        memory = 4194304
        pids = 1
        cpus = 0.5
        storage = 1048576
        output_file = 1
        """)
        XCTAssertEqual(policy.limits, Limits(timeoutSeconds: 90.5, memoryBytes: 4 << 20, pids: 1, cpus: 0.5,
                                             storageBytes: 1 << 20, gpus: 0, outputFileBytes: 1))
        XCTAssertEqual(try parsePolicy(minimalPolicy.replacingTimeout("3600")).limits.timeoutSeconds, 3600)
    }

    func testDottedKeysAndStandardSubtablesAreAccepted() throws {
        let policy = try parsePolicy("""
        limits.timeout = "1h"
        limits.memory = "1G"
        limits.pids = 10
        limits.cpus = 1
        limits.storage = "1G"

        [environment.set]
        HOME = "/workspace"
        "LANG" = "C"
        """)
        XCTAssertEqual(policy.limits.timeoutSeconds, 3600)
        XCTAssertEqual(policy.environment, ["HOME": "/workspace", "LANG": "C"])
    }

    // MARK: - Syntax

    func testSyntaxErrorReportsLineAndColumn() {
        assertPolicyError(minimalPolicy + "gpus = \n", line: 7, "TOML syntax error at column", contains: true)
        assertPolicyError("[limits]\ntimeout = \"10m\nmemory = 1\n", line: 2, "TOML syntax error", contains: true)
        assertPolicyError(minimalPolicy + "pids = 3\n", line: 7, "TOML syntax error", contains: true)
    }

    func testNulCharactersAreRefused() {
        assertPolicyError(minimalPolicy + "[environment]\nset = { A = \"x\\u0000y\" }\n", line: 8,
                          "NUL characters are not allowed (raw or as \\u0000)")
        assertPolicyError(minimalPolicy + "description = \"a\0b\"\n", line: 7,
                          "NUL characters are not allowed (raw or as \\u0000)")
    }

    // MARK: - Unknown keys

    func testUnknownTopLevelKeyNamesTheKnownKeys() {
        assertPolicyError("colour = \"blue\"\n" + minimalPolicy, line: 1,
                          "unknown key 'colour' (known: description, limits, filesystem, environment, access, seccomp, lifetime, caps)")
    }

    func testUnknownTableIsReportedAtItsHeader() {
        assertPolicyError(minimalPolicy + "\n[network]\nallow = true\n", line: 8,
                          "unknown table [network] (known: description, limits, filesystem, environment, access, seccomp, lifetime, caps)")
    }

    func testUnknownKeyInATableIsReportedWithItsFullName() throws {
        let text = minimalPolicy.replacingOccurrences("memory = ", with: "memroy = ")
        assertPolicyError(text, line: 3,
                          "unknown key 'limits.memroy' (known: timeout, memory, pids, cpus, storage, gpus, output_file, log, shm)")
        do {
            _ = try parsePolicy(text)
        } catch {
            XCTAssertEqual(error.description, "policies/t.toml:3: unknown key 'limits.memroy' "
                + "(known: timeout, memory, pids, cpus, storage, gpus, output_file, log, shm)")
        }
    }

    func testTheUnknownKeyEarliestInTheFileIsReported() {
        let text = minimalPolicy + """
        [filesystem]
        read_onyl = []
        [access]
        user = ["*"]
        """
        assertPolicyError(text, line: 8, "unknown key 'filesystem.read_onyl' (known: read_only, workdir)")
        assertPolicyError("[access]\n# users\n  'user' = []\n", line: 3, "unknown key 'access.user' (known: users, groups)")
    }

    // MARK: - Types

    func testWrongTypesNameTheExpectedAndFoundTypes() {
        assertPolicyError(minimalPolicy.replacingOccurrences("pids = 64", with: "pids = \"64\""), line: 4,
                          "limits.pids: expected an integer, found a string")
        assertPolicyError(minimalPolicy.replacingOccurrences("pids = 64", with: "pids = 6.4"), line: 4,
                          "limits.pids: expected an integer, found a float")
        assertPolicyError(minimalPolicy.replacingOccurrences("cpus = 1", with: "cpus = \"1\""), line: 5,
                          "limits.cpus: expected a number, found a string")
        assertPolicyError(minimalPolicy.replacingOccurrences("memory = \"1GiB\"", with: "memory = 1.5"), line: 3,
                          "limits.memory: expected a size string or an integer number of bytes, found a float")
        assertPolicyError(minimalPolicy.replacingTimeout("true"), line: 2,
                          "limits.timeout: expected a duration string or a number of seconds, found a boolean")
        assertPolicyError("description = 3\n" + minimalPolicy, line: 1, "description: expected a string, found an integer")
        assertPolicyError("limits = 5\n", line: 1, "limits: expected a table, found an integer")
        assertPolicyError(minimalPolicy + "[filesystem]\nread_only = \"/usr\"\n", line: 8,
                          "filesystem.read_only: expected an array of strings, found a string")
        assertPolicyError(minimalPolicy + "[environment]\nset = { HOME = 1 }\n", line: 8,
                          "environment.set.HOME: expected a string, found an integer")
        assertPolicyError(minimalPolicy + "[environment]\nset = [\"HOME\"]\n", line: 8,
                          "environment.set: expected a table, found an array")
        assertPolicyError(minimalPolicy + "[access]\nusers = [\"*\", 1000]\n", line: 8,
                          "access.users[1]: expected a string, found an integer")
    }

    func testWrongTypeInAMultiLineArrayIsReportedAtTheElement() {
        let text = minimalPolicy + """
        [filesystem]
        read_only = [
            "/usr",   # the system
            # a comment line
            ["/lib"],
        ]
        """
        assertPolicyError(text, line: 11, "filesystem.read_only[1]: expected a string, found an array")
    }

    // MARK: - Values and ranges

    func testInvalidSizesAndDurationsAreExplained() {
        assertPolicyError(minimalPolicy.replacingOccurrences("\"1GiB\"", with: "\"lots\""), line: 3,
                          "limits.memory: invalid size 'lots' (for example \"512MiB\", \"4GiB\", \"100M\", or a number of bytes)")
        assertPolicyError(minimalPolicy.replacingTimeout("\"soon\""), line: 2,
                          "limits.timeout: invalid duration 'soon' (for example \"90s\", \"10m\", \"1.5h\", or a number of seconds)")
        assertPolicyError(minimalPolicy.replacingOccurrences("\"1GiB\"", with: "-1"), line: 3, "limits.memory: -1 is negative")
    }

    func testValuesOutOfRangeAreRefused() {
        let cases: [(String, String, Int, String)] = [
            ("memory = \"1GiB\"", "memory = \"1KiB\"", 3, "limits.memory: 1 KiB is below the minimum 4 MiB"),
            ("timeout = \"10m\"", "timeout = \"31d\"", 2, "limits.timeout: 31d is above the maximum 30d"),
            ("timeout = \"10m\"", "timeout = 0", 2, "limits.timeout: 0s must be greater than 0"),
            ("timeout = \"10m\"", "timeout = -1", 2, "limits.timeout: -1s must be greater than 0"),
            ("timeout = \"10m\"", "timeout = inf", 2, "limits.timeout: inf is above the maximum 30d"),
            ("timeout = \"10m\"", "timeout = nan", 2, "limits.timeout: nan must be greater than 0"),
            ("cpus = 1", "cpus = inf", 5, "limits.cpus: inf is above the maximum 1024"),
            ("pids = 64", "pids = 0", 4, "limits.pids: 0 is below the minimum 1"),
            ("pids = 64", "pids = 4194305", 4, "limits.pids: 4194305 is above the maximum 4194304"),
            ("cpus = 1", "cpus = 0", 5, "limits.cpus: 0 must be greater than 0"),
            ("cpus = 1", "cpus = 1024.5", 5, "limits.cpus: 1024.5 is above the maximum 1024"),
            ("cpus = 1", "cpus = nan", 5, "limits.cpus: nan must be greater than 0"),
            ("storage = \"512MiB\"", "storage = \"512KiB\"", 6, "limits.storage: 512 KiB is below the minimum 1 MiB"),
            ("storage = \"512MiB\"", "storage = \"1MiB\"\ngpus = -1", 7, "limits.gpus: -1 is below the minimum 0"),
            ("storage = \"512MiB\"", "storage = \"1MiB\"\noutput_file = 0", 7, "limits.output_file: 0 B is below the minimum 1 B"),
        ]
        for (old, new, line, message) in cases {
            assertPolicyError(minimalPolicy.replacingOccurrences(old, with: new), line: line, message)
        }
    }

    func testMissingRequiredLimitsAreNamed() {
        assertPolicyError("description = \"x\"\n\n[limits]\ntimeout = 5\n", line: 3, "limits: missing required key 'memory'")
        assertPolicyError(minimalPolicy.replacingOccurrences("storage = \"512MiB\"", with: ""), line: 1,
                          "limits: missing required key 'storage'")
        assertPolicyError("description = \"no limits\"\n", line: nil,
                          "missing required table [limits] (timeout, memory, pids, cpus, storage)")
    }

    // MARK: - Paths

    func testReadOnlyPathsMustBeNormalizedAbsoluteAndAllowed() {
        let cases: [(String, String)] = [
            ("usr", "'usr' is not absolute"),
            ("/usr/", "'/usr/' has a trailing '/'"),
            ("/usr//lib", "'/usr//lib' contains '//'"),
            ("/usr/./lib", "'/usr/./lib' contains a '.' or '..' component"),
            ("/usr/../etc", "'/usr/../etc' contains a '.' or '..' component"),
            ("/", "'/' is the root directory"),
            ("/proc", "'/proc' is within /proc, which is not allowed"),
            ("/dev/shm", "'/dev/shm' is within /dev, which is not allowed"),
            ("/sys/fs", "'/sys/fs' is within /sys, which is not allowed"),
            ("/tmp", "'/tmp' is within /tmp, which is not allowed"),
            ("/run/user/1000", "'/run/user/1000' is within /run, which is not allowed"),
            ("/workspace/data", "'/workspace/data' is within the workdir /workspace"),
            ("/usr", "'/usr' is listed twice"),
        ]
        for (path, reason) in cases {
            let text = minimalPolicy + "[filesystem]\nread_only = [\n  \"/usr\",\n  \"\(path)\",\n]\n"
            assertPolicyError(text, line: 10, "filesystem.read_only[1]: \(reason)")
        }
    }

    func testReadOnlyPathsThatMerelyShareAPrefixAreAllowed() throws {
        let policy = try parsePolicy(minimalPolicy + "[filesystem]\nread_only = [\"/procedures\", \"/tmpl\", \"/opt/workspace\"]\n")
        XCTAssertEqual(policy.readOnlyPaths, ["/procedures", "/tmpl", "/opt/workspace"])
    }

    func testAtMost64ReadOnlyPaths() throws {
        let paths = (0..<65).map { "\"/opt/p\($0)\"" }
        assertPolicyError(minimalPolicy + "[filesystem]\nread_only = [\(paths.joined(separator: ", "))]\n", line: 8,
                          "filesystem.read_only: has 65 entries, at most 64 are allowed")
        let ok = try parsePolicy(minimalPolicy + "[filesystem]\nread_only = [\(paths.dropLast().joined(separator: ", "))]\n")
        XCTAssertEqual(ok.readOnlyPaths.count, 64)
    }

    func testWorkdirRules() throws {
        let cases: [(String, String)] = [
            ("workspace", "'workspace' is not absolute"),
            ("/", "'/' is the root directory"),
            ("/workspace/", "'/workspace/' has a trailing '/'"),
            ("/tmp/w", "'/tmp/w' is within /tmp, which is not allowed"),
            ("/usr/local/w", "'/usr/local/w' is within /usr, which is not allowed"),
            ("/etc", "'/etc' is within /etc, which is not allowed"),
            ("/lib64/x", "'/lib64/x' is within /lib64, which is not allowed"),
            ("/proc/self", "'/proc/self' is within /proc, which is not allowed"),
        ]
        for (workdir, reason) in cases {
            assertPolicyError(minimalPolicy + "[filesystem]\nworkdir = \"\(workdir)\"\n", line: 8,
                              "filesystem.workdir: \(reason)")
        }
        let text = minimalPolicy + "[filesystem]\nworkdir = \"/home/w\"\nread_only = [\"/usr\", \"/home/w/x\"]\n"
        assertPolicyError(text, line: 9, "filesystem.read_only[1]: '/home/w/x' is within the workdir /home/w")
        XCTAssertEqual(try parsePolicy(minimalPolicy + "[filesystem]\nworkdir = \"/home/w\"\n").workdir, "/home/w")
    }

    // MARK: - Environment, access, seccomp

    func testEnvironmentNamesMustBeValid() {
        assertPolicyError(minimalPolicy + "[environment]\nset = { \"1X\" = \"a\" }\n", line: 8,
                          "environment.set.1X: '1X' is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*)")
        assertPolicyError(minimalPolicy + "[environment]\nset = { \"A-B\" = \"a\" }\n", line: 8,
                          "environment.set.A-B: 'A-B' is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*)")
        assertPolicyError(minimalPolicy + "[environment]\npass = [\"TERM\", \"NO SPACE\"]\n", line: 8,
                          "environment.pass[1]: 'NO SPACE' is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*)")
    }

    func testEnvironmentSetAndPassMustNotOverlap() {
        assertPolicyError(minimalPolicy + "[environment]\nset = { TERM = \"dumb\" }\npass = [\"TERM\"]\n", line: 9,
                          "environment.pass[0]: 'TERM' is also in environment.set; a variable is either set or passed")
    }

    func testEnvironmentSetAsAStandardTableReportsTheKeyLine() {
        assertPolicyError(minimalPolicy + "[environment.set]\nOK = \"1\"\n\"BAD NAME\" = \"2\"\n", line: 9,
                          "environment.set.BAD NAME: 'BAD NAME' is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*)")
    }

    func testAccessEntriesMustBeNamesOrIds() throws {
        assertPolicyError(minimalPolicy + "[access]\ngroups = [\"*\"]\n", line: 8,
                          "access.groups[0]: '*' is only allowed in access.users")
        assertPolicyError(minimalPolicy + "[access]\nusers = [\"bad user\"]\n", line: 8,
                          "access.users[0]: 'bad user' is not a valid name or numeric id")
        assertPolicyError(minimalPolicy + "[access]\nusers = [\"4294967295\"]\n", line: 8,
                          "access.users[0]: '4294967295' is not a valid numeric id")
        assertPolicyError(minimalPolicy + "[access]\nusers = [\"alice\", \"alice\"]\n", line: 8,
                          "access.users[1]: 'alice' is listed twice")
        let policy = try parsePolicy(minimalPolicy + "[access]\nusers = [\"0\", \"_svc\", \"m.x-y\", \"host$\"]\ngroups = [\"wheel\"]\n")
        XCTAssertEqual(policy.users, ["0", "_svc", "m.x-y", "host$"])
        XCTAssertEqual(policy.groups, ["wheel"])
    }

    func testSeccompNamesMustBeLowercaseIdentifiers() {
        assertPolicyError(minimalPolicy + "[seccomp]\ndeny = [\"socket\", \"Ptrace\"]\n", line: 8,
                          "seccomp.deny[1]: 'Ptrace' is not a valid system call name ([a-z0-9_]+)")
        assertPolicyError(minimalPolicy + "[seccomp]\ndeny = [\"\"]\n", line: 8,
                          "seccomp.deny[0]: '' is not a valid system call name ([a-z0-9_]+)")
    }

    // MARK: - File-level rules

    func testTemplateNamesAreChecked() throws {
        assertPolicyError(minimalPolicy, line: nil,
                          "invalid template name 'bad name': may contain only letters, digits, '_', '.' and '-'",
                          template: "bad name")
        assertPolicyError(minimalPolicy, line: nil, "invalid template name '.hidden': must start with a letter or digit",
                          template: ".hidden")
        assertPolicyError(minimalPolicy, line: nil, "invalid template name '\(String(repeating: "a", count: 65))': is longer than 64 characters",
                          template: String(repeating: "a", count: 65))
        XCTAssertEqual(try parsePolicy(minimalPolicy, template: "py-3.11_gpu").template, "py-3.11_gpu")
    }

    func testTextOverOneMiBIsRefused() {
        let text = minimalPolicy + "#" + String(repeating: "x", count: 1 << 20) + "\n"
        assertPolicyError(text, line: nil, "file is larger than 1 MiB")
    }
}

extension String {
    /// The first occurrence of `target` replaced (stdlib only; no Foundation).
    func replacingOccurrences(_ target: String, with replacement: String) -> String {
        replacing(target, with: replacement, maxReplacements: 1)
    }

    func replacingTimeout(_ value: String) -> String {
        replacingOccurrences("timeout = \"10m\"", with: "timeout = \(value)")
    }
}

extension PolicyParseTests {
    func testLifetimeAndCapsAreRead() throws {
        let text = """
        [limits]
        timeout = "1m"
        memory = "64MiB"
        pids = 8
        cpus = 1
        storage = "8MiB"

        [lifetime]
        on_disconnect = "cancel"

        [caps]
        concurrent_runs = 4
        user_runs_per_hour = 10
        over_cap = "refuse"
        """
        let policy = try Policy.parse(text, template: "t", source: "t.toml")
        XCTAssertEqual(policy.onDisconnect, .cancel)
        XCTAssertEqual(policy.caps, TemplateCaps(concurrentRuns: 4, userRunsPerHour: 10, overCap: .refuse))
        XCTAssertThrowsError(try Policy.parse(text.replacingOccurrences(of: "\"cancel\"", with: "\"stop\""), template: "t", source: "t.toml")) { error in
            XCTAssertEqual((error as? PolicyError)?.line, 9)
            XCTAssertTrue("\(error)".contains("'stop' is not one of: continue, cancel"), "\(error)")
        }
        XCTAssertThrowsError(try Policy.parse(text.replacingOccurrences(of: "concurrent_runs = 4", with: "concurrent_runs = 0"), template: "t", source: "t.toml")) { error in
            XCTAssertEqual((error as? PolicyError)?.line, 12)
        }
    }
}
