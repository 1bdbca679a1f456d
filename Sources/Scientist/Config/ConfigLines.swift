import Foundation

/// The line of each `[table]` header and `key = value` in a config file, for error messages. A small scanner
/// for the flat shape of scientist.toml (tables, bare or quoted keys, one value a line); multi-line values
/// are not followed, so a key after one may be attributed to its table's line instead.
struct ConfigLines {
    private var lines: [[String]: Int] = [:]

    init(_ text: String) {
        var table: [String] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("#") || line.isEmpty { continue }
            if line.hasPrefix("["), let close = line.lastIndex(of: "]") {
                table = Self.keyPath(line[line.index(after: line.startIndex)..<close].trimmingCharacters(in: CharacterSet(charactersIn: "[] ")))
                if lines[table] == nil { lines[table] = index + 1 }
            } else if let equals = line.firstIndex(of: "=") {
                let path = table + Self.keyPath(String(line[..<equals]))
                if lines[path] == nil { lines[path] = index + 1 }
            }
        }
    }

    /// The line of `path`, or of its nearest ancestor that has one.
    func line(of path: [String]) -> Int? {
        var p = path
        while !p.isEmpty {
            if let line = lines[p] { return line }
            p.removeLast()
        }
        return nil
    }

    /// `a."b.c".d` → ["a", "b.c", "d"].
    static func keyPath(_ text: String) -> [String] {
        var parts: [String] = []
        var current = ""
        var quote: Character?
        for c in text {
            if let q = quote {
                if c == q { quote = nil } else { current.append(c) }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == "." {
                parts.append(current.trimmingCharacters(in: .whitespaces))
                current = ""
            } else {
                current.append(c)
            }
        }
        parts.append(current.trimmingCharacters(in: .whitespaces))
        return parts
    }
}
