import Policy
import XCTest

final class LimitsTests: XCTestCase {
    private let policy = Limits(timeoutSeconds: 600, memoryBytes: 2 << 30, pids: 256, cpus: 2,
                                storageBytes: 1 << 30, gpus: 1, outputFileBytes: 64 << 20)

    func testEmptyRequestKeepsThePolicyLimits() throws {
        XCTAssertEqual(try policy.tightened(by: LimitRequest()), policy)
    }

    func testTighterRequestsAreAllowedOnEveryAxis() throws {
        let request = LimitRequest(timeoutSeconds: 60, memoryBytes: 512 << 20, pids: 16, cpus: 0.5,
                                   storageBytes: 100 << 20, gpus: 0)
        let effective = try policy.tightened(by: request)
        XCTAssertEqual(effective, Limits(timeoutSeconds: 60, memoryBytes: 512 << 20, pids: 16, cpus: 0.5,
                                         storageBytes: 100 << 20, gpus: 0, outputFileBytes: 64 << 20))
    }

    func testRequestsEqualToThePolicyAreAllowed() throws {
        let request = LimitRequest(timeoutSeconds: 600, memoryBytes: 2 << 30, pids: 256, cpus: 2,
                                   storageBytes: 1 << 30, gpus: 1)
        XCTAssertEqual(try policy.tightened(by: request), policy)
    }

    func testEachAxisCanBeTightenedAlone() throws {
        XCTAssertEqual(try policy.tightened(by: LimitRequest(timeoutSeconds: 1)).timeoutSeconds, 1)
        XCTAssertEqual(try policy.tightened(by: LimitRequest(memoryBytes: 4 << 20)).memoryBytes, 4 << 20)
        XCTAssertEqual(try policy.tightened(by: LimitRequest(pids: 1)).pids, 1)
        XCTAssertEqual(try policy.tightened(by: LimitRequest(cpus: 0.25)).cpus, 0.25)
        XCTAssertEqual(try policy.tightened(by: LimitRequest(storageBytes: 1 << 20)).storageBytes, 1 << 20)
        XCTAssertEqual(try policy.tightened(by: LimitRequest(gpus: 0)).gpus, 0)
    }

    func testLooserRequestsAreRefusedOnEveryAxis() {
        assertViolation(LimitRequest(timeoutSeconds: 7200), "timeout", "2h", "10m",
                        "requested timeout 2h exceeds the policy's 10m")
        assertViolation(LimitRequest(memoryBytes: 8 << 30), "memory", "8 GiB", "2 GiB",
                        "requested memory 8 GiB exceeds the policy's 2 GiB")
        assertViolation(LimitRequest(pids: 257), "pids", "257", "256",
                        "requested pids 257 exceeds the policy's 256")
        assertViolation(LimitRequest(cpus: 2.5), "cpus", "2.5", "2",
                        "requested cpus 2.5 exceeds the policy's 2")
        assertViolation(LimitRequest(storageBytes: 3 << 29), "storage", "1.5 GiB", "1 GiB",
                        "requested storage 1.5 GiB exceeds the policy's 1 GiB")
        assertViolation(LimitRequest(gpus: 2), "gpus", "2", "1",
                        "requested gpus 2 exceeds the policy's 1")
    }

    func testInvalidRequestsAreRefusedWithTheValidRange() {
        assertViolation(LimitRequest(timeoutSeconds: 0), "timeout", "0s", "more than 0s, at most 10m",
                        "requested timeout 0s is invalid (allowed: more than 0s, at most 10m)")
        assertViolation(LimitRequest(timeoutSeconds: -5), "timeout", "-5s", "more than 0s, at most 10m")
        assertViolation(LimitRequest(timeoutSeconds: .nan), "timeout", "nan", "more than 0s, at most 10m")
        assertViolation(LimitRequest(memoryBytes: 0), "memory", "0 B", "4 MiB to 2 GiB",
                        "requested memory 0 B is invalid (allowed: 4 MiB to 2 GiB)")
        assertViolation(LimitRequest(pids: 0), "pids", "0", "1 to 256")
        assertViolation(LimitRequest(cpus: 0), "cpus", "0", "more than 0, at most 2")
        assertViolation(LimitRequest(cpus: -1), "cpus", "-1", "more than 0, at most 2")
        assertViolation(LimitRequest(storageBytes: 0), "storage", "0 B", "1 MiB to 1 GiB")
        assertViolation(LimitRequest(gpus: -1), "gpus", "-1", "0 to 1")
    }

    func testTheFirstViolationInAxisOrderIsThrown() {
        assertViolation(LimitRequest(timeoutSeconds: 7200, memoryBytes: 8 << 30), "timeout", "2h", "10m")
        assertViolation(LimitRequest(memoryBytes: 8 << 30, gpus: 5), "memory", "8 GiB", "2 GiB")
        assertViolation(LimitRequest(pids: 1000, cpus: 64), "pids", "1000", "256")
        assertViolation(LimitRequest(cpus: 64, storageBytes: 0), "cpus", "64", "2")
        assertViolation(LimitRequest(storageBytes: 2 << 30, gpus: 2), "storage", "2 GiB", "1 GiB")
    }

    private func assertViolation(_ request: LimitRequest, _ limit: String, _ requested: String, _ allowed: String,
                                 _ description: String? = nil, file: StaticString = #filePath, line: UInt = #line) {
        do {
            let effective = try policy.tightened(by: request)
            XCTFail("expected a \(limit) violation, got \(effective)", file: file, line: line)
        } catch {
            XCTAssertEqual(error.limit, limit, file: file, line: line)
            XCTAssertEqual(error.requested, requested, file: file, line: line)
            XCTAssertEqual(error.allowed, allowed, file: file, line: line)
            if let description { XCTAssertEqual(error.description, description, file: file, line: line) }
        }
    }
}
