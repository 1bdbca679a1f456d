import Foundation

/// The checks a paper passes before it is compiled, each a message the model can act on, as in the AI
/// Scientist's write-up: a \cite of a key the bibliography lacks, a figure referenced that does not exist, a
/// figure used twice, a section header that appears twice, a \ref to a label that is not defined.
public enum LatexChecks {
    /// The problems of `tex` (the paper's text, bibliography embedded with filecontents or in `bibliography`),
    /// whose figures are looked up among `figures` (file names the paper's directory can reach). The labels of
    /// `included` (the generated files the paper inputs: results.tex, compute.tex) may be referenced too.
    public static func problems(tex: String, bibliography: String = "", figures: Set<String>, included: String = "") -> [String] {
        let text = withoutComments(tex)
        var problems: [String] = []
        let keys = Set(matches(#"@\w+\s*\{\s*([^,\s]+)\s*,"#, in: text + "\n" + bibliography))
        var reported = Set<String>()
        for group in matches(#"\\cite[tp]?\*?(?:\[[^\]]*\])*\{([^}]*)\}"#, in: text) {
            for key in group.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !key.isEmpty {
                if !keys.contains(key), reported.insert(key).inserted {
                    problems.append("\\cite{\(key)}: no entry \(key) in the bibliography; cite only the references.bib keys, or drop the citation")
                }
            }
        }
        var seen: [String: Int] = [:]
        for figure in matches(#"\\includegraphics(?:\[[^\]]*\])?\{([^}]*)\}"#, in: text) {
            seen[figure, default: 0] += 1
            if seen[figure] == 2 { problems.append("figure \(figure) is included twice; each figure once") }
            let name = (figure as NSString).lastPathComponent
            let candidates = [figure, name] + ["png", "pdf", "jpg", "jpeg"].map { figure + "." + $0 }
            if seen[figure] == 1, !candidates.contains(where: { figures.contains($0) || figures.contains(($0 as NSString).lastPathComponent) }) {
                problems.append("figure \(figure) does not exist; the figures are \(figures.sorted().joined(separator: ", "))")
            }
        }
        var headers: [String: Int] = [:]
        for header in matches(#"\\(?:sub)*section\*?\{([^}]*)\}"#, in: text) {
            headers[header, default: 0] += 1
            if headers[header] == 2 { problems.append("the section header \"\(header)\" appears twice; merge the two sections") }
        }
        let labels = Set(matches(#"\\label\{([^}]*)\}"#, in: text + "\n" + withoutComments(included)))
        var missingRefs = Set<String>()
        for label in matches(#"\\(?:auto|eq|c|C)?ref\{([^}]*)\}"#, in: text) where !labels.contains(label) {
            if missingRefs.insert(label).inserted { problems.append("\\ref{\(label)}: no \\label{\(label)} in the paper") }
        }
        return problems
    }

    /// The text without TeX comments (an unescaped % to the end of its line).
    static func withoutComments(_ tex: String) -> String {
        tex.split(separator: "\n", omittingEmptySubsequences: false).map { line -> Substring in
            var previous: Character = " "
            for (offset, character) in line.enumerated() {
                if character == "%" && previous != "\\" { return line.prefix(offset) }
                previous = character
            }
            return line
        }.joined(separator: "\n")
    }

    /// The first capture group of each match of `pattern`.
    static func matches(_ pattern: String, in text: String) -> [String] {
        guard let expression = try? NSRegularExpression(pattern: pattern) else { return [] }
        let range = NSRange(text.startIndex..., in: text)
        return expression.matches(in: text, range: range).compactMap { match in
            Range(match.range(at: 1), in: text).map { String(text[$0]) }
        }
    }
}
