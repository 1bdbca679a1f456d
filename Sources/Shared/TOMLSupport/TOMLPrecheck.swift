/// What the TOML parser under TOMLKit (toml++ 3.4) must not be given: inputs that break its internal
/// assumptions, which it checks with assert() in a debug build (the daemon aborts) and tells the compiler
/// to assume in a release build (undefined behaviour). The in-process fuzzer found them (fuzz/README.md):
/// a table header whose name is not on the line of its '[' ("[\nlimits]"), a '}' where an array expects a
/// value ("groups = [}"), and whitespace that TOML does not allow where a value or a key must start (a
/// vertical tab or form feed, U+0085, U+2028 or U+2029 outside a string). TOML itself forbids all of these, so refusing them first, with the line, changes what is
/// accepted not at all, and keeps a malformed policy an error that names it.
package enum TOMLPrecheck {
    /// The first such problem in `bytes` (UTF-8), with its line; nil when the text may be parsed.
    package static func problem(_ bytes: [UInt8]) -> (line: Int, message: String)? {
        var scanner = Scanner(bytes)
        return scanner.run()
    }

    private enum State { case normal, comment, basic, literal, multilineBasic, multilineLiteral }

    private struct Scanner {
        let bytes: [UInt8]
        var i = 0
        var line = 1
        var state = State.normal
        /// The open '[' and '{' of values (arrays, inline tables), innermost last: a '[' at the start of a
        /// line is a table header only outside them.
        var open: [UInt8] = []
        /// Nothing but blanks so far on this line.
        var lineStart = true

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        func at(_ offset: Int) -> UInt8? { i + offset < bytes.count ? bytes[i + offset] : nil }

        func starts(_ text: StaticString) -> Bool {
            let count = text.utf8CodeUnitCount
            guard i + count <= bytes.count else { return false }
            return (0..<count).allSatisfy { bytes[i + $0] == text.utf8Start[$0] }
        }

        mutating func run() -> (line: Int, message: String)? {
            while i < bytes.count {
                let b = bytes[i]
                if let problem = controlCharacter(b) { return (line, problem) }
                if b == 0x0A {
                    line += 1
                    // A comment ends here; so does a one-line string (the parser stops there, unclosed).
                    if state == .comment || state == .basic || state == .literal { state = .normal }
                    lineStart = true
                    i += 1
                    continue
                }
                if state == .normal {
                    if let problem = normal(b) { return (line, problem) }
                } else {
                    inside(b)
                }
            }
            return nil
        }

        /// TOML allows no control character but tab and line breaks, in strings and comments too.
        func controlCharacter(_ b: UInt8) -> String? {
            let allowed = b == 0x09 || b == 0x0A || (b == 0x0D && at(1) == 0x0A)
            guard (b < 0x20 || b == 0x7F) && !allowed else { return nil }
            let hex = String(b, radix: 16, uppercase: true)
            return "control character U+\(hex.count < 2 ? "000" : "00")\(hex) is not allowed in TOML (only tabs and line breaks are)"
        }

        /// Outside strings and comments.
        mutating func normal(_ b: UInt8) -> String? {
            if let name = unicodeBreak() { return "\(name) is only allowed inside a string or a comment" }
            switch b {
            case UInt8(ascii: "#"):
                state = .comment
            case UInt8(ascii: "\""):
                state = starts("\"\"\"") ? .multilineBasic : .basic
                i += state == .multilineBasic ? 2 : 0
            case UInt8(ascii: "'"):
                state = starts("'''") ? .multilineLiteral : .literal
                i += state == .multilineLiteral ? 2 : 0
            case UInt8(ascii: "[") where open.isEmpty && lineStart:
                if let problem = tableHeader() { return problem }
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                open.append(b)
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                // A table header's ']' closes nothing on the stack.
                if let innermost = open.popLast(), innermost != (b == UInt8(ascii: "]") ? UInt8(ascii: "[") : UInt8(ascii: "{")) {
                    return "'\(Character(Unicode.Scalar(b)))' closes a '\(Character(Unicode.Scalar(innermost)))'"
                }
            default:
                break
            }
            lineStart = lineStart && (b == 0x20 || b == 0x09)
            i += 1
            return nil
        }

        /// At the '[' of a table header ('[' or '[['): the name must follow on the same line.
        mutating func tableHeader() -> String? {
            var j = i + 1
            if j < bytes.count && bytes[j] == UInt8(ascii: "[") { j += 1 }
            while j < bytes.count && (bytes[j] == 0x20 || bytes[j] == 0x09) { j += 1 }
            guard j < bytes.count, Self.mayStartHeaderName(bytes[j]) else {
                return "a table header needs its name on the line of its '['"
            }
            i = j - 1  // the name is scanned as usual; its closing ']' finds nothing open
            return nil
        }

        static func mayStartHeaderName(_ b: UInt8) -> Bool {
            (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
                || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
                || b == UInt8(ascii: "\"") || b == UInt8(ascii: "'") || b == UInt8(ascii: "]")
        }

        /// U+0085, U+2028 or U+2029 at `i`, which the parser takes for whitespace where TOML has none.
        func unicodeBreak() -> String? {
            if bytes[i] == 0xC2 && at(1) == 0x85 { return "U+0085 (next line)" }
            if bytes[i] == 0xE2 && at(1) == 0x80 && (at(2) == 0xA8 || at(2) == 0xA9) {
                return at(2) == 0xA8 ? "U+2028 (line separator)" : "U+2029 (paragraph separator)"
            }
            return nil
        }

        /// Inside a string or a comment: only its end matters.
        mutating func inside(_ b: UInt8) {
            switch state {
            case .basic where b == UInt8(ascii: "\\"), .multilineBasic where b == UInt8(ascii: "\\"):
                // An escaped line break in a multi-line string is counted when the scan reaches it.
                i += at(1) == 0x0A ? 1 : 2
                return
            case .basic where b == UInt8(ascii: "\""), .literal where b == UInt8(ascii: "'"):
                state = .normal
            case .multilineBasic where starts("\"\"\""), .multilineLiteral where starts("'''"):
                // Up to two more quotes belong to the string ("""a""""): they close it with the delimiter.
                let quote = b
                i += 3
                var extra = 0
                while extra < 2, at(0) == quote { i += 1; extra += 1 }
                state = .normal
                lineStart = false
                return
            default:
                break
            }
            i += 1
        }
    }
}
