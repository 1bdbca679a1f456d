import Foundation
import RecordModel

/// paper.json, beside the PDF: everything a reader, human or program, needs to check the paper against the
/// archive and gloveboxd's records. Every number the text states with what backs it, the figures with the
/// plot run that made them, the measured environment and the runs, the compute against the baseline, the
/// bibliography with where each entry came from, the checks left unresolved, and the model calls and their cost.
public struct PaperRecord: Codable, Sendable, Equatable {
    public static let currentFormat = 1

    public struct Idea: Codable, Sendable, Equatable {
        public var id: Int64
        public var name: String
        public var title: String
        public var template: String
    }

    public struct Experiment: Codable, Sendable, Equatable {
        public var id: Int64
        public var workspace: String
        public var policy: String
    }

    /// A run the paper rests on, as the archive and gloveboxd recorded it.
    public struct Run: Codable, Sendable, Equatable {
        public var number: Int
        public var gloveboxRunID: Int64?
        public var commit: String
        public var status: String
        public var wallSeconds: Double?
        public var cpuSeconds: Double?
        public var gpuSeconds: Double?
        public var peakMemoryBytes: UInt64?
        public var policyDigest: String
        public var metrics: String?
        /// path in the workspace → SHA-256, as the run brought them back.
        public var outputs: [String: String]
        public var machine: MachineFacts?
    }

    public struct Figure: Codable, Sendable, Equatable {
        public var file: String
        public var sha256: String?
        /// The gloveboxd run of plot.py that made it.
        public var gloveboxRunID: Int64?
        public var used: Bool
    }

    public struct Manifest: Codable, Sendable, Equatable {
        public var gpus: [String]
        public var gpuCount: Int
        public var cpu: String
        public var versions: [String: String]
        public var software: String?
        public var softwareRunID: Int64?
        public var runs: [Run]
    }

    public struct CitationRound: Codable, Sendable, Equatable {
        public var round: Int
        public var query: String
        public var found: [String]
        public var added: [String]
        public var problem: String?
    }

    public struct Checks: Codable, Sendable, Equatable {
        /// Problems still there when the fix rounds ran out.
        public var unresolved: [String]
        public var fixRounds: Int
        public var chktexRounds: Int
        /// gloveboxd's run ids of the LaTeX compiles.
        public var compileRuns: [Int64]
        /// The compute flags, for the review.
        public var computeFlags: [ComputeReport.Flag]
    }

    public struct Cost: Codable, Sendable, Equatable {
        public var calls: [StoredCall]
        public var inputTokens: Int
        public var outputTokens: Int
        public var usd: Double
        /// Calls without a known price, not in `usd`.
        public var unpricedCalls: Int
    }

    public var format = PaperRecord.currentFormat
    public var createdAt: Double
    public var status: String
    public var idea: Idea
    public var experiment: Experiment
    /// The paper's files (template.tex, environment.tex, results.tex, compute.tex, template.pdf) → SHA-256.
    public var files: [String: String]
    public var manifest: Manifest
    public var compute: [ComputeReport.Row]
    public var claims: [PaperClaim]
    public var figures: [Figure]
    public var bibliography: [BibEntry]
    public var citationRounds: [CitationRound]
    public var checks: Checks
    public var cost: Cost

    public static let fileName = "paper.json"
    /// The paper's files whose digests paper.json holds.
    public static let trackedFiles = ["template.tex", "environment.tex", "results.tex", "compute.tex", "template.pdf"]

    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    public static func decode(_ data: Data) throws -> PaperRecord {
        let decoder = JSONDecoder()
        return try decoder.decode(PaperRecord.self, from: data)
    }

    /// The runs a paper rests on, from the archive's rows.
    static func runs(_ rows: [ExperimentRunRow]) -> [Run] {
        ProvenanceTeX.citable(rows).map { row in
            Run(number: row.number, gloveboxRunID: row.run.runID, commit: row.commit, status: row.run.status, wallSeconds: row.run.wallSeconds,
                cpuSeconds: row.run.cpuSeconds, gpuSeconds: row.run.gpuSeconds, peakMemoryBytes: row.run.peakMemoryBytes,
                policyDigest: row.run.policyDigest, metrics: row.metrics, outputs: row.outputs, machine: row.run.machine)
        }
    }

    static func manifest(_ claims: ClaimsManifest, rows: [ExperimentRunRow], software: SoftwareProbeRow?) -> Manifest {
        Manifest(gpus: claims.gpuNames, gpuCount: claims.gpuCount, cpu: claims.cpuModel, versions: claims.versions, software: software?.facts,
                 softwareRunID: software?.runID, runs: runs(rows))
    }
}
