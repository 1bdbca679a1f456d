/// Finds the 1-based line of a key, a table header or an array element in TOML text.
///
/// TOMLKit gives no positions for values, so this scans the raw text: it follows `[table]` and `[[table]]`
/// headers, `key = value` lines (bare, quoted and dotted keys), and skips over strings (all four kinds),
/// comments, and arrays or inline tables spanning lines. It expects text TOMLKit has already accepted.
///
/// Keys inside an inline table (`set = { PATH = "..." }`) are not recorded: `line(of:)` falls back to the
/// nearest recorded ancestor, here the line of `set`.
package struct TOMLLineLocator {
    private var keyLines: [[String]: Int] = [:]
    private var elementLines: [[String]: [Int]] = [:]

    package init(_ text: String) {
        var scan = Scan(bytes: Array(text.utf8))
        scan.run()
        keyLines = scan.keyLines
        elementLines = scan.elementLines
    }

    /// The line where `path` is defined, or else where its nearest defined ancestor is.
    package func line(of path: [String]) -> Int? {
        var p = path
        while !p.isEmpty {
            if let line = keyLines[p] { return line }
            p.removeLast()
        }
        return nil
    }

    /// The line of element `index` of the array at `path` (where it starts), or else that of `path`.
    package func line(of path: [String], element index: Int) -> Int? {
        if let lines = elementLines[path], index >= 0, index < lines.count { return lines[index] }
        return line(of: path)
    }

    private struct Scan {
        let bytes: [UInt8]
        var i = 0
        var line = 1
        var keyLines: [[String]: Int] = [:]
        var elementLines: [[String]: [Int]] = [:]

        init(bytes: [UInt8]) { self.bytes = bytes }

        private var current: UInt8? { i < bytes.count ? bytes[i] : nil }
        private func peek(_ offset: Int) -> UInt8? { i + offset < bytes.count ? bytes[i + offset] : nil }

        mutating func run() {
            var table: [String] = []
            while true {
                skipBlankLinesAndComments()
                guard let c = current else { return }
                let startLine = line
                if c == UInt8(ascii: "[") {
                    i += 1
                    if current == UInt8(ascii: "[") { i += 1 }
                    guard let path = keyPath(until: UInt8(ascii: "]")) else { return }
                    table = path
                    record(path, startLine)
                    skipRestOfLine()
                } else {
                    guard let key = keyPath(until: UInt8(ascii: "=")) else { return }
                    i += 1
                    record(table + key, startLine)
                    skipValue(path: table + key)
                }
            }
        }

        /// Records the first definition of `path`, and of its parents where not yet recorded (dotted keys and
        /// `[a.b]` headers define them implicitly).
        private mutating func record(_ path: [String], _ line: Int) {
            guard !path.isEmpty else { return }
            for n in 1...path.count {
                let prefix = Array(path.prefix(n))
                if keyLines[prefix] == nil { keyLines[prefix] = line }
            }
        }

        private mutating func skipBlankLinesAndComments() {
            while let c = current {
                switch c {
                case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"): i += 1
                case UInt8(ascii: "\n"): i += 1; line += 1
                case UInt8(ascii: "#"): skipComment()
                default: return
                }
            }
        }

        private mutating func skipComment() {
            while let c = current, c != UInt8(ascii: "\n") { i += 1 }
        }

        private mutating func skipRestOfLine() {
            while let c = current, c != UInt8(ascii: "\n") {
                if c == UInt8(ascii: "#") { skipComment() } else { i += 1 }
            }
        }

        /// A dotted key (`a."b c".'d'`) ending at `terminator`, which is consumed for "]" (and "]]") only.
        private mutating func keyPath(until terminator: UInt8) -> [String]? {
            var parts: [String] = []
            while true {
                while let c = current, c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") { i += 1 }
                guard let c = current else { return nil }
                if c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") {
                    guard let part = quotedKey() else { return nil }
                    parts.append(part)
                } else {
                    let start = i
                    while let b = current, !isKeyEnd(b) { i += 1 }
                    if i == start { return nil }
                    parts.append(String(decoding: bytes[start..<i], as: UTF8.self))
                }
                while let b = current, b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") { i += 1 }
                guard let next = current else { return nil }
                if next == UInt8(ascii: ".") { i += 1; continue }
                guard next == terminator else { return nil }
                if terminator == UInt8(ascii: "]") {
                    i += 1
                    if current == UInt8(ascii: "]") { i += 1 }
                }
                return parts
            }
        }

        private func isKeyEnd(_ b: UInt8) -> Bool {
            switch b {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "."), UInt8(ascii: "="), UInt8(ascii: "]"),
                 UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "#"), UInt8(ascii: "\""), UInt8(ascii: "'"):
                return true
            default:
                return false
            }
        }

        /// A single-line basic or literal string used as a key, decoded.
        private mutating func quotedKey() -> String? {
            let quote = bytes[i]
            i += 1
            var out: [UInt8] = []
            while let c = current, c != quote {
                if c == UInt8(ascii: "\n") { return nil }
                if quote == UInt8(ascii: "\""), c == UInt8(ascii: "\\") {
                    guard let e = peek(1) else { return nil }
                    i += 2
                    switch e {
                    case UInt8(ascii: "n"): out.append(0x0a)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "r"): out.append(0x0d)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0c)
                    case UInt8(ascii: "u"), UInt8(ascii: "U"):
                        let count = e == UInt8(ascii: "u") ? 4 : 8
                        guard i + count <= bytes.count,
                              let v = UInt32(String(decoding: bytes[i..<(i + count)], as: UTF8.self), radix: 16),
                              let scalar = Unicode.Scalar(v) else { return nil }
                        out.append(contentsOf: Array(String(Character(scalar)).utf8))
                        i += count
                    default: out.append(e)
                    }
                } else {
                    out.append(c)
                    i += 1
                }
            }
            guard current == quote else { return nil }
            i += 1
            return String(decoding: out, as: UTF8.self)
        }

        /// Skips a value through the end of its line, recording where each element of a top-level array starts.
        private mutating func skipValue(path: [String]) {
            var stack: [UInt8] = []
            var expectingElement = false
            while let c = current {
                if c == UInt8(ascii: "\n") {
                    if stack.isEmpty { return }
                    i += 1
                    line += 1
                    continue
                }
                if c == UInt8(ascii: "#") { skipComment(); continue }
                if c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\r") { i += 1; continue }
                if expectingElement, stack.count == 1, c != UInt8(ascii: "]"), c != UInt8(ascii: ",") {
                    elementLines[path, default: []].append(line)
                    expectingElement = false
                }
                switch c {
                case UInt8(ascii: "\""), UInt8(ascii: "'"):
                    skipString()
                case UInt8(ascii: "["), UInt8(ascii: "{"):
                    stack.append(c)
                    expectingElement = stack.count == 1 && c == UInt8(ascii: "[")
                    i += 1
                case UInt8(ascii: "]"), UInt8(ascii: "}"):
                    if !stack.isEmpty { stack.removeLast() }
                    i += 1
                case UInt8(ascii: ","):
                    if stack.count == 1, stack[0] == UInt8(ascii: "[") { expectingElement = true }
                    i += 1
                default:
                    i += 1
                }
            }
        }

        /// Skips a basic, literal, multi-line basic or multi-line literal string, counting newlines.
        private mutating func skipString() {
            let quote = bytes[i]
            let escapes = quote == UInt8(ascii: "\"")
            if peek(1) == quote, peek(2) == quote {
                i += 3
                while let c = current {
                    if escapes, c == UInt8(ascii: "\\") { i += 2; if peek(-1) == UInt8(ascii: "\n") { line += 1 }; continue }
                    if c == UInt8(ascii: "\n") { line += 1 }
                    if c == quote, peek(1) == quote, peek(2) == quote {
                        i += 3
                        // Up to two more quotes may belong to the content: `"""a""""`.
                        var extra = 0
                        while extra < 2, current == quote { i += 1; extra += 1 }
                        return
                    }
                    i += 1
                }
                return
            }
            i += 1
            while let c = current, c != UInt8(ascii: "\n") {
                if escapes, c == UInt8(ascii: "\\") { i += 2; continue }
                i += 1
                if c == quote { return }
            }
        }
    }
}
