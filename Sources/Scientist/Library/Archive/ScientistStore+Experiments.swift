import Foundation
import RecordModel
import SQLiteSupport

/// An idea's experiments: one row per workspace, with how its loop ended.
public struct ExperimentRow: Sendable, Equatable, Codable {
    public var id: Int64
    public var ideaID: Int64
    public var launchID: Int64?
    public var workspace: String
    public var policy: String
    public var socket: String
    public var startedAt: Double
    public var finishedAt: Double?
    /// running, completed, failed, interrupted, budget exhausted
    public var status: String
    public var message: String?
}

/// One sandboxed run of an experiment: the baseline (number 0), an experiment run, or a plot.
public struct ExperimentRunRow: Sendable, Equatable, Codable {
    public enum Stage: String, Sendable, Codable { case baseline, experiment, plot }
    /// ok: it ran and its results were read; failed: it ran and failed, or its results were unusable; refused:
    /// gloveboxd refused it; cancelled: interrupted.
    public enum Outcome: String, Sendable, Codable { case ok, failed, refused, cancelled }

    public var id: Int64 = 0
    public var experimentID: Int64
    public var stage: Stage
    /// i of run_i.
    public var number: Int
    /// 1 for the first try at this number, 2 for the first retry, …
    public var attempt: Int
    public var run: SandboxRun
    public var commit: String
    /// The datasets' `means`, as JSON, when the run's results were read.
    public var metrics: String?
    /// The SHA-256 of each file the run brought back, by its path in the workspace ("run_1/final_info.json").
    public var outputs: [String: String] = [:]
    public var outcome: Outcome
    /// What the model was told about the run's failure, or "".
    public var message: String
    public var startedAt: Double
    public var finishedAt: Double
}

extension ScientistStore {
    /// The experiment of `workspace`, begun (or resumed: marked running again) by this launch.
    public func beginExperiment(ideaID: Int64, launchID: Int64?, workspace: String, policy: String,
                                socket: String) throws(SQLiteError) -> ExperimentRow {
        try write("begin experiment", """
            INSERT INTO experiments (idea_id, launch_id, workspace, policy, socket, started_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
            ON CONFLICT (workspace) DO UPDATE SET launch_id = ?2, policy = ?4, socket = ?5, status = 'running', finished_at = NULL, message = NULL
            """) { (s) throws(SQLiteError) in
            try s.bind(1, ideaID)
            try s.bind(2, launchID)
            try s.bind(3, workspace)
            try s.bind(4, policy)
            try s.bind(5, socket)
            try s.bind(6, Self.now)
        }
        guard let row = try experiment(workspace: workspace) else {
            throw SQLiteError(operation: "begin experiment", code: 1, message: "the row just written is missing", path: path)
        }
        return row
    }

    public func finishExperiment(_ id: Int64, status: String, message: String?) throws(SQLiteError) {
        try write("finish experiment", "UPDATE experiments SET finished_at = ?2, status = ?3, message = ?4 WHERE id = ?1") { (s) throws(SQLiteError) in
            try s.bind(1, id)
            try s.bind(2, Self.now)
            try s.bind(3, status)
            try s.bind(4, message)
        }
    }

    static let experimentColumns = "id, idea_id, launch_id, workspace, policy, socket, started_at, finished_at, status, message"

    public func experiment(workspace: String) throws(SQLiteError) -> ExperimentRow? {
        try read("read experiment", "SELECT \(Self.experimentColumns) FROM experiments WHERE workspace = ?1",
                 bind: { (s) throws(SQLiteError) in try s.bind(1, workspace) }, row: Self.experiment(from:)).first
    }

    /// An idea's experiments, oldest first (every idea's when nil).
    public func experiments(ideaID: Int64? = nil) throws(SQLiteError) -> [ExperimentRow] {
        try read("list experiments", "SELECT \(Self.experimentColumns) FROM experiments WHERE ?1 IS NULL OR idea_id = ?1 ORDER BY id",
                 bind: { (s) throws(SQLiteError) in try s.bind(1, ideaID) }, row: Self.experiment(from:))
    }

    static func experiment(from s: borrowing Statement) -> ExperimentRow {
        ExperimentRow(id: s.int64(0), ideaID: s.int64(1), launchID: s.optionalInt64(2), workspace: s.string(3), policy: s.string(4),
                      socket: s.string(5), startedAt: s.double(6), finishedAt: s.optionalDouble(7), status: s.string(8),
                      message: s.optionalString(9))
    }

    @discardableResult
    public func insertExperimentRun(_ row: ExperimentRunRow, launchID: Int64?) throws(SQLiteError) -> Int64 {
        let sql = """
        INSERT INTO experiment_runs (experiment_id, launch_id, stage, number, attempt, glovebox_run_id, status, exit_code, signal,
            wall_seconds, cpu_seconds, peak_memory_bytes, gpus, gpu_seconds, policy_digest, limits_hit, commit_hash, metrics, outcome,
            message, started_at, finished_at, outputs, machine)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24)
        """
        return try write("record experiment run", sql) { (s) throws(SQLiteError) in
            try s.bind(1, row.experimentID)
            try s.bind(2, launchID)
            try s.bind(3, row.stage.rawValue)
            try s.bind(4, Int64(row.number))
            try s.bind(5, Int64(row.attempt))
            try s.bind(6, row.run.runID)
            try s.bind(7, row.run.status)
            try s.bind(8, row.run.exitCode.map(Int64.init))
            try s.bind(9, row.run.signal.map(Int64.init))
            try s.bind(10, row.run.wallSeconds)
            try s.bind(11, row.run.cpuSeconds)
            try s.bind(12, row.run.peakMemoryBytes.map { Int64(clamping: $0) })
            try s.bind(13, Int64(row.run.gpus))
            try s.bind(14, row.run.gpuSeconds)
            try s.bind(15, row.run.policyDigest)
            try s.bind(16, row.run.limitsHit.joined(separator: ","))
            try s.bind(17, row.commit)
            try s.bind(18, row.metrics)
            try s.bind(19, row.outcome.rawValue)
            try s.bind(20, row.message)
            try s.bind(21, row.startedAt)
            try s.bind(22, row.finishedAt)
            try s.bind(23, Self.json(row.outputs))
            try s.bind(24, row.run.machine.flatMap { try? JSONEncoder().encode($0) }.map { String(decoding: $0, as: UTF8.self) })
        }
    }

    /// An experiment's runs in the order they ran.
    public func experimentRuns(experimentID: Int64) throws(SQLiteError) -> [ExperimentRunRow] {
        let sql = """
        SELECT id, experiment_id, stage, number, attempt, glovebox_run_id, status, exit_code, signal, wall_seconds, cpu_seconds,
               peak_memory_bytes, gpus, gpu_seconds, policy_digest, limits_hit, commit_hash, metrics, outcome, message, started_at, finished_at,
               outputs, machine
        FROM experiment_runs WHERE experiment_id = ?1 ORDER BY id
        """
        return try read("list experiment runs", sql, bind: { (s) throws(SQLiteError) in try s.bind(1, experimentID) }) { (s) throws(SQLiteError) in
            let limits = s.string(15)
            let run = SandboxRun(runID: s.optionalInt64(5), status: s.string(6), exitCode: s.optionalInt64(7).map { Int32(truncatingIfNeeded: $0) },
                                 signal: s.optionalInt64(8).map { Int32(truncatingIfNeeded: $0) }, wallSeconds: s.optionalDouble(9),
                                 cpuSeconds: s.optionalDouble(10), peakMemoryBytes: s.optionalInt64(11).map { UInt64(clamping: $0) },
                                 gpus: Int(s.int64(12)), gpuSeconds: s.optionalDouble(13), policyDigest: s.string(14),
                                 limitsHit: limits.isEmpty ? [] : limits.split(separator: ",").map(String.init), limits: [:],
                                 message: "", stderrTail: "",
                                 machine: s.optionalString(23).flatMap { try? JSONDecoder().decode(MachineFacts.self, from: Data($0.utf8)) })
            return ExperimentRunRow(id: s.int64(0), experimentID: s.int64(1), stage: ExperimentRunRow.Stage(rawValue: s.string(2)) ?? .experiment,
                                    number: Int(s.int64(3)), attempt: Int(s.int64(4)), run: run, commit: s.string(16),
                                    metrics: s.optionalString(17), outputs: Self.dictionary(s.string(22)),
                                    outcome: ExperimentRunRow.Outcome(rawValue: s.string(18)) ?? .failed,
                                    message: s.string(19), startedAt: s.double(20), finishedAt: s.double(21))
        }
    }
}

/// What the software probe measured for an experiment: its JSON facts, or why there are none.
public struct SoftwareProbeRow: Sendable, Equatable, Codable {
    public var experimentID: Int64
    public var runID: Int64?
    public var policyDigest: String
    public var createdAt: Double
    /// The probe's JSON (python, packages, torch), nil when it failed.
    public var facts: String?
    /// Empty when the facts were read.
    public var problem: String
}

extension ScientistStore {
    public func insertSoftwareProbe(_ row: SoftwareProbeRow) throws(SQLiteError) {
        try write("record the software probe", """
            INSERT INTO software_probes (experiment_id, glovebox_run_id, policy_digest, created_at, facts, problem)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6)
            """) { (s) throws(SQLiteError) in
            try s.bind(1, row.experimentID)
            try s.bind(2, row.runID)
            try s.bind(3, row.policyDigest)
            try s.bind(4, row.createdAt)
            try s.bind(5, row.facts)
            try s.bind(6, row.problem)
        }
    }

    /// An experiment's probes, newest last.
    public func softwareProbes(experimentID: Int64) throws(SQLiteError) -> [SoftwareProbeRow] {
        try read("list software probes", """
            SELECT experiment_id, glovebox_run_id, policy_digest, created_at, facts, problem FROM software_probes
            WHERE experiment_id = ?1 ORDER BY id
            """, bind: { (s) throws(SQLiteError) in try s.bind(1, experimentID) }) { (s) throws(SQLiteError) in
            SoftwareProbeRow(experimentID: s.int64(0), runID: s.optionalInt64(1), policyDigest: s.string(2), createdAt: s.double(3),
                             facts: s.optionalString(4), problem: s.string(5))
        }
    }
}

extension ScientistStore {
    static func json(_ dictionary: [String: String]) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: dictionary, options: [.sortedKeys]) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    static func dictionary(_ text: String) -> [String: String] {
        ((try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: String]) ?? [:]
    }
}
