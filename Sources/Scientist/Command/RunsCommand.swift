import ArgumentParser
import Foundation
import Scientist

struct RunsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "List an idea's experiment runs (every idea's without IDEA).",
        discussion: """
        Each run: its number (run_i; 0 is the baseline), the attempt, gloveboxd's run id (glovebox show ID), its \
        status, exit code, wall and CPU time, GPU seconds, peak memory, the commit it ran, and its metrics.

        Examples:
          scientist runs sparse_targets
          scientist runs --json | jq '.[].runs[] | select(.outcome == "ok") | .metrics'
        """)

    @OptionGroup var common: CommonOptions

    @Argument(help: "The idea's name or id.")
    var idea: String?

    @Option(help: ArgumentHelp("Look the idea up in this template.", valueName: "T"))
    var template: String?

    @Flag(help: "JSON instead of a table.")
    var json = false

    struct Listing: Encodable {
        var idea: String
        var experiment: ExperimentRow
        /// The software probe's facts (JSON text), as measured in the sandbox.
        var software: SoftwareProbeRow?
        var runs: [ExperimentRunRow]
    }

    func run() throws {
        try reporting {
            let store = try common.store()
            var ideaID: Int64?
            if let idea {
                guard let found = try IdeaLookup.find(idea, template: template, in: store) else {
                    throw ScientistError.template("no idea \(idea) in \(store.path)")
                }
                ideaID = found.id
            }
            var listings: [Listing] = []
            for experiment in try store.experiments(ideaID: ideaID) {
                let name = try store.idea(id: experiment.ideaID)?.proposal.name ?? "#\(experiment.ideaID)"
                listings.append(Listing(idea: name, experiment: experiment, software: try store.softwareProbes(experimentID: experiment.id).last,
                                        runs: try store.experimentRuns(experimentID: experiment.id)))
            }
            if json { try JSONOutput.print(listings); return }
            guard !listings.isEmpty else { print(idea.map { "no experiments for \($0)" } ?? "no experiments"); return }
            for (index, listing) in listings.enumerated() {
                if index > 0 { print("") }
                print("\(listing.idea): \(listing.experiment.status)\(listing.experiment.message.map { " (\($0))" } ?? "")")
                print("  workspace \(listing.experiment.workspace), policy \(listing.experiment.policy)")
                if let software = listing.software { print("  software: " + ExperimentText.software(software)) }
                print(ExperimentText.table(listing.runs).split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
            }
        }
    }
}

enum ExperimentText {
    static func table(_ runs: [ExperimentRunRow]) -> String {
        guard !runs.isEmpty else { return "no runs yet" }
        var rows = [["RUN", "TRY", "GLOVEBOX", "STATUS", "EXIT", "WALL", "CPU", "GPU-S", "PEAK MEM", "COMMIT", "METRICS"]]
        for row in runs {
            let run = row.run
            let name = row.stage == .experiment ? "\(row.number)" : (row.stage == .baseline ? "0 (base)" : "plot")
            let exit = run.exitCode.map(String.init) ?? run.signal.map { "sig \($0)" } ?? "-"
            let status = run.status + (run.limitsHit.isEmpty ? "" : " [\(run.limitsHit.joined(separator: ","))]")
            rows.append([name, "\(row.attempt)", run.runID.map(String.init) ?? "-", status, exit, seconds(run.wallSeconds),
                         seconds(run.cpuSeconds), run.gpuSeconds.map { String(format: "%.0f", $0) } ?? "-",
                         run.peakMemoryBytes.map { String(format: "%.0f MiB", Double($0) / 1048576) } ?? "-",
                         String(row.commit.prefix(10)), row.metrics.map { $0.count > 80 ? String($0.prefix(77)) + "..." : $0 } ?? "-"])
        }
        return IdeaText.columns(rows)
    }

    /// "Python 3.11.2; numpy 1.24.2, scipy 1.10.1" from the probe's facts (stdlib modules left out).
    static func software(_ probe: SoftwareProbeRow) -> String {
        guard let text = probe.facts, let facts = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            return "not measured: \(probe.problem)"
        }
        var parts = ["Python \(facts["python"] as? String ?? "?")"]
        let packages = (facts["packages"] as? [String: [String: Any]]) ?? [:]
        let listed = packages.keys.sorted().compactMap { name -> String? in
            let entry = packages[name] ?? [:]
            switch entry["kind"] as? String {
            case "package": return "\(name) \(entry["version"] as? String ?? "(no version)")"
            case "missing": return "\(name) missing"
            default: return nil
            }
        }
        if !listed.isEmpty { parts.append(listed.joined(separator: ", ")) }
        if let torch = facts["torch"] as? [String: Any] {
            parts.append("CUDA \(torch["built_with"] as? String ?? "none"), cuDNN \(torch["cudnn"].map { "\($0)" } ?? "none")")
        }
        return parts.joined(separator: "; ")
    }

    static func seconds(_ value: Double?) -> String { value.map { String(format: "%.1fs", $0) } ?? "-" }
}
