import Foundation

/// One bibliography entry of a paper, and where it came from. Entries come only from the literature search
/// (Semantic Scholar's own BibTeX, or BibTeX built from OpenAlex's metadata) or from the template's shipped
/// bibliography: the model chooses among search results, and never writes an entry.
public struct BibEntry: Codable, Sendable, Equatable {
    public var key: String
    public var bibtex: String
    /// "semanticscholar" (its BibTeX), "openalex" (built from its metadata), "template" (the template's own).
    public var source: String
    /// The engine's id of the paper (a Semantic Scholar paperId, an OpenAlex work URL).
    public var paperID: String?
    public var title: String?
    /// The query that found it, for entries from a search.
    public var query: String?

    public init(key: String, bibtex: String, source: String, paperID: String? = nil, title: String? = nil, query: String? = nil) {
        self.key = key; self.bibtex = bibtex; self.source = source; self.paperID = paperID; self.title = title; self.query = query
    }
}

/// A paper's bibliography, kept by the scientist inside the paper's `filecontents{references.bib}` block (the AI
/// Scientist's layout, so the paper compiles on its own). The model's edits to that block are undone.
public struct Bibliography: Sendable, Equatable {
    public private(set) var entries: [BibEntry] = []

    public init(entries: [BibEntry] = []) { self.entries = entries }

    public var keys: Set<String> { Set(entries.map(\.key)) }

    /// The entries of the template's own block, as shipped, marked "template".
    public static func fromTemplate(_ tex: String) -> Bibliography {
        guard let range = PaperDraft.bibliographyContent(in: tex) else { return Bibliography() }
        return Bibliography(entries: split(String(tex[range])).map { BibEntry(key: $0.key, bibtex: $0.text, source: "template") })
    }

    /// The entries with the source, paper id, title and query an earlier write-up recorded for the same key and
    /// BibTeX (a paper written again keeps where its references came from).
    public func withSources(from earlier: [BibEntry]) -> Bibliography {
        Bibliography(entries: entries.map { entry in
            earlier.first { $0.key == entry.key && $0.bibtex.trimmingCharacters(in: .whitespacesAndNewlines) == entry.bibtex } ?? entry
        })
    }

    /// The block's text: each entry, a blank line between.
    public var text: String { entries.map { $0.bibtex.trimmingCharacters(in: .whitespacesAndNewlines) }.joined(separator: "\n\n") }

    /// Adds `paper` found by `engine` for `query`; nil when it is already in (the same paper id or title). Its key
    /// is the engine's when that is a plain, unused key, else one made from the first author, year and title.
    public mutating func add(_ paper: Paper, engine: String, query: String) -> BibEntry? {
        let title = Self.normalizedTitle(paper.title)
        if entries.contains(where: { ($0.paperID != nil && $0.paperID == paper.id) || $0.title.map(Self.normalizedTitle) == title }) { return nil }
        var entry: BibEntry
        if let bibtex = paper.bibtex, let parsed = Self.usable(bibtex) {
            let key = keys.contains(parsed.key) ? unusedKey(for: paper) : parsed.key
            entry = BibEntry(key: key, bibtex: parsed.replacingKey(with: key), source: engine, paperID: paper.id, title: paper.title, query: query)
        } else {
            let key = unusedKey(for: paper)
            entry = BibEntry(key: key, bibtex: Self.built(from: paper, key: key), source: engine == "semanticscholar" ? "semanticscholar metadata" : engine,
                             paperID: paper.id, title: paper.title, query: query)
        }
        entry.bibtex = entry.bibtex.trimmingCharacters(in: .whitespacesAndNewlines)
        entries.append(entry)
        return entry
    }

    // MARK: - BibTeX

    struct Parsed {
        var type: String
        var key: String
        var body: String
        func replacingKey(with newKey: String) -> String { "@\(type){\(newKey),\(body)" }
    }

    static let keyCharacters = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:-.")

    /// An engine's BibTeX when it is one well-formed entry that cannot break out of the paper's block: a plain
    /// type and key, balanced braces, no \end{filecontents} and no control characters.
    static func usable(_ bibtex: String) -> Parsed? {
        let text = bibtex.trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.hasPrefix("@"), let open = text.firstIndex(of: "{"), let comma = text[open...].firstIndex(of: ",") else { return nil }
        let type = String(text[text.index(after: text.startIndex)..<open]).trimmingCharacters(in: .whitespaces)
        let key = String(text[text.index(after: open)..<comma]).trimmingCharacters(in: .whitespaces)
        guard !type.isEmpty, type.allSatisfy({ $0.isASCII && $0.isLetter }),
              !key.isEmpty, key.unicodeScalars.allSatisfy(keyCharacters.contains) else { return nil }
        guard !text.contains("\\end{filecontents"), !text.contains("@", after: comma),
              text.unicodeScalars.allSatisfy({ $0 == "\n" || $0 == "\t" || $0.value >= 0x20 }), balanced(text), text.hasSuffix("}") else { return nil }
        return Parsed(type: type.lowercased(), key: key, body: String(text[text.index(after: comma)...]))
    }

    static func balanced(_ text: String) -> Bool {
        var depth = 0
        var previous: Character = " "
        for character in text {
            if previous != "\\" {
                if character == "{" { depth += 1 }
                if character == "}" { depth -= 1; if depth < 0 { return false } }
            }
            previous = character
        }
        return depth == 0
    }

    /// BibTeX made from the search's metadata (OpenAlex gives none of its own): title, authors, venue, year.
    static func built(from paper: Paper, key: String) -> String {
        var fields = ["  title = {\(escape(paper.title))}"]
        if !paper.authors.isEmpty { fields.append("  author = {\(paper.authors.map(escape).joined(separator: " and "))}") }
        if let venue = paper.venue, !venue.isEmpty { fields.append("  howpublished = {\(escape(venue))}") }
        if let year = paper.year { fields.append("  year = {\(year)}") }
        return "@misc{\(key),\n" + fields.joined(separator: ",\n") + "\n}"
    }

    /// "lovelace2020sparse": the first author's last name, the year and the title's first long word, made unique.
    func unusedKey(for paper: Paper) -> String {
        let ascii = { (text: String) in text.folding(options: [.diacriticInsensitive], locale: nil).lowercased().filter { $0.isASCII && ($0.isLetter || $0.isNumber) } }
        let author = paper.authors.first.flatMap { $0.split(separator: " ").last.map(String.init) }.map(ascii) ?? "anon"
        let word = paper.title.split(whereSeparator: { !$0.isLetter }).map(String.init).first { $0.count > 3 }.map(ascii) ?? "paper"
        let base = (author.isEmpty ? "anon" : author) + (paper.year.map(String.init) ?? "") + word
        var key = base
        var suffix = UInt8(ascii: "b")
        while keys.contains(key) {
            key = base + String(UnicodeScalar(suffix))
            suffix += 1
        }
        return key
    }

    /// Text for a BibTeX field: LaTeX's special characters escaped, braces dropped.
    static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&", "%", "$", "#", "_": out += "\\" + String(character)
            case "{", "}", "\\", "~", "^": continue
            case "\n", "\r", "\t": out += " "
            default: out.append(character)
            }
        }
        return out
    }

    static func normalizedTitle(_ title: String) -> String {
        title.lowercased().filter { $0.isLetter || $0.isNumber }
    }

    /// The entries of a block's text: each from an "@" at a line's start to the next.
    static func split(_ text: String) -> [(key: String, text: String)] {
        var found: [(key: String, text: String)] = []
        var current: [Substring] = []
        func flush() {
            let entry = current.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
            if let key = LatexChecks.matches(#"^@\w+\s*\{\s*([^,\s]+)\s*,"#, in: entry).first { found.append((key, entry)) }
            current = []
        }
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.trimmingCharacters(in: .whitespaces).hasPrefix("@") { flush() }
            current.append(line)
        }
        flush()
        return found
    }
}

private extension String {
    /// True when `character` occurs after `index`.
    func contains(_ character: Character, after index: Index) -> Bool {
        self[self.index(after: index)...].contains(character)
    }
}
