import TOMLKit

/// A problem in a TOML file, at a line where known: "policies/x.toml:12: limits.memory: expected a string,
/// found a boolean". Each reader maps it to its own error type (PolicyError, ConfigError).
package struct TOMLFileError: Error, Sendable, Equatable {
    package let file: String
    package let line: Int?
    package let message: String
}

/// Typed reads from a parsed TOML document, each failure naming the file, the line of the key and its
/// dotted path. Shared by gloveboxd's policy and config parsers and by the scientist's config.
package struct TOMLReader: Sendable {
    package let source: String
    package let locator: TOMLLineLocator

    package init(source: String, text: String) {
        self.source = source
        locator = TOMLLineLocator(text)
    }

    /// The document in `text`, refusing NULs (TOMLKit passes strings through C, where a NUL would silently cut
    /// a value short) and what the parser must not be given (TOMLPrecheck); syntax errors carry their line.
    package static func document(_ text: String, source: String) throws(TOMLFileError) -> TOMLTable {
        if let line = nulLine(Array(text.utf8)) {
            throw TOMLFileError(file: source, line: line, message: "NUL characters are not allowed (raw or as \\u0000)")
        }
        if let problem = TOMLPrecheck.problem(Array(text.utf8)) {
            throw TOMLFileError(file: source, line: problem.line, message: problem.message)
        }
        do {
            return try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw TOMLFileError(file: source, line: error.source.begin.line,
                                message: "TOML syntax error at column \(error.source.begin.column): \(error.description)")
        } catch {
            throw TOMLFileError(file: source, line: nil, message: "TOML syntax error: \(error)")
        }
    }

    /// The line of the first raw NUL byte or `\u0000` / `\U00000000` escape, if any.
    package static func nulLine(_ bytes: [UInt8]) -> Int? {
        let short = Array(#"\u0000"#.utf8), long = Array(#"\U00000000"#.utf8)
        var line = 1
        for i in bytes.indices {
            if bytes[i] == 0x0a { line += 1 }
            if bytes[i] == 0 { return line }
            if bytes[i] == UInt8(ascii: "\\"),
               bytes[i...].starts(with: short) || bytes[i...].starts(with: long) { return line }
        }
        return nil
    }

    // MARK: - Values (nil when the key is absent)

    package func table(_ parent: TOMLTable, _ path: [String]) throws(TOMLFileError) -> TOMLTable? {
        guard let value = parent[path[path.count - 1]] else { return nil }
        guard let table = value.table else { throw typeError(path, "a table", value) }
        return table
    }

    package func string(_ parent: TOMLTable, _ path: [String]) throws(TOMLFileError) -> String? {
        guard let value = parent[path[path.count - 1]] else { return nil }
        guard let string = value.string else { throw typeError(path, "a string", value) }
        return string
    }

    package func integer(_ parent: TOMLTable, _ path: [String]) throws(TOMLFileError) -> Int? {
        guard let value = parent[path[path.count - 1]] else { return nil }
        guard let int = value.int else { throw typeError(path, "an integer", value) }
        return int
    }

    /// An integer or a float (inf and nan included: the caller's range check names them).
    package func number(_ parent: TOMLTable, _ path: [String]) throws(TOMLFileError) -> Double? {
        guard let value = parent[path[path.count - 1]] else { return nil }
        if let int = value.int { return Double(int) }
        guard let double = value.double else { throw typeError(path, "a number", value) }
        return double
    }

    package func strings(_ parent: TOMLTable, _ path: [String]) throws(TOMLFileError) -> [String]? {
        guard let value = parent[path[path.count - 1]] else { return nil }
        guard let array = value.array else { throw typeError(path, "an array of strings", value) }
        var out: [String] = []
        for (index, element) in array.enumerated() {
            guard let string = element.string else {
                throw fail(path, element: index, "expected a string, found \(Self.kind(element.type))")
            }
            out.append(string)
        }
        return out
    }

    /// Keys of `table` (at `path`, [] for the top level) that are not in `known`, refused with the known ones.
    package func refuseUnknownKeys(_ table: TOMLTable, _ path: [String], known: [String]) throws(TOMLFileError) {
        for key in table.keys.sorted() where !known.contains(key) {
            let place = path.isEmpty ? "" : " in [\(path.joined(separator: "."))]"
            throw fail(path + [key], "unknown key\(place) (known: \(known.sorted().joined(separator: ", ")))")
        }
    }

    // MARK: - Errors

    package func fail(_ path: [String], _ message: String) -> TOMLFileError {
        TOMLFileError(file: source, line: locator.line(of: path), message: "\(path.joined(separator: ".")): \(message)")
    }

    package func fail(_ path: [String], element index: Int, _ message: String) -> TOMLFileError {
        TOMLFileError(file: source, line: locator.line(of: path, element: index), message: "\(path.joined(separator: "."))[\(index)]: \(message)")
    }

    package func typeError(_ path: [String], _ expected: String, _ value: TOMLValueConvertible) -> TOMLFileError {
        fail(path, "expected \(expected), found \(Self.kind(value.type))")
    }

    package static func kind(_ type: TOMLType) -> String {
        switch type {
        case .table: "a table"
        case .array: "an array"
        case .string: "a string"
        case .int: "an integer"
        case .double: "a float"
        case .bool: "a boolean"
        case .date: "a date"
        case .time: "a time"
        case .dateTime: "a date-time"
        }
    }
}
