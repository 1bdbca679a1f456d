@testable import Sandbox
import XCTest

/// The pieces the seccomp filter is built from, checked without a kernel: the low-word comparisons that
/// stand for "none of these values", and the names resolved to numbers.
final class SeccompRulesTests: XCTestCase {
    /// Values around every member, every power of two and its neighbours, and a pseudo-random sample,
    /// each with several upper words.
    func samples(around members: Set<UInt32>) -> [UInt64] {
        var lows: Set<UInt32> = [0, 1, .max, .max - 1, 0x8000_0000]
        for m in members { lows.formUnion([m, m &+ 1, m &- 1, m ^ 0x8000_0000, m ^ 1]) }
        for b in 0..<32 { let p = UInt32(1) << UInt32(b); lows.formUnion([p, p &- 1, p &+ 1]) }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5000 { lows.insert(UInt32.random(in: 0...UInt32.max, using: &generator)) }
        let highs: [UInt64] = [0, 1 << 32, 0xffff_ffff << 32]
        return lows.flatMap { low in highs.map { $0 | UInt64(low) } }
    }

    func testOutsideBelowABoundMatchesOnlyValuesBelowIt() {
        for (allowed, bits) in [(SeccompProfile.allowedFamilies, 16), (SeccompProfile.allowedNetlinkProtocols, 5), ([SeccompProfile.unixFamily], 16)] {
            let rules = LowWord.outside(allowed, bits: bits)
            for value in samples(around: allowed) {
                let low = UInt32(truncatingIfNeeded: value)
                let expected = low >> UInt32(bits) == 0 && !allowed.contains(low) ? 1 : 0
                XCTAssertEqual(rules.filter { $0.matches(value) }.count, expected, "\(allowed) below 2^\(bits): \(String(value, radix: 16))")
            }
        }
    }

    func testOutsideMatchesEveryOtherValueExactlyOnce() {
        let sets: [Set<UInt32>] = [SeccompProfile.allowedFamilies, SeccompProfile.allowedNetlinkProtocols,
                                   SeccompProfile.allowedPersonalities, [], [0], [.max], [0x5412, 0x541C]]
        for allowed in sets {
            let rules = LowWord.outside(allowed)
            XCTAssertLessThanOrEqual(rules.count, 32 * max(allowed.count, 1) + 1)
            for value in samples(around: allowed) {
                let matches = rules.filter { $0.matches(value) }.count
                let inside = allowed.contains(UInt32(truncatingIfNeeded: value))
                XCTAssertEqual(matches, inside ? 0 : 1, "\(allowed): value \(String(value, radix: 16)) matched \(matches) rules")
            }
        }
    }

    func testEveryComparisonIgnoresTheUpperWord() {
        for rule in LowWord.outside(SeccompProfile.allowedFamilies) + SeccompProfile.deniedIoctls.map(LowWord.exactly) {
            let comparison = rule.comparison(argument: 0)
            XCTAssertEqual(comparison.datum_a >> 32, 0, "a mask with upper bits compares the upper word too")
            XCTAssertEqual(comparison.datum_b >> 32, 0)
        }
    }

    func testCallsNewerThanLibseccompResolveByNumber() throws {
        XCTAssertEqual(try SystemCallNumber.resolve("lsm_set_self_attr", origin: "a test"), 460)
        XCTAssertEqual(try SystemCallNumber.resolve("mseal", origin: "a test"), 462)
        XCTAssertEqual(try SystemCallNumber.resolve("socket", origin: "a test"), 41)
        XCTAssertNil(try SystemCallNumber.resolve("vm86", origin: "a test"), "an i386 call, not on x86_64")
    }

    func testAnUnknownNameFailsTheBuildNamingIt() {
        XCTAssertThrowsError(try SeccompProfile.build(extraDenied: ["no_such_call"])) { error in
            XCTAssertTrue("\(error)".contains("'no_such_call'"), "\(error)")
            XCTAssertTrue("\(error)".contains("the policy's deny list"), "\(error)")
        }
    }

    func testTheAllowListHasWhatEveryProgramNeedsAndNothingDenied() throws {
        let allowed = Set(SeccompAllowList.names), denied = Set(SeccompProfile.deniedSyscalls)
        XCTAssertEqual(allowed.intersection(denied), [], "a call both allowed and denied")
        XCTAssertEqual(SeccompAllowList.names.count, allowed.count, "a name listed twice")
        for name in ["execve", "exit_group", "arch_prctl", "rt_sigreturn", "restart_syscall", "futex", "mmap", "clone", "wait4"] {
            XCTAssertTrue(allowed.contains(name), name)
        }
        XCTAssertFalse(allowed.contains("clone3"), "ENOSYS, so that libc uses clone, whose flags are checked")
        for name in SeccompAllowList.names { XCTAssertNoThrow(try SystemCallNumber.resolve(name, origin: "a test"), name) }
    }

    func testTheProfileHoldsTwoFiltersEachAfterItsHeader() throws {
        let bpf = try SeccompProfile.build(extraDenied: ["mkdir"]).bpf
        var at = 0, filters = 0
        while at < bpf.count {
            let count = Int(bpf[at + 4]) | Int(bpf[at + 5]) << 8 | Int(bpf[at + 6]) << 16 | Int(bpf[at + 7]) << 24
            XCTAssertGreaterThan(count, 0)
            at += 8 * (count + 1)
            filters += 1
        }
        XCTAssertEqual(at, bpf.count)
        XCTAssertEqual(filters, 2)
    }
}

