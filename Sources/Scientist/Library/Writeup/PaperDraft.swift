import Foundation

/// The parts of a paper's LaTeX that the scientist, not the model, keeps: the bibliography block, and the
/// inclusion of the generated environment.tex (in the preamble), results.tex (in the results section) and
/// compute.tex (in the experimental setup). After every edit of the model's, `enforce` puts back what was
/// changed or dropped, and says so, so the model can be told.
public enum PaperDraft {
    /// The sections the write-up fills, in the order it fills them (the AI Scientist's, with related work last,
    /// once the citations can be searched), each with the placeholder text the templates ship.
    public static let sections: [(name: String, placeholder: String)] = [
        ("Title", "TITLE HERE"), ("Abstract", "ABSTRACT HERE"), ("Introduction", "INTRO HERE"),
        ("Background", "BACKGROUND HERE"), ("Method", "METHOD HERE"), ("Experimental Setup", "EXPERIMENTAL SETUP HERE"),
        ("Results", "RESULTS HERE"), ("Conclusion", "CONCLUSIONS HERE"), ("Related Work", "RELATED WORK HERE"),
    ]

    static let blockOpen = #"\\begin\{filecontents\*?\}(?:\[[^\]]*\])?\{references\.bib\}"#

    /// The range of the text inside the `filecontents{references.bib}` block, if there is one.
    public static func bibliographyContent(in tex: String) -> Range<String.Index>? {
        guard let open = tex.range(of: blockOpen, options: .regularExpression),
              let close = tex.range(of: "\\end{filecontents", range: open.upperBound..<tex.endIndex) else { return nil }
        return open.upperBound..<close.lowerBound
    }

    /// `tex` with its bibliography block holding exactly `bibliography` (a block is added before
    /// \begin{document} when there is none), and environment.tex, results.tex and compute.tex included; and a
    /// sentence for each thing the model's edit removed (`previous` is the text before that edit).
    public static func enforce(_ tex: String, previous: String, bibliography: Bibliography) -> (tex: String, restored: [String]) {
        var text = tex
        var restored: [String] = []
        let wanted = "\n" + bibliography.text + (bibliography.entries.isEmpty ? "" : "\n")
        if let range = bibliographyContent(in: text) {
            if text[range].trimmingCharacters(in: .whitespacesAndNewlines) != bibliography.text {
                restored.append("The references.bib block is kept by the scientist (entries come only from the literature search); your changes to it were undone.")
                text.replaceSubrange(range, with: wanted)
            }
        } else if let document = text.range(of: "\\begin{document}") {
            text.insert(contentsOf: "\\begin{filecontents}{references.bib}" + wanted + "\\end{filecontents}\n", at: document.lowerBound)
            if !bibliography.entries.isEmpty { restored.append("The references.bib block was missing; it was put back.") }
        }
        if !includes(text, "environment"), let document = text.range(of: "\\begin{document}") {
            text.insert(contentsOf: "\\InputIfFileExists{environment.tex}{}{}\n", at: document.lowerBound)
            if includes(previous, "environment") { restored.append("\\InputIfFileExists{environment.tex}{}{} was put back in the preamble; its macros are the paper's facts.") }
        }
        for (file, pattern, purpose) in [("results", #"\\section\*?\{[^}]*[Rr]esults[^}]*\}"#, "the measured results"),
                                         ("compute", #"\\section\*?\{[^}]*(?:[Ss]etup|[Ee]xperiment)[^}]*\}"#, "the compute each run used against the baseline")]
        where !includes(text, file) {
            guard let at = afterHeader(pattern, in: text) else { continue }
            text.insert(contentsOf: "\\InputIfFileExists{\(file).tex}{}{}\n", at: at)
            if includes(previous, file) {
                restored.append("\\InputIfFileExists{\(file).tex}{}{} (\(purpose), generated) is kept in its section; it was put back.")
            }
        }
        return (text, restored)
    }

    /// Whether `tex` reads the generated file `name`.tex.
    static func includes(_ tex: String, _ name: String) -> Bool {
        tex.range(of: #"\\(?:input|include|InputIfFileExists)\{\#(name)(?:\.tex)?\}"#, options: .regularExpression) != nil
    }

    /// The start of the line after a section header matching `pattern` (and after its \label line, if the next
    /// line is one).
    static func afterHeader(_ pattern: String, in tex: String) -> String.Index? {
        guard let header = tex.range(of: pattern, options: .regularExpression) else { return nil }
        var position = tex[header.upperBound...].firstIndex(of: "\n").map { tex.index(after: $0) } ?? tex.endIndex
        let rest = tex[position...]
        if rest.hasPrefix("\\label{"), let end = rest.firstIndex(of: "\n") { position = tex.index(after: end) }
        return position
    }
}
