import GloveboxSystem
import Policy
import RecordModel
import Records
import Sandbox
#if canImport(Glibc)
import Glibc
#endif

/// How a run's end becomes its record: pure, so that it is tested without root (DaemonUnitTests).
extension RunRecord {
    /// The run's end as `outcome` says, under `limits`, at `endedAt` (wall-clock): its status, exit code or
    /// signal, usage, the limits it hit and the message its client is shown.
    mutating func end(with outcome: RunOutcome, limits: Limits, at endedAt: Double) {
        self.endedAt = endedAt
        wallSeconds = outcome.wallSeconds
        userCPUSeconds = outcome.stats.userCPUSeconds
        systemCPUSeconds = outcome.stats.systemCPUSeconds
        peakMemoryBytes = outcome.stats.peakMemoryBytes
        var hits: [LimitHit] = []
        if outcome.stats.oomKills > 0 || outcome.ending == .outOfMemory { hits.append(.memory) }
        if outcome.stats.pidsLimitHits > 0 { hits.append(.pids) }
        if outcome.storageFull { hits.append(.storage) }
        if outcome.shmFull { hits.append(.shm) }
        if outcome.cpuThrottled { hits.append(.cpuThrottled) }
        limitsHit = hits
        switch outcome.ending {
        case .exited(let code):
            exitCode = code
            status = code == 0 ? .ok : .exitedNonzero
        case .signaled(let number):
            signal = number
            status = .signaled
        case .timeout:
            status = .timeout
            message = "ended at the wall-clock limit of \(DurationText.format(limits.timeoutSeconds))"
        case .outOfMemory:
            status = .oom
            message = "ended at the memory limit of \(ByteSize.format(limits.memoryBytes))"
        case .cancelled(let reason):
            status = .cancelled
            message = reason
        case .failed(let why):
            status = .internalError
            message = why
        }
        if outcome.survivors {
            let note = "processes of the run did not die \(DurationText.format(SandboxRun.killGrace)) after SIGKILL (stuck in the kernel); "
                + "its sandbox uid stays out of use until they are gone"
            message = message.isEmpty ? note : message + "; " + note
        }
    }

    /// The audit events a finished record closes with, in one transaction with it: a limit hit for each
    /// limit the run hit, then its end (finished, or cancelled) with its status.
    var closingNotes: [AuditNote] {
        let kind: AuditKind = status == .cancelled ? .runCancelled : .runFinished
        let ending = exitCode.map { " exit \($0)" } ?? signal.map { " signal \($0)" } ?? ""
        return limitsHit.map { AuditNote(.limitHit, $0.rawValue) }
            + [AuditNote(kind, status.rawValue + ending + (message.isEmpty ? "" : ": \(message)"))]
    }
}

/// A run that could not start (its sandbox's preparation or launch threw), as its record says it.
struct StartFailure: Equatable {
    let status: RunStatus
    let exitCode: Int32?
    let message: String

    init(_ error: Error) {
        switch error {
        case SandboxError.invalid(let why):
            (status, exitCode, message) = (.refused, nil, why)
        case SandboxError.startTimedOut:
            (status, exitCode, message) = (.timeout, nil, "\(error)")
        case SandboxError.execFailed(_, let err):
            // The program itself could not be executed: the caller's mistake, reported like a shell does.
            (status, exitCode, message) = (.exitedNonzero, err == ENOENT ? 127 : 126, "\(error)")
        default:
            (status, exitCode, message) = (.internalError, nil, "\(error)")
        }
    }
}
