import Digests
import Foundation
import GloveboxClient
import GloveboxSystem
import RecordModel

/// `scientist verify PAPER_DIR`: checks a written paper against what was measured. Its files against the
/// digests paper.json recorded; the runs paper.json names against the archive's rows and gloveboxd's own
/// records; the runs' outputs in the workspace against the digests taken when they came back; the generated
/// environment.tex, results.tex and compute.tex against what the archive gives now; and the text's numbers
/// and hardware and software claims against the measurement (the claims check). Every mismatch is named.
public struct PaperVerifier: Sendable {
    public let store: ScientistStore
    /// gloveboxd's socket; nil skips the daemon's records (said in the report).
    public let socket: String?

    public init(store: ScientistStore, socket: String?) { self.store = store; self.socket = socket }

    public struct Report: Sendable, Equatable {
        public var paper: String
        public var mismatches: [String] = []
        /// What was checked, one line each.
        public var checked: [String] = []
        /// What could not be checked, and why.
        public var unchecked: [String] = []
    }

    /// The paper's directory: `path` itself when it holds paper.json, else its latex/.
    public static func paperDirectory(_ path: String) -> String? {
        for candidate in [path, path + "/latex"] where FileManager.default.fileExists(atPath: candidate + "/" + PaperRecord.fileName) {
            return candidate
        }
        return nil
    }

    public func verify(_ path: String) throws(ScientistError) -> Report {
        guard let directory = Self.paperDirectory(path) else {
            throw .workspace("\(path) holds no paper.json (nor does \(path)/latex); give a paper's directory or its workspace")
        }
        let record: PaperRecord
        do { record = try PaperRecord.decode(try Data(contentsOf: URL(fileURLWithPath: directory + "/" + PaperRecord.fileName))) }
        catch { throw .workspace("\(directory)/paper.json cannot be read: \(error)") }
        var report = Report(paper: directory)

        // The paper's files, as the write-up left them.
        let now = Self.digests(of: directory)
        for name in record.files.keys.sorted() where now[name] != record.files[name] {
            report.mismatches.append(now[name] == nil ? "\(name): missing (paper.json has sha256 \(record.files[name]!.prefix(12))…)"
                                                      : "\(name): changed since the write-up (sha256 \(record.files[name]!.prefix(12))… then, \(now[name]!.prefix(12))… now)")
        }
        report.checked.append("\(record.files.count) file digests")

        // The runs, against the archive.
        let rows: [ExperimentRunRow]
        let software: SoftwareProbeRow?
        do {
            rows = try store.experimentRuns(experimentID: record.experiment.id)
            software = try store.softwareProbes(experimentID: record.experiment.id).last
        } catch { throw .archive(error) }
        let archived = PaperRecord.runs(rows)
        if archived != record.manifest.runs {
            for run in record.manifest.runs where !archived.contains(run) {
                report.mismatches.append("run_\(run.number) (gloveboxd run \(run.gloveboxRunID.map(String.init) ?? "?")): paper.json's record differs from the archive's")
            }
            if archived.count != record.manifest.runs.count {
                report.mismatches.append("paper.json names \(record.manifest.runs.count) run(s), the archive \(archived.count)")
            }
        }
        report.checked.append("\(archived.count) run(s) against the archive (\(store.path))")

        // The runs' outputs in the workspace, against their digests.
        var outputs = 0
        for run in archived {
            for (file, digest) in run.outputs.sorted(by: { $0.key < $1.key }) {
                outputs += 1
                let path = record.experiment.workspace + "/" + file
                guard let data = FileManager.default.contents(atPath: path) else {
                    report.mismatches.append("\(file): missing from the workspace (run_\(run.number) brought it back)")
                    continue
                }
                if sha256Hex(Array(data)) != digest { report.mismatches.append("\(file): changed since run_\(run.number) brought it back") }
            }
        }
        report.checked.append("\(outputs) output file(s) of the runs")

        // The generated files, against what the archive gives now.
        for (name, expected) in [("environment.tex", ProvenanceTeX.environment(runs: rows, software: software)),
                                 ("results.tex", ProvenanceTeX.results(runs: rows)), ("compute.tex", ComputeReport(runs: rows).tex)] {
            guard let text = try? String(contentsOfFile: directory + "/" + name, encoding: .utf8) else {
                report.mismatches.append("\(name): missing")
                continue
            }
            if let line = Self.firstDifference(text, expected) {
                report.mismatches.append("\(name) line \(line): differs from what the archive's runs give")
            }
        }
        report.checked.append("environment.tex, results.tex and compute.tex regenerated from the archive")

        // The text's claims, against the measurement.
        if let tex = try? String(contentsOfFile: directory + "/template.tex", encoding: .utf8) {
            let manifest = ClaimsManifest(runs: rows, software: software)
            report.mismatches += ClaimsCheck.findings(tex: tex, manifest: manifest).map { "template.tex line \($0.line): \($0.message)" }
            report.checked.append("the claims of template.tex")
        }

        // gloveboxd's own records.
        if let socket {
            var asked = 0
            for run in archived {
                guard let id = run.gloveboxRunID else { continue }
                do {
                    let daemon = try DaemonQueries.show(socketPath: socket, runID: id)
                    asked += 1
                    if daemon.status.rawValue != run.status { report.mismatches.append("run_\(run.number): gloveboxd's run \(id) is \(daemon.status.rawValue), the archive says \(run.status)") }
                    if daemon.wallSeconds != run.wallSeconds { report.mismatches.append("run_\(run.number): gloveboxd's run \(id) took \(daemon.wallSeconds.map { "\($0)" } ?? "?") s, the archive says \(run.wallSeconds.map { "\($0)" } ?? "?") s") }
                    if daemon.policyDigest != run.policyDigest { report.mismatches.append("run_\(run.number): gloveboxd's run \(id) ran under policy \(daemon.policyDigest.prefix(12))…, the archive says \(run.policyDigest.prefix(12))…") }
                } catch {
                    report.unchecked.append("run_\(run.number): gloveboxd at \(socket) could not show run \(id): \(error)")
                }
            }
            report.checked.append("\(asked) run(s) against gloveboxd's records")
        } else {
            report.unchecked.append("gloveboxd's records (no socket given)")
        }
        return report
    }

    /// The SHA-256 of each of the paper's tracked files present in `directory`.
    public static func digests(of directory: String) -> [String: String] {
        var digests: [String: String] = [:]
        for name in PaperRecord.trackedFiles {
            if let data = FileManager.default.contents(atPath: directory + "/" + name) { digests[name] = sha256Hex(Array(data)) }
        }
        return digests
    }

    /// The first line (1-based) where two texts differ, nil when they are the same.
    static func firstDifference(_ a: String, _ b: String) -> Int? {
        guard a != b else { return nil }
        let left = a.split(separator: "\n", omittingEmptySubsequences: false)
        let right = b.split(separator: "\n", omittingEmptySubsequences: false)
        for index in 0..<max(left.count, right.count) where index >= left.count || index >= right.count || left[index] != right[index] {
            return index + 1
        }
        return nil
    }
}
