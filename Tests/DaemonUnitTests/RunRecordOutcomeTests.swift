import Foundation
import PolicyModel
import RecordModel
import Records
@testable import Sandbox
import Testing
@testable import Supervisor

/// How a run's end becomes its record, without running anything.
struct RunRecordOutcomeTests {
    static let limits = Limits(timeoutSeconds: 600, memoryBytes: 1 << 30, pids: 64, cpus: 1, storageBytes: 512 << 20, gpus: 0)

    static func ended(_ ending: RunOutcome.Ending, stats: CgroupStats = CgroupStats(), storageFull: Bool = false, shmFull: Bool = false,
                      survivors: Bool = false, wall: Double = 12.5) -> RunRecord {
        var outcome = RunOutcome(ending: ending, wallSeconds: wall, stats: stats, storageFull: storageFull)
        outcome.shmFull = shmFull
        outcome.survivors = survivors
        var record = RunRecord(template: "python", policyDigest: "d", clientUID: 1000, clientPID: 42, argv: ["python3"], startedAt: 100)
        record.end(with: outcome, limits: limits, at: 112.5)
        return record
    }

    @Test(arguments: [
        (RunOutcome.Ending.exited(0), RunStatus.ok, Int32?(0), Int32?.none, ""),
        (.exited(3), .exitedNonzero, 3, nil, ""),
        (.signaled(9), .signaled, nil, 9, ""),
        (.timeout, .timeout, nil, nil, "ended at the wall-clock limit of 10m"),
        (.outOfMemory, .oom, nil, nil, "ended at the memory limit of 1 GiB"),
        (.cancelled("killed by alice (uid 1000)"), .cancelled, nil, nil, "killed by alice (uid 1000)"),
        (.failed("poll: Bad file descriptor"), .internalError, nil, nil, "poll: Bad file descriptor"),
    ])
    func eachEndingHasItsStatus(ending: RunOutcome.Ending, status: RunStatus, exitCode: Int32?, signal: Int32?, message: String) {
        let record = Self.ended(ending)
        #expect(record.status == status)
        #expect(record.exitCode == exitCode)
        #expect(record.signal == signal)
        #expect(record.message == message)
        #expect(record.endedAt == 112.5)
        #expect(record.wallSeconds == 12.5)
    }

    @Test func theLimitsHitAreListedFromTheCgroupsCounters() {
        var stats = CgroupStats()
        stats.pidsLimitHits = 3
        stats.throttledSeconds = 5  // of 12.5 s: held back
        stats.peakMemoryBytes = 123 << 20
        let record = Self.ended(.exited(1), stats: stats, storageFull: true, shmFull: true)
        #expect(record.limitsHit == [.pids, .storage, .shm, .cpuThrottled])
        #expect(record.peakMemoryBytes == 123 << 20)
        #expect(Self.ended(.outOfMemory).limitsHit == [.memory], "an OOM end is a memory hit even before the counter shows it")
        var light = CgroupStats()
        light.throttledSeconds = 0.5
        #expect(Self.ended(.exited(0), stats: light).limitsHit == [], "throttled for under a tenth of the run: not named")
    }

    @Test func survivorsAreNamedAfterTheEnding() {
        let record = Self.ended(.timeout, survivors: true)
        #expect(record.message.hasPrefix("ended at the wall-clock limit of 10m; processes of the run did not die 5s after SIGKILL"))
        #expect(Self.ended(.exited(0), survivors: true).message.hasPrefix("processes of the run did not die"))
    }

    @Test func theClosingNotesNameTheHitsThenTheEnd() {
        var stats = CgroupStats()
        stats.pidsLimitHits = 1
        let record = Self.ended(.exited(2), stats: stats)
        #expect(record.closingNotes == [AuditNote(.limitHit, "pids"), AuditNote(.runFinished, "exited-nonzero exit 2")])
        #expect(Self.ended(.cancelled("cancelled by the client")).closingNotes == [AuditNote(.runCancelled, "cancelled: cancelled by the client")])
        #expect(Self.ended(.signaled(11)).closingNotes == [AuditNote(.runFinished, "signaled signal 11")])
    }

    @Test func aRunThatCouldNotStartIsRecordedByWhatStoppedIt() {
        let refused = StartFailure(SandboxError.invalid("the workdir's filesystem cannot be idmapped"))
        #expect(refused.status == .refused)
        #expect(refused.exitCode == nil)
        #expect(refused.message == "the workdir's filesystem cannot be idmapped")
        #expect(StartFailure(SandboxError.startTimedOut).status == .timeout)
        let missing = StartFailure(SandboxError.execFailed(program: "pyton3", errno: ENOENT))
        #expect(missing.status == .exitedNonzero)
        #expect(missing.exitCode == 127, "as a shell reports a missing program")
        #expect(StartFailure(SandboxError.execFailed(program: "./x", errno: EACCES)).exitCode == 126)
        #expect(StartFailure(SandboxError.launchFailed(step: "pivot_root", errno: EINVAL)).status == .internalError)
    }
}
