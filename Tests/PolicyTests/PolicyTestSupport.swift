import Policy
import XCTest

/// A valid policy with only the required keys; lines 1-6.
let minimalPolicy = """
[limits]
timeout = "10m"
memory = "1GiB"
pids = 64
cpus = 1
storage = "512MiB"

"""

extension XCTestCase {
    func parsePolicy(_ text: String, template: String = "t") throws(PolicyError) -> Policy {
        try Policy.parse(text, template: template, source: "policies/\(template).toml")
    }

    /// Asserts that parsing fails on `line` with exactly `message` (or, with `contains`, a message containing it).
    func assertPolicyError(_ text: String, line: Int?, _ message: String, contains: Bool = false,
                           template: String = "t", file: StaticString = #filePath, at: UInt = #line) {
        do {
            let policy = try parsePolicy(text, template: template)
            XCTFail("expected an error, parsed \(policy)", file: file, line: at)
        } catch {
            XCTAssertEqual(error.file, "policies/\(template).toml", file: file, line: at)
            XCTAssertEqual(error.line, line, "line of: \(error)", file: file, line: at)
            if contains {
                XCTAssertTrue(error.message.contains(message), "\(error.message) lacks \(message)", file: file, line: at)
            } else {
                XCTAssertEqual(error.message, message, file: file, line: at)
            }
        }
    }
}
