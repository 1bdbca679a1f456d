import Foundation
import RecordModel

/// What a paper may claim about its hardware, software and results: the facts gloveboxd and the software probe
/// measured, and the runs' metrics and times.
public struct ClaimsManifest: Sendable, Equatable {
    public var gpuNames: [String] = []
    public var gpuCount = 0
    public var cpuModel = ""
    /// Lowercased name → version: "python", "pytorch", "cuda", "cudnn", and every probed package.
    public var versions: [String: String] = [:]
    /// Every metric mean and wall time of the runs with results.
    public var numbers: [Double] = []
    /// The runs' wall times, seconds.
    public var walls: [Double] = []

    public init() {}

    public init(runs rows: [ExperimentRunRow], software: SoftwareProbeRow?) {
        let runs = ProvenanceTeX.citable(rows)
        if let machine = runs.last?.run.machine {
            gpuNames = machine.gpus.compactMap(\.name)
            gpuCount = machine.gpus.count
            cpuModel = machine.cpuModel
        }
        for row in runs {
            if let wall = row.run.wallSeconds {
                numbers += [wall, wall / 60, wall / 3600]
                walls.append(wall)
            }
            if let text = row.metrics, let means = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: [String: Double]] {
                numbers += means.values.flatMap(\.values)
            }
        }
        if let text = software?.facts, let facts = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] {
            if let python = facts["python"] as? String { versions["python"] = python }
            for (name, entry) in (facts["packages"] as? [String: [String: Any]]) ?? [:] {
                if let version = entry["version"] as? String { versions[name.lowercased()] = version }
            }
            if let torch = versions["torch"] { versions["pytorch"] = torch }
            if let cuda = (facts["torch"] as? [String: Any])?["built_with"] as? String { versions["cuda"] = cuda }
            if let cudnn = (facts["torch"] as? [String: Any])?["cudnn"] as? Int { versions["cudnn"] = String(cudnn) }
        }
    }
}

/// The claims check, after every write-up: a hardware or software claim the manifest does not back, or a
/// number that matches no run's metric or time at the precision printed (and is not wrapped in \gbExternal{…},
/// the paper's mark for a number from elsewhere: the literature, or a setting of the code), is a problem the
/// model must fix. Only the text the model wrote is checked; the generated environment.tex and results.tex
/// are the facts themselves.
public enum ClaimsCheck {
    static let gpuPattern = #"\b(?:NVIDIA\s+)?(?:Tesla\s+|GeForce\s+|Quadro\s+)?(A100|H100|H200|V100|A10G|A10|A40|L40S|L40|L4|T4|P100|K80|RTX\s?A?\d{4}|GTX\s?\d{3,4}|TPU(?:\s?v\d)?)\b"#
    static let cpuPattern = #"\b(Xeon|EPYC|Ryzen|Threadripper|Core\s+i[3579]|Apple\s+M\d)\b"#
    static let versionPattern = #"\b(CUDA|PyTorch|Python|cuDNN|NumPy|SciPy|TensorFlow|JAX)\s*(?:version\s*)?v?(\d+(?:\.\d+)+)"#
    static let gpuCountPattern = #"\b(\d+|one|two|three|four|eight|sixteen)\s+(?:[\w-]+\s+){0,3}GPUs?\b"#
    static let durationPattern = #"\b(\d+(?:\.\d+)?)\s*(hours?|hrs?|minutes?|mins?|seconds?|secs?)\b"#
    static let numberPattern = #"(?<![\w.\\])(\d+\.\d+(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+)(\\?%)?"#

    public static func problems(tex: String, manifest: ClaimsManifest) -> [String] {
        var text = LatexChecks.withoutComments(tex)
        // What is marked as coming from elsewhere, and the citations, are not claims about these runs.
        text = replacing(#"\\gbExternal\{[^}]*\}|\\cite[tp]?\*?(?:\[[^\]]*\])*\{[^}]*\}"#, in: text, with: " ")
        var problems: [String] = []
        for gpu in LatexChecks.matches(gpuPattern, in: text) where !manifest.gpuNames.contains(where: { contains($0, gpu) }) {
            let used = manifest.gpuNames.isEmpty ? "no GPU" : manifest.gpuNames.joined(separator: ", ")
            problems.append("the text names the GPU \"\(gpu)\", but the runs used \(used); use \\gbGPU")
        }
        for cpu in LatexChecks.matches(cpuPattern, in: text) where !contains(manifest.cpuModel, cpu) {
            problems.append("the text names the CPU \"\(cpu)\", but the runs' CPU was \(manifest.cpuModel.isEmpty ? "not named" : manifest.cpuModel); use \\gbCPU")
        }
        for (name, version) in pairs(versionPattern, in: text) {
            let known = manifest.versions[name.lowercased()]
            if known == nil || !(known == version || known!.hasPrefix(version + ".") || known!.hasPrefix(version + "+")) {
                problems.append("the text says \(name) \(version), but the runs had \(known.map { "\(name) \($0)" } ?? "no \(name)"); use the macro of environment.tex")
            }
        }
        for count in LatexChecks.matches(gpuCountPattern, in: text) {
            let words = ["one": 1, "two": 2, "three": 3, "four": 4, "eight": 8, "sixteen": 16]
            let claimed = Int(count) ?? words[count.lowercased()] ?? -1
            if claimed != manifest.gpuCount { problems.append("the text says \(count) GPU(s), but the runs had \(manifest.gpuCount); use \\gbGPUCount") }
        }
        for (amount, unit) in pairs(durationPattern, in: text) {
            let seconds = unit.hasPrefix("h") ? 3600.0 : unit.hasPrefix("m") ? 60.0 : 1.0
            if !backed(amount, percent: false, by: manifest.walls.map { $0 / seconds }) {
                problems.append("the text says \(amount) \(unit), but no run took that long (their wall times: \(manifest.walls.map { String(format: "%.0f s", $0) }.joined(separator: ", "))); use \\gbRunWall")
            }
        }
        // Numbers, once the version and duration claims (checked above) are out of the way.
        let plain = replacing(durationPattern, in: replacing(versionPattern, in: text, with: " "), with: " ")
        for (number, percent) in pairs(numberPattern, in: plain) where !backed(number, percent: !percent.isEmpty, by: manifest.numbers) {
            problems.append("the number \(number)\(percent.isEmpty ? "" : "%") matches no run's metric or time; take it from results.tex or environment.tex, or mark a number from elsewhere as \\gbExternal{\(number)}")
        }
        return problems
    }

    /// True when some value, printed to the number's own precision (as a percentage when it is one), is it.
    static func backed(_ text: String, percent: Bool, by values: [Double]) -> Bool {
        guard let claimed = Double(text) else { return true }
        let decimals = text.lowercased().contains("e") ? nil : text.split(separator: ".").last.map(\.count)
        return values.contains { value in
            for candidate in percent ? [value * 100, value] : [value, value * 100] {
                if let decimals {
                    let scale = pow(10, Double(decimals))
                    if abs((candidate * scale).rounded() - claimed * scale) < 0.5 { return true }
                } else if abs(candidate - claimed) <= abs(claimed) * 0.005 {
                    return true
                }
            }
            return false
        }
    }

    static func contains(_ haystack: String, _ needle: String) -> Bool {
        let squeeze = { (s: String) in s.lowercased().filter { !$0.isWhitespace } }
        return !needle.isEmpty && squeeze(haystack).contains(squeeze(needle))
    }

    static func pairs(_ pattern: String, in text: String) -> [(String, String)] {
        guard let expression = try? NSRegularExpression(pattern: pattern) else { return [] }
        return expression.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap { match in
            guard let first = Range(match.range(at: 1), in: text) else { return nil }
            let second = Range(match.range(at: 2), in: text).map { String(text[$0]) } ?? ""
            return (String(text[first]), second)
        }
    }

    static func replacing(_ pattern: String, in text: String, with replacement: String) -> String {
        guard let expression = try? NSRegularExpression(pattern: pattern) else { return text }
        return expression.stringByReplacingMatches(in: text, range: NSRange(text.startIndex..., in: text),
                                                   withTemplate: NSRegularExpression.escapedTemplate(for: replacement))
    }
}
