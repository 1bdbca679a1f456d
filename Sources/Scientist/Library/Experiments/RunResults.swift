import Foundation
import PolicyModel

/// A run's `final_info.json`, in the AI Scientist's layout `{dataset: {"means": {metric: number}, …}}`. The
/// model is shown only the means, as in the AI Scientist; everything else the file holds stays in the file.
public struct RunMetrics: Sendable, Equatable {
    /// dataset → metric → value, every value finite.
    public var means: [String: [String: Double]]

    /// The means as compact JSON with sorted keys (stored in the archive, shown to the model).
    public var json: String {
        let object = means.mapValues { $0 as [String: Any] } as [String: Any]
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    public struct Problem: Error, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// Python's json writes NaN and ±Infinity bare, which JSON does not allow: they are read as markers so the
    /// model can be told which metric was not a number.
    static let nonFinite = try! NSRegularExpression(pattern: #"(?<=[:\[,]|^)(\s*)(-?Infinity|NaN)(?=\s*[,}\]])"#)

    public static func parse(_ text: String, file: String) -> Result<RunMetrics, Problem> {
        let range = NSRange(text.startIndex..., in: text)
        let marked = nonFinite.stringByReplacingMatches(in: text, range: range, withTemplate: "$1\"__non_finite__$2\"")
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: Data(marked.utf8)) } catch {
            return .failure(Problem(description: "\(file) is not valid JSON: \(ProviderHTTP.describe(error))"))
        }
        guard let datasets = object as? [String: Any], !datasets.isEmpty else {
            return .failure(Problem(description: "\(file) must be a JSON object of datasets, each {\"means\": {metric: number}}"))
        }
        var means: [String: [String: Double]] = [:]
        var bad: [String] = []
        for (dataset, value) in datasets.sorted(by: { $0.key < $1.key }) {
            guard let entry = value as? [String: Any], let values = entry["means"] as? [String: Any] else {
                return .failure(Problem(description: "\(file): dataset \"\(dataset)\" has no \"means\" object"))
            }
            var metrics: [String: Double] = [:]
            for (metric, raw) in values.sorted(by: { $0.key < $1.key }) {
                if let marker = raw as? String, marker.hasPrefix("__non_finite__") {
                    bad.append("\(dataset).\(metric) is \(marker.dropFirst("__non_finite__".count))")
                } else if let number = raw as? NSNumber, type(of: raw) != Bool.self {
                    metrics[metric] = number.doubleValue
                } else {
                    return .failure(Problem(description: "\(file): \(dataset).means.\(metric) is not a number"))
                }
            }
            means[dataset] = metrics
        }
        if !bad.isEmpty {
            return .failure(Problem(description: "\(file) holds values that are not finite numbers: \(bad.joined(separator: ", ")). The run diverged or divided by zero; fix the cause rather than the report."))
        }
        return .success(RunMetrics(means: means))
    }
}

/// What the model is told about a run that did not succeed: gloveboxd's facts first, then the stderr tail.
enum RunFailureReport {
    static func describe(_ run: SandboxRun, number: Int) -> String {
        var facts: [String] = []
        switch run.status {
        case "refused":
            facts.append("gloveboxd refused to start run \(number): \(run.message)")
        case "timeout":
            let limit = run.limits["timeout_seconds"].map { " of \(DurationText.format($0))" } ?? ""
            facts.append("Run \(number) was stopped at its time limit\(limit). The limit is set by the operator's sandbox policy; nothing the experiment does and nothing said here can change or extend it. Make the run finish well within it: fewer steps, a smaller model or less data.")
        case "oom":
            facts.append("Run \(number) was killed when it reached its memory limit\(bytes(run.limits["memory_bytes"]))." )
        case "signaled":
            facts.append("Run \(number) was killed by signal \(run.signal ?? 0).")
        case "exited-nonzero":
            facts.append("Run \(number) exited with status \(run.exitCode ?? 1).")
        case "cancelled":
            facts.append("Run \(number) was cancelled.")
        case "ok":
            break
        default:
            facts.append("Run \(number) ended with gloveboxd status \(run.status)\(run.message.isEmpty ? "" : ": \(run.message)").")
        }
        for hit in run.limitsHit {
            switch hit {
            case "memory" where run.status != "oom": facts.append("It reached its memory limit\(bytes(run.limits["memory_bytes"])).")
            case "pids": facts.append("It reached its limit of \(Int(run.limits["pids"] ?? 0)) processes and threads.")
            case "storage": facts.append("It filled its storage limit\(bytes(run.limits["storage_bytes"])) (the workspace's changes and /tmp together).")
            case "shm": facts.append("Its /dev/shm was full (its size is set by the policy).")
            default: break
            }
        }
        return facts.joined(separator: " ")
    }

    private static func bytes(_ value: Double?) -> String {
        guard let value, value > 0 else { return "" }
        return " of " + ByteSize.format(UInt64(value))
    }
}
