import Foundation
import RecordModel

/// What a paper may claim about its hardware, software and results: the facts gloveboxd and the software probe
/// measured, and the runs' metrics, times and compute.
public struct ClaimsManifest: Sendable, Equatable {
    /// A value a number in the paper may be: what it is, and the run behind it.
    public struct Backing: Codable, Sendable, Equatable {
        public var value: Double
        /// "toy.score", "wall time (s)", "wall time ratio to the baseline".
        public var what: String
        public var run: Int?
        public var gloveboxRunID: Int64?
        /// The SHA-256 of the run's final_info.json, as the run brought it back.
        public var digest: String?
    }

    public var gpuNames: [String] = []
    public var gpuCount = 0
    public var cpuModel = ""
    /// Lowercased name → version: "python", "pytorch", "cuda", "cudnn", and every probed package.
    public var versions: [String: String] = [:]
    public var backings: [Backing] = []
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
            let digest = row.outputs["run_\(row.number)/final_info.json"]
            func back(_ value: Double, _ what: String) {
                backings.append(Backing(value: value, what: what, run: row.number, gloveboxRunID: row.run.runID, digest: digest))
            }
            if let wall = row.run.wallSeconds {
                back(wall, "wall time (s)")
                back(wall / 60, "wall time (min)")
                back(wall / 3600, "wall time (h)")
                walls.append(wall)
            }
            for (dataset, metrics) in ComputeReport.means(row.metrics).sorted(by: { $0.key < $1.key }) {
                for (metric, value) in metrics.sorted(by: { $0.key < $1.key }) { back(value, "\(dataset).\(metric)") }
            }
        }
        for row in ComputeReport(runs: rows).rows {
            for (measure, ratio) in row.ratios.sorted(by: { $0.key < $1.key }) {
                backings.append(Backing(value: ratio, what: "\(measure) ratio to the baseline", run: row.run, gloveboxRunID: row.gloveboxRunID))
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

/// A number the paper states, the sentence it is in, and what backs it: runs' values, or the paper's mark
/// that it comes from elsewhere.
public struct PaperClaim: Codable, Sendable, Equatable {
    public var line: Int
    public var sentence: String
    public var number: String
    public var external: Bool
    public var backedBy: [ClaimsManifest.Backing]
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

    /// A problem and the line of the paper's text it is on.
    public struct Finding: Sendable, Equatable {
        public var line: Int
        public var message: String
    }

    public static func problems(tex: String, manifest: ClaimsManifest) -> [String] {
        findings(tex: tex, manifest: manifest).map(\.message)
    }

    /// Every problem of the model-written text, with its line (1-based), in the order of the checks.
    public static func findings(tex: String, manifest: ClaimsManifest) -> [Finding] {
        let original = modelText(tex)
        // What is marked as coming from elsewhere, the citations, and lengths and options are not claims.
        let text = blanking(externalOrCitation + "|" + notClaims, in: original)
        var problems: [Finding] = []
        func report(_ offset: Int, _ message: String) { problems.append(Finding(line: line(of: offset, in: original), message: message)) }
        for (gpu, _, at) in located(gpuPattern, in: text) where !manifest.gpuNames.contains(where: { contains($0, gpu) }) {
            let used = manifest.gpuNames.isEmpty ? "no GPU" : manifest.gpuNames.joined(separator: ", ")
            report(at, "the text names the GPU \"\(gpu)\", but the runs used \(used); use \\gbGPU")
        }
        for (cpu, _, at) in located(cpuPattern, in: text) where !contains(manifest.cpuModel, cpu) {
            report(at, "the text names the CPU \"\(cpu)\", but the runs' CPU was \(manifest.cpuModel.isEmpty ? "not named" : manifest.cpuModel); use \\gbCPU")
        }
        for (name, version, at) in located(versionPattern, in: text) {
            let known = manifest.versions[name.lowercased()]
            if known == nil || !(known == version || known!.hasPrefix(version + ".") || known!.hasPrefix(version + "+")) {
                report(at, "the text says \(name) \(version), but the runs had \(known.map { "\(name) \($0)" } ?? "no \(name)"); use the macro of environment.tex")
            }
        }
        for (count, _, at) in located(gpuCountPattern, in: text) {
            let words = ["one": 1, "two": 2, "three": 3, "four": 4, "eight": 8, "sixteen": 16]
            let claimed = Int(count) ?? words[count.lowercased()] ?? -1
            if claimed != manifest.gpuCount { report(at, "the text says \(count) GPU(s), but the runs had \(manifest.gpuCount); use \\gbGPUCount") }
        }
        for (amount, unit, at) in located(durationPattern, in: text) {
            let seconds = unit.hasPrefix("h") ? 3600.0 : unit.hasPrefix("m") ? 60.0 : 1.0
            if backing(amount, percent: false, by: manifest.walls.map { ClaimsManifest.Backing(value: $0 / seconds, what: "") }).isEmpty {
                report(at, "the text says \(amount) \(unit), but no run took that long (their wall times: \(manifest.walls.map { String(format: "%.0f s", $0) }.joined(separator: ", "))); use \\gbRunWall")
            }
        }
        // Numbers, once the version and duration claims (checked above) are out of the way.
        let plain = blanking(durationPattern, in: blanking(versionPattern, in: text))
        for (number, percent, at) in located(numberPattern, in: plain) where backing(number, percent: !percent.isEmpty, by: manifest.backings).isEmpty {
            report(at, "the number \(number)\(percent.isEmpty ? "" : "%") matches no run's metric or time; take it from results.tex or environment.tex, or mark a number from elsewhere as \\gbExternal{\(number)}")
        }
        return problems
    }

    /// Every number of the model-written text (those marked \gbExternal{…} too), with its sentence and what
    /// backs it: the claims of paper.json.
    public static func claims(tex: String, manifest: ClaimsManifest) -> [PaperClaim] {
        let original = modelText(tex)
        let text = blanking(#"\\cite[tp]?\*?(?:\[[^\]]*\])*\{[^}]*\}|"# + notClaims, in: original)
        let plain = blanking(durationPattern + "|" + versionPattern, in: blanking(#"\\gbExternal\{[^}]*\}"#, in: text))
        var claims: [PaperClaim] = []
        for (number, percent, at) in located(numberPattern, in: plain) {
            claims.append(PaperClaim(line: line(of: at, in: original), sentence: sentence(at: at, in: original), number: number + (percent.isEmpty ? "" : "%"),
                                     external: false, backedBy: backing(number, percent: !percent.isEmpty, by: manifest.backings)))
        }
        for (inner, _, at) in located(#"\\gbExternal\{([^}]*)\}"#, in: text) {
            claims.append(PaperClaim(line: line(of: at, in: original), sentence: sentence(at: at, in: original), number: inner, external: true, backedBy: []))
        }
        return claims.sorted { $0.line < $1.line }
    }

    static let externalOrCitation = #"\\gbExternal\{[^}]*\}|\\cite[tp]?\*?(?:\[[^\]]*\])*\{[^}]*\}"#
    /// Lengths ("0.9\textwidth", "2.5em"), a command's optional argument ("[width=0.8\linewidth]"), labels
    /// and references, and file names: numbers that are not claims.
    static let notClaims = #"\\[A-Za-z]+\*?\[[^\]]*\]|-?\d*\.?\d+(?:pt|em|ex|in|cm|mm|bp)\b|-?\d*\.?\d+\s*\\(?:textwidth|linewidth|columnwidth|textheight)\b|\\(?:label|ref|eqref|autoref|cref|Cref|includegraphics|input|InputIfFileExists|gbRun[A-Za-z]*|url|href)\{[^}]*\}"#

    /// The text the model wrote: without comments and the bibliography block, and without the preamble but for
    /// its \title; blanked rather than removed, so offsets and lines stay those of the file.
    static func modelText(_ tex: String) -> String {
        var text = blanking(#"(?s)\\begin\{filecontents\*?\}.*?\\end\{filecontents\*?\}"#, in: LatexChecks.withoutComments(tex))
        if let document = text.range(of: "\\begin{document}") {
            let preamble = text[..<document.lowerBound].split(separator: "\n", omittingEmptySubsequences: false)
                .map { $0.contains("\\title") ? String($0) : String(repeating: " ", count: $0.count) }.joined(separator: "\n")
            text = preamble + text[document.lowerBound...]
        }
        return text
    }

    /// `text` with every match of `pattern` turned to spaces (its newlines kept), so offsets do not move.
    static func blanking(_ pattern: String, in text: String) -> String {
        guard let expression = try? NSRegularExpression(pattern: pattern) else { return text }
        var characters = Array(text.utf16)
        for match in expression.matches(in: text, range: NSRange(location: 0, length: characters.count)) {
            for index in match.range.location..<(match.range.location + match.range.length) where characters[index] != 10 { characters[index] = 32 }
        }
        return String(decoding: characters, as: UTF16.self)
    }

    /// The first two capture groups of each match of `pattern`, and the match's UTF-16 offset.
    static func located(_ pattern: String, in text: String) -> [(String, String, Int)] {
        guard let expression = try? NSRegularExpression(pattern: pattern) else { return [] }
        let utf16 = Array(text.utf16)
        func group(_ range: NSRange) -> String {
            range.location == NSNotFound ? "" : String(decoding: utf16[range.location..<(range.location + range.length)], as: UTF16.self)
        }
        return expression.matches(in: text, range: NSRange(location: 0, length: utf16.count)).map { match in
            (group(match.range(at: 1)), match.numberOfRanges > 2 ? group(match.range(at: 2)) : "", match.range.location)
        }
    }

    static func line(of offset: Int, in text: String) -> Int {
        1 + text.utf16.prefix(offset).filter { $0 == 10 }.count
    }

    /// The sentence around a UTF-16 offset: from the end of the previous sentence (or a blank line, or a line
    /// of markup such as \section or \label) to the end of this one, on one line, at most 400 characters.
    static func sentence(at offset: Int, in text: String) -> String {
        let utf16 = Array(text.utf16)
        let newline: UInt16 = 10, backslash: UInt16 = 92, space: UInt16 = 32
        /// Whether the line starting at `start` begins (after spaces) with a command or is empty.
        func markup(lineAt start: Int) -> Bool {
            var i = start
            while i < utf16.count, utf16[i] == space { i += 1 }
            return i == utf16.count || utf16[i] == newline || utf16[i] == backslash
        }
        func lineStart(_ i: Int) -> Int {
            var j = i
            while j > 0, utf16[j - 1] != newline { j -= 1 }
            return j
        }
        /// Whether a sentence ends at `i`: at . ! or ? before a space, or at a newline next to a markup line.
        func ends(_ i: Int) -> Bool {
            let c = utf16[i]
            if c == newline { return markup(lineAt: lineStart(i)) || markup(lineAt: i + 1) }
            return (c == 46 || c == 33 || c == 63) && (i + 1 == utf16.count || utf16[i + 1] == space || utf16[i + 1] == newline)
        }
        var start = min(offset, utf16.count)
        while start > 0, !ends(start - 1) { start -= 1 }
        var end = offset
        while end < utf16.count, !ends(end) { end += 1 }
        let raw = String(decoding: utf16[start..<min(utf16.count, end + 1)], as: UTF16.self)
        let flat = raw.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        return flat.count > 400 ? String(flat.prefix(400)) + "…" : flat
    }

    /// The values that, printed to the number's own precision (as a percentage when it is one), are it.
    static func backing(_ text: String, percent: Bool, by values: [ClaimsManifest.Backing]) -> [ClaimsManifest.Backing] {
        guard let claimed = Double(text) else { return [] }
        let decimals = text.lowercased().contains("e") ? nil : text.split(separator: ".").last.map(\.count)
        return values.filter { backing in
            for candidate in percent ? [backing.value * 100, backing.value] : [backing.value, backing.value * 100] {
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
}
