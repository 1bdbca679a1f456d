import Foundation

/// Compiles a paper as the AI Scientist does, pdflatex → bibtex → pdflatex → pdflatex, but through gloveboxd:
/// model-written LaTeX is untrusted input, so the scientist never runs TeX itself. One sandboxed run under the
/// `latex` policy (TeX Live read-only, no shell escape, writes only below its directory) does the four steps;
/// the PDF and the log come back into the paper's directory.
public struct LatexCompiler: Sendable {
    public let runner: any ExperimentRunner
    /// The policy's name (the shipped `latex`, unless the operator names another).
    public static let defaultPolicy = "latex"

    public init(runner: any ExperimentRunner) { self.runner = runner }

    public struct Outcome: Sendable, Equatable {
        public var run: SandboxRun
        /// The PDF's path, when one was made.
        public var pdf: String?
        /// The log's errors ("! LaTeX Error: …" with the line after each), for the model to fix.
        public var errors: [String]
    }

    /// The fixed script of the four steps, run by /bin/sh inside the sandbox with the document's base name as
    /// $1. Each step's failure stops it; the log (and bibtex's) stays for the errors, so the tools' own chatter
    /// (font generation included) is not shown.
    static let script = """
        set -e
        pdflatex -interaction=nonstopmode -halt-on-error -no-shell-escape "$1.tex" >/dev/null 2>&1
        if grep -q '\\\\citation' "$1.aux" 2>/dev/null; then bibtex "$1" >/dev/null 2>&1 || true; fi
        pdflatex -interaction=nonstopmode -halt-on-error -no-shell-escape "$1.tex" >/dev/null 2>&1
        pdflatex -interaction=nonstopmode -halt-on-error -no-shell-escape "$1.tex" >/dev/null 2>&1
        """

    /// Compiles `directory/document.tex`; the PDF and the log come back into `directory`.
    public func compile(directory: String, document: String = "template", label: String) throws(ScientistError) -> Outcome {
        guard document.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }), !document.isEmpty else {
            throw .template("\(document): a document name is letters, digits, - and _")
        }
        for stale in ["pdf", "log"] { try? FileManager.default.removeItem(atPath: "\(directory)/\(document).\(stale)") }
        let run = try runner.run(argv: ["/bin/sh", "-c", Self.script, "sh", document], workdir: directory,
                                 outputs: ["\(document).pdf", "\(document).log", "\(document).blg"], label: label)
        let pdf = "\(directory)/\(document).pdf"
        let made = run.status == "ok" && FileManager.default.fileExists(atPath: pdf)
        let log = (try? String(contentsOfFile: "\(directory)/\(document).log", encoding: .utf8)) ?? ""
        return Outcome(run: run, pdf: made ? pdf : nil, errors: Self.errors(inLog: log))
    }

    /// chktex's warnings on `directory/document.tex`, run in the sandbox too (it reads model-written text), at
    /// most `limit`: "Warning 8 in template.tex line 12: Wrong length of dash may have been used." Warnings of
    /// style only (2: non-breaking space, 24: delete this space, 36/44: spacing and rules) are left out.
    public func chktex(directory: String, document: String = "template", label: String, limit: Int = 20) throws(ScientistError) -> [String] {
        let run = try runner.run(argv: ["/usr/bin/chktex", "-q", "-I0", "-n2", "-n24", "-n36", "-n44", "-f%k %n in %f line %l: %m\n",
                                        "\(document).tex"], workdir: directory, outputs: [], label: label)
        // chktex exits 2 when it found warnings; anything else but 0 is a failure to run.
        guard run.status == "ok" || (run.status == "exited-nonzero" && run.exitCode == 2) else {
            throw .run("chktex did not run: \(RunFailureReport.describe(run, number: 0)) \(run.stderrTail.suffix(300))")
        }
        return Array(run.stdoutTail.split(separator: "\n").map(String.init).filter { $0.hasPrefix("Warning") || $0.hasPrefix("Error") }.prefix(limit))
    }

    /// TeX's error lines ("! …") with the line that says where ("l.12 …"), at most ten.
    static func errors(inLog log: String) -> [String] {
        let lines = log.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var found: [String] = []
        for (index, line) in lines.enumerated() where line.hasPrefix("!") {
            let place = lines[(index + 1)..<min(lines.count, index + 6)].first { $0.hasPrefix("l.") }
            found.append(place.map { "\(line) (\($0))" } ?? line)
            if found.count == 10 { break }
        }
        return found
    }
}

/// The default paper (the repository's paper/template.tex, built in) for templates that ship no latex/.
public enum DefaultPaper {
    public static var template: String { ShippedPaper.files["template.tex"] ?? "" }

    /// Writes latex/template.tex into the workspace when the template brought none; true when it did.
    @discardableResult
    public static func install(in files: WorkspaceFiles) throws(ScientistError) -> Bool {
        do {
            guard try files.read("latex/template.tex") == nil else { return false }
            try files.write("latex/template.tex", template)
            return true
        } catch { throw .workspace("\(error)") }
    }
}
