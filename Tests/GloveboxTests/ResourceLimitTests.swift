import CCap
@testable import Sandbox
import XCTest
@testable import GloveboxTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Every resource limit of a run is the daemon's choice, none inherited from the daemon.
final class ResourceLimitTests: FixturesTestCase {
    func testEveryResourceIsSetOnce() {
        let resources = RunResourceLimits.intended().map(\.resource)
        XCTAssertEqual(resources.sorted(), Array(0..<Int32(RunResourceLimits.count)))
    }

    /// The daemon is started with soft limits unlike a run's (within its hard ones, which without
    /// CAP_SYS_RESOURCE it could not raise again): a limit the setup child did not set would show them.
    func testARunHasItsOwnLimitsWhateverTheDaemonHas() throws {
        let f = try fixture()
        let inf = RunResourceLimits.unlimited
        // Daemon soft limits, each unlike the run's; "unlimited" hard limits stay as they are.
        f.launcher = ["/usr/bin/prlimit", "--cpu=3600:", "--fsize=1073741824:", "--data=68719476736:", "--stack=16777216:",
                      "--core=0:", "--rss=1073741824:", "--nproc=5000:", "--nofile=2048:", "--memlock=1048576:",
                      "--as=137438953472:", "--locks=1000:", "--sigpending=1000:", "--msgqueue=5000:", "--rttime=1000000:", "--"]
        try f.restart()
        let script = "import resource\nprint(' '.join(f'{s}/{h}' for s, h in (resource.getrlimit(r) for r in range(16))))"
        let outcome = f.run(["/usr/bin/python3", "-c", script], limits: .init(memoryBytes: 128 << 20, storageBytes: 64 << 20))
        XCTAssertEqual(outcome.record?.status, .ok, outcome.stderr + f.log)
        // What the daemon may give: its own hard limit where it cannot raise one (no CAP_SYS_RESOURCE).
        let privileged = HostCapabilities.has(CAP_SYS_RESOURCE)
        func ceiling(_ resource: Int32) -> UInt64 {
            var limit = rlimit()
            getrlimit(__rlimit_resource_t(UInt32(resource)), &limit)
            return privileged ? inf : UInt64(limit.rlim_max)
        }
        let intended: [(UInt64, UInt64)] = [
            (inf, inf), (inf, inf), (inf, inf), (8 << 20, inf), (1, 1), (inf, inf), (inf, inf),
            (4096, 4096), (64 << 20, 64 << 20), (inf, inf), (inf, inf), (16384, 16384), (819_200, 819_200), (0, 0), (0, 0), (inf, inf),
        ]
        func text(_ v: UInt64) -> String { v == inf ? "-1" : String(v) }
        let expected = intended.enumerated().map { r, limits in
            "\(text(min(limits.0, ceiling(Int32(r)))))/\(text(min(limits.1, ceiling(Int32(r)))))"
        }.joined(separator: " ")
        XCTAssertEqual(outcome.stdout.trimmingCharacters(in: .whitespacesAndNewlines), expected)
    }
}
