import Foundation

/// The scientist's prompts, every stage's (ideas, novelty, experiments, plots, write-up, review): text with named placeholders
/// (`{run}`), so the workflow can be changed without touching Swift. The shipped defaults are the repository's
/// prompts/NAME.txt, built in; a template's `prompts/NAME.txt`, and then the user's
/// `~/.config/glovebox/prompts/NAME.txt`, replace them. An unknown prompt name or placeholder in a file is an
/// error that names the file.
public struct PromptLibrary: Sendable {
    /// name → (text, where it came from)
    private var texts: [String: (text: String, source: String)]

    /// Every prompt, with the placeholders each may use.
    public static let placeholders: [String: Set<String>] = [
        "ideas_first": ["task", "code", "archive", "rounds"],
        "ideas_reflection": ["round", "rounds"],
        "novelty_system": ["task", "code", "engine", "results_per_query", "rounds"],
        "novelty_round": ["round", "rounds", "idea", "results"],
        "experiment_system": ["editable_files"],
        "experiment_start": ["title", "idea", "max_runs", "baseline_results", "command", "editable_files", "files"],
        "experiment_resume": ["title", "idea", "max_runs", "baseline_results", "command", "editable_files", "files", "history", "next_run"],
        "run_results": ["run", "results", "next_run", "max_runs", "command"],
        "run_failed": ["run", "facts", "stderr", "attempt", "max_attempts", "command"],
        "edits_refused": ["problems", "applied"],
        "no_edits": ["next_run", "command"],
        "runs_exhausted": ["max_runs"],
        "plot_start": ["runs", "command", "plot_code"],
        "plot_failed": ["facts", "stderr", "attempt", "max_attempts", "command"],
        "plot_notes": ["figures"],
        "writeup_system": ["task", "title", "idea", "notes", "results", "figures", "macros"],
        "writeup_section": ["section", "tips", "placeholder", "paper"],
        "writeup_refine": ["section"],
        "writeup_second_refine": ["section", "tips", "paper"],
        "writeup_fix": ["problems", "paper"],
        "writeup_citation_query": ["round", "rounds", "bibliography", "paper"],
        "writeup_citation_choose": ["results"],
        "writeup_citation_apply": ["entries", "description", "paper"],
        "writeup_tips": [],
        "review_system": [],
        "review_form": [],
        "review_paper": ["form", "examples", "provenance", "paper"],
        "review_provenance": ["record"],
        "review_reflection": ["round", "rounds"],
        "review_meta_system": [],
        "review_meta": ["form", "count", "reviews"],
    ]

    /// The shipped prompts: the files prompts/NAME.txt at the repository's top, embedded at build time by the
    /// EmbedPrompts plugin (ShippedPrompts.swift, generated).
    public static var defaults: [String: String] { ShippedPrompts.texts }

    public init() {
        texts = Self.defaults.mapValues { ($0, "built-in") }
    }

    /// The defaults, overridden by each of `directories` in turn (later ones win): each may hold NAME.txt files.
    public static func load(overrides directories: [String]) throws(ScientistError) -> PromptLibrary {
        var library = PromptLibrary()
        for directory in directories {
            guard let entries = try? FileManager.default.contentsOfDirectory(atPath: directory) else { continue }
            for entry in entries.sorted() where entry.hasSuffix(".txt") {
                let path = directory + "/" + entry
                let name = String(entry.dropLast(4))
                guard let allowed = placeholders[name] else {
                    throw .template("\(path): no prompt is called \(name) (the prompts are \(placeholders.keys.sorted().joined(separator: ", ")))")
                }
                guard let data = FileManager.default.contents(atPath: path) else { throw .template("\(path): cannot read the file") }
                let text = String(decoding: data, as: UTF8.self)
                for used in Self.names(in: text) where !allowed.contains(used) {
                    throw .template("\(path): unknown placeholder {\(used)} (\(name) may use \(allowed.sorted().map { "{\($0)}" }.joined(separator: ", ")))")
                }
                library.texts[name] = (text, path)
            }
        }
        return library
    }

    /// The prompt `name` with its placeholders filled. `values` must cover every placeholder the text uses.
    public func render(_ name: String, _ values: [String: String]) -> String {
        guard let entry = texts[name] else { preconditionFailure("unknown prompt \(name)") }
        var output = ""
        var rest = Substring(entry.text)
        while let open = rest.firstIndex(of: "{") {
            output += rest[..<open]
            let after = rest[rest.index(after: open)...]
            if let close = after.firstIndex(of: "}"), Self.isName(after[..<close]), let value = values[String(after[..<close])] {
                output += value
                rest = after[after.index(after: close)...]
            } else {
                output += "{"
                rest = after
            }
        }
        output += rest
        return output
    }

    /// Where the prompt `name` came from: "built-in" or a file's path.
    public func source(_ name: String) -> String { texts[name]?.source ?? "built-in" }

    /// A placeholder's name: a lowercase letter, then lowercase letters, digits and underscores (so a TeX
    /// argument such as {2} is text).
    static func isName(_ text: Substring) -> Bool {
        guard let first = text.first, first.isASCII, first.isLowercase else { return false }
        return text.allSatisfy { $0 == "_" || ($0.isASCII && ($0.isLowercase || $0.isNumber)) }
    }

    /// The `{placeholder}` names a text uses (braces around anything else, as in code, are left alone).
    static func names(in text: String) -> Set<String> {
        var found: Set<String> = []
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{") {
            let after = rest[rest.index(after: open)...]
            if let close = after.firstIndex(of: "}"), isName(after[..<close]) { found.insert(String(after[..<close])) }
            rest = after
        }
        return found
    }
}
