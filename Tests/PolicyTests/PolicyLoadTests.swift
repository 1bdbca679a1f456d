import Glibc
import Policy
import XCTest

final class PolicyLoadTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        var template = Array("/tmp/glovebox-policy-tests-XXXXXX".utf8CString)
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

    private func write(_ name: String, _ text: String) {
        let fd = open(directory + "/" + name, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        XCTAssertGreaterThanOrEqual(fd, 0)
        let bytes = Array(text.utf8)
        XCTAssertEqual(bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }, bytes.count)
        close(fd)
    }

    func testLoadUsesTheBaseNameAsTemplateAndHashesTheBytes() throws {
        write("gpu-small.toml", minimalPolicy)
        let policy = try Policy.load(path: directory + "/gpu-small.toml")
        XCTAssertEqual(policy.template, "gpu-small")
        XCTAssertEqual(policy.digest, try parsePolicy(minimalPolicy).digest)
    }

    func testLoadReportsAMissingFile() {
        XCTAssertThrowsError(try Policy.load(path: directory + "/absent.toml")) { error in
            let error = error as! PolicyError
            XCTAssertEqual(error.file, directory + "/absent.toml")
            XCTAssertEqual(error.message, "cannot open: No such file or directory")
        }
    }

    func testLoadRefusesLargeAndNonRegularFiles() {
        write("big.toml", String(repeating: "#\n", count: 600 * 1024))
        XCTAssertThrowsError(try Policy.load(path: directory + "/big.toml")) { error in
            XCTAssertEqual((error as! PolicyError).message, "file is larger than 1 MiB")
        }
        mkdir(directory + "/dir.toml", 0o755)
        XCTAssertThrowsError(try Policy.load(path: directory + "/dir.toml")) { error in
            XCTAssertEqual((error as! PolicyError).message, "not a regular file")
        }
    }

    func testLoadDirectoryKeepsGoodFilesAndReportsBadOnes() {
        write("good.toml", minimalPolicy)
        write("bad.toml", minimalPolicy + "[limits2]\n")
        write("bad name.toml", minimalPolicy)
        write("README.md", "not a policy")
        let (policies, errors) = Policy.loadDirectory(directory)
        XCTAssertEqual(Array(policies.keys), ["good"])
        XCTAssertEqual(policies["good"]?.limits.pids, 64)
        XCTAssertEqual(errors.map(\.file), [directory + "/bad name.toml", directory + "/bad.toml"])
        XCTAssertEqual(errors.last?.line, 7)
        XCTAssertEqual(errors.last?.message,
                       "unknown table [limits2] (known: description, limits, filesystem, environment, access, seccomp, lifetime, caps)")
        XCTAssertTrue(errors.first?.message.hasPrefix("invalid template name 'bad name'") ?? false)
    }

    func testLoadDirectoryReportsAMissingDirectory() {
        let (policies, errors) = Policy.loadDirectory(directory + "/nope")
        XCTAssertTrue(policies.isEmpty)
        XCTAssertEqual(errors.count, 1)
        XCTAssertEqual(errors.first?.file, directory + "/nope")
    }

    func testShippedPoliciesParse() throws {
        let policies = Self.repositoryRoot() + "/policies"
        let (loaded, errors) = Policy.loadDirectory(policies)
        XCTAssertEqual(errors, [])
        XCTAssertEqual(Set(loaded.keys), ["default", "python", "toy_regression", "modular_arithmetic", "latex", "poppler"])

        let defaults = try XCTUnwrap(loaded["default"])
        XCTAssertEqual(defaults.limits, Limits(timeoutSeconds: 600, memoryBytes: 1 << 30, pids: 256, cpus: 1,
                                               storageBytes: 256 << 20, gpus: 0, outputFileBytes: 256 << 20))
        XCTAssertEqual(defaults.users, ["*"])
        XCTAssertEqual(defaults.readOnlyPaths, ["/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc/alternatives"])
        XCTAssertEqual(defaults.environment, ["PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/workspace",
                                              "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"])

        let python = try XCTUnwrap(loaded["python"])
        XCTAssertEqual(python.limits, Limits(timeoutSeconds: 7200, memoryBytes: 8 << 30, pids: 512, cpus: 2,
                                             storageBytes: 4 << 30, gpus: 0, outputFileBytes: 256 << 20))
        XCTAssertEqual(python.environment["MPLBACKEND"], "Agg")
        XCTAssertEqual(python.users, ["*"])
        XCTAssertEqual(python.readOnlyPaths, defaults.readOnlyPaths)

        // The PDF readers get nothing they do not need: no network, no GPU, read-only programs, short limits.
        let poppler = try XCTUnwrap(loaded["poppler"])
        XCTAssertEqual(poppler.limits, Limits(timeoutSeconds: 60, memoryBytes: 512 << 20, pids: 8, cpus: 1,
                                              storageBytes: 128 << 20, gpus: 0, outputFileBytes: 32 << 20))
        XCTAssertEqual(poppler.readOnlyPaths, ["/usr", "/lib", "/lib64", "/bin", "/etc/alternatives", "/etc/fonts"])
        XCTAssertEqual(try XCTUnwrap(loaded["latex"]).readOnlyPaths.last, "/etc/chktexrc")
    }

    /// The directory above Tests/ that holds policies/, found from this file's path.
    static func repositoryRoot(_ file: String = #filePath) -> String {
        var parts = file.split(separator: "/").map(String.init)
        while !parts.isEmpty {
            parts.removeLast()
            let candidate = "/" + parts.joined(separator: "/")
            if access(candidate + "/policies/default.toml", F_OK) == 0 { return candidate }
        }
        return "."
    }
}
