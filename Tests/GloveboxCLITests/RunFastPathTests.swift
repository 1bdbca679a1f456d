import ArgumentParser
import GloveboxProtocol
import PolicyModel
import XCTest
@testable import glovebox

/// The fast path must never change what a command line means: for every line it accepts, ArgumentParser
/// (the reference) must produce the same invocation; every line it declines goes to ArgumentParser.
final class RunFastPathTests: XCTestCase {
    override func setUp() {
        setenv("GLOVEBOX_FAST_PATH_TEST_VAR", "from-the-environment", 1)
        unsetenv("GLOVEBOX_SOCKET")
    }

    /// ArgumentParser's parse of `glovebox run ...`, as the executable would do it.
    private func reference(_ arguments: [String]) throws -> RunInvocation {
        guard let command = try Glovebox.parseAsRoot(arguments) as? RunCommand else {
            throw XCTSkip("not a run command")
        }
        return try RunInvocation(command)
    }

    private let accepted: [[String]] = [
        ["run", "--", "/bin/true"],
        ["run", "--", "python3", "-c", "print(1)", "--", "--help"],
        ["run", "--template", "python", "--", "/usr/bin/python3", "x.py"],
        ["run", "--template=python", "--timeout=90s", "--memory", "512MiB", "--", "/bin/sh", "-c", "echo $$"],
        ["run", "--workdir", "/tmp/w", "--output", "a", "--output=b/c", "--", "/bin/true"],
        ["run", "--pids", "12", "--cpus", "0.5", "--storage", "1GiB", "--gpus", "0", "--", "/bin/true"],
        ["run", "--env", "A=1", "--env=B=two=2", "--env", "GLOVEBOX_FAST_PATH_TEST_VAR", "--", "/usr/bin/env"],
        ["run", "--record", "/tmp/r.json", "--socket", "/tmp/s.sock", "--", "/bin/echo", "--record"],
        ["run", "--timeout", "2h", "--cpus", "2", "--", "-weird-program-name"],
    ]

    func testEveryLineTheFastPathAcceptsMeansWhatArgumentParserSays() throws {
        for line in accepted {
            let fast = try XCTUnwrap(RunFastPath.parse(line), "the fast path should take \(line)")
            XCTAssertEqual(fast, try reference(line), "\(line)")
        }
    }

    func testTheFastPathLeavesEverythingElseToArgumentParser() {
        let declined: [[String]] = [
            ["run", "--help"],
            ["run", "-h", "--", "/bin/true"],
            ["run", "--help", "--", "/bin/true"],
            ["run", "/bin/true"],                                   // no --
            ["run", "--"],                                          // no program
            ["run", "--template", "--", "/bin/true"],               // option without a value
            ["run", "--template", "a", "--template", "b", "--", "/bin/true"],  // repeated single option
            ["run", "--timeout", "soon", "--", "/bin/true"],        // not a duration
            ["run", "--memory", "lots", "--", "/bin/true"],
            ["run", "--pids", "many", "--", "/bin/true"],
            ["run", "--cpus", "1,5", "--", "/bin/true"],
            ["run", "--output", "a", "--", "/bin/true"],            // --output without --workdir
            ["run", "--env", "GLOVEBOX_FAST_PATH_NOT_SET_ANYWHERE", "--", "/bin/true"],
            ["run", "--verbose", "--", "/bin/true"],                // unknown option
            ["run", "--env", "-x", "--", "/bin/true"],              // a value that looks like an option
            ["run", "--template=", "--", "/bin/true"],
            ["ps"], ["show", "3"], [],
        ]
        for line in declined {
            XCTAssertNil(RunFastPath.parse(line), "\(line) should go to ArgumentParser")
        }
    }

    func testArgumentParserDecidesTheLinesTheFastPathDeclines() throws {
        // Declined lines are ArgumentParser's to accept or refuse, with its own messages: a repeated option
        // it takes, a bad duration or an --output without --workdir it refuses.
        XCTAssertNoThrow(try reference(["run", "--template", "a", "--template", "b", "--", "/bin/true"]))
        XCTAssertThrowsError(try reference(["run", "--timeout", "soon", "--", "/bin/true"]))
        XCTAssertThrowsError(try reference(["run", "--output", "a", "--", "/bin/true"]))
    }
}
