import GloveboxProtocol

/// A small JSON reader and writer for the client's per-run path, where Foundation's Codable costs more than
/// the rest of the client together: its first use instantiates generic metadata and scans every protocol
/// conformance in the binary, a large part of a `glovebox run` (BENCHMARKS.md). The daemon and every other
/// path keep Codable; tests check that what this writes decodes there to the same value, and that what
/// this reads agrees with Codable's reading.

/// One member of a JSON object.
public struct JSONMember: Equatable, Sendable {
    public let key: String
    public let value: JSONValue
}

/// A parsed JSON value. Numbers keep their text, so an integer is read exactly, never through a Double.
/// An object's members are a list in document order, not a Dictionary: a Dictionary's storage is generic
/// metadata instantiated at run time, which checks String's Hashable conformance by scanning every
/// conformance in the binary, time and page faults in each `glovebox run` (BENCHMARKS.md).
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([JSONMember])

    /// The member named `key` of an object (names are unique: the reader refuses duplicates).
    public subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members.first { $0.key == key }?.value }
        return nil
    }

    public var string: String? { if case .string(let s) = self { return s }; return nil }
    public var isNull: Bool { self == .null }

    public func integer<T: FixedWidthInteger>(_: T.Type = T.self) -> T? {
        if case .number(let text) = self { return T(text) }
        return nil
    }

    /// Parses one JSON document (RFC 8259), nested at most `maxDepth` deep; anything else throws
    /// ProtocolError.malformed naming the offset.
    public static func parse(_ bytes: [UInt8], maxDepth: Int = 64) throws -> JSONValue {
        var reader = Reader(bytes: bytes, maxDepth: maxDepth)
        let value = try reader.value(depth: 0)
        reader.skipSpace()
        guard reader.at == bytes.count else { throw reader.error("trailing bytes") }
        return value
    }

    private struct Reader {
        let bytes: [UInt8]
        let maxDepth: Int
        var at = 0

        init(bytes: [UInt8], maxDepth: Int) { self.bytes = bytes; self.maxDepth = maxDepth }

        func error(_ what: String) -> ProtocolError { .malformed("JSON: \(what) at byte \(at)") }

        mutating func skipSpace() {
            while at < bytes.count, bytes[at] == 0x20 || bytes[at] == 0x0A || bytes[at] == 0x0D || bytes[at] == 0x09 { at += 1 }
        }

        mutating func expect(_ literal: String) throws {
            for b in literal.utf8 {
                guard at < bytes.count, bytes[at] == b else { throw error("expected \(literal)") }
                at += 1
            }
        }

        mutating func value(depth: Int) throws -> JSONValue {
            guard depth < maxDepth else { throw error("nested too deep") }
            skipSpace()
            guard at < bytes.count else { throw error("unexpected end") }
            switch bytes[at] {
            case UInt8(ascii: "{"): return try object(depth: depth)
            case UInt8(ascii: "["): return try array(depth: depth)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try expect("true"); return .bool(true)
            case UInt8(ascii: "f"): try expect("false"); return .bool(false)
            case UInt8(ascii: "n"): try expect("null"); return .null
            default: return .number(try number())
            }
        }

        mutating func object(depth: Int) throws -> JSONValue {
            at += 1
            var members: [JSONMember] = []
            skipSpace()
            if at < bytes.count, bytes[at] == UInt8(ascii: "}") { at += 1; return .object(members) }
            while true {
                skipSpace()
                guard at < bytes.count, bytes[at] == UInt8(ascii: "\"") else { throw error("expected a member name") }
                let key = try string()
                skipSpace()
                try expect(":")
                members.append(JSONMember(key: key, value: try value(depth: depth + 1)))
                skipSpace()
                guard at < bytes.count else { throw error("unexpected end") }
                if bytes[at] == UInt8(ascii: "}") {
                    at += 1
                    try refuseDuplicates(members)
                    return .object(members)
                }
                try expect(",")
            }
        }

        /// Names sorted, then compared with their neighbours: O(n log n) whatever the input.
        func refuseDuplicates(_ members: [JSONMember]) throws {
            guard members.count > 1 else { return }
            let names = members.map(\.key).sorted()
            for i in 1..<names.count where names[i] == names[i - 1] { throw error("duplicate member \"\(names[i])\"") }
        }

        mutating func array(depth: Int) throws -> JSONValue {
            at += 1
            var elements: [JSONValue] = []
            skipSpace()
            if at < bytes.count, bytes[at] == UInt8(ascii: "]") { at += 1; return .array(elements) }
            while true {
                elements.append(try value(depth: depth + 1))
                skipSpace()
                guard at < bytes.count else { throw error("unexpected end") }
                if bytes[at] == UInt8(ascii: "]") { at += 1; return .array(elements) }
                try expect(",")
            }
        }

        /// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
        mutating func number() throws -> String {
            let start = at
            func digits(_ r: inout Reader) -> Int {
                let from = r.at
                while r.at < r.bytes.count, r.bytes[r.at] >= 0x30, r.bytes[r.at] <= 0x39 { r.at += 1 }
                return r.at - from
            }
            if at < bytes.count, bytes[at] == UInt8(ascii: "-") { at += 1 }
            let leadingZero = at < bytes.count && bytes[at] == 0x30
            let intDigits = digits(&self)
            guard intDigits > 0, !(leadingZero && intDigits > 1) else { throw error("malformed number") }
            if at < bytes.count, bytes[at] == UInt8(ascii: ".") {
                at += 1
                guard digits(&self) > 0 else { throw error("malformed number") }
            }
            if at < bytes.count, bytes[at] == UInt8(ascii: "e") || bytes[at] == UInt8(ascii: "E") {
                at += 1
                if at < bytes.count, bytes[at] == UInt8(ascii: "+") || bytes[at] == UInt8(ascii: "-") { at += 1 }
                guard digits(&self) > 0 else { throw error("malformed number") }
            }
            return String(decoding: bytes[start..<at], as: UTF8.self)
        }

        mutating func hex4() throws -> UInt32 {
            guard at + 4 <= bytes.count else { throw error("truncated \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let b = bytes[at]
                let d: UInt8
                switch b {
                case 0x30...0x39: d = b - 0x30
                case 0x41...0x46: d = b - 0x41 + 10
                case 0x61...0x66: d = b - 0x61 + 10
                default: throw error("bad \\u escape")
                }
                v = v << 4 | UInt32(d)
                at += 1
            }
            return v
        }

        mutating func string() throws -> String {
            at += 1  // the opening quote
            var out: [UInt8] = []
            while true {
                guard at < bytes.count else { throw error("unterminated string") }
                let b = bytes[at]
                at += 1
                switch b {
                case UInt8(ascii: "\""):
                    // Invalid UTF-8 is an error, not silently repaired.
                    guard let s = String(validating: out, as: UTF8.self) else { throw error("invalid UTF-8 in a string") }
                    return s
                case UInt8(ascii: "\\"):
                    guard at < bytes.count else { throw error("unterminated string") }
                    let e = bytes[at]
                    at += 1
                    switch e {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        var scalar = try hex4()
                        if (0xD800...0xDBFF).contains(scalar) {
                            guard at + 2 <= bytes.count, bytes[at] == UInt8(ascii: "\\"), bytes[at + 1] == UInt8(ascii: "u") else {
                                throw error("unpaired surrogate")
                            }
                            at += 2
                            let low = try hex4()
                            guard (0xDC00...0xDFFF).contains(low) else { throw error("unpaired surrogate") }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        }
                        guard let u = Unicode.Scalar(scalar) else { throw error("unpaired surrogate") }
                        out.append(contentsOf: String(Character(u)).utf8)
                    default: throw error("bad escape")
                    }
                case 0x00..<0x20: throw error("control character in a string")
                default: out.append(b)
                }
            }
        }
    }
}

/// Builds a JSON object member by member, in the order written.
public struct JSONObjectWriter {
    public private(set) var bytes: [UInt8] = [UInt8(ascii: "{")]
    private var first = true

    public init() {}

    private mutating func key(_ name: String) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
        JSONObjectWriter.appendString(name, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
    }

    public mutating func add(_ name: String, _ value: String) { key(name); Self.appendString(value, to: &bytes) }
    public mutating func add(_ name: String, _ value: Bool) { key(name); bytes.append(contentsOf: (value ? "true" : "false").utf8) }
    public mutating func add<T: FixedWidthInteger>(_ name: String, _ value: T?) {
        key(name)
        bytes.append(contentsOf: (value.map { String($0) } ?? "null").utf8)
    }
    /// Non-finite values as the strings "inf", "-inf" and "nan", as `Wire.encode` writes them.
    public mutating func add(_ name: String, _ value: Double?) {
        key(name)
        guard let value else { bytes.append(contentsOf: "null".utf8); return }
        if value.isNaN { Self.appendString("nan", to: &bytes) }
        else if value.isInfinite { Self.appendString(value < 0 ? "-inf" : "inf", to: &bytes) }
        else { bytes.append(contentsOf: "\(value)".utf8) }  // the shortest text that reads back exactly
    }
    public mutating func add(_ name: String, _ values: [String]) {
        key(name)
        bytes.append(UInt8(ascii: "["))
        for (i, v) in values.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            Self.appendString(v, to: &bytes)
        }
        bytes.append(UInt8(ascii: "]"))
    }
    public mutating func add(_ name: String, _ values: [String: String]) {
        key(name)
        var object = JSONObjectWriter()
        for (k, v) in values.sorted(by: { $0.key < $1.key }) { object.add(k, v) }
        bytes.append(contentsOf: object.finished())
    }
    public mutating func add(_ name: String, object: JSONObjectWriter) { key(name); bytes.append(contentsOf: object.finished()) }

    public func finished() -> [UInt8] { bytes + [UInt8(ascii: "}")] }

    static func appendString(_ s: String, to out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), b])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), b])
            case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x00..<0x20:
                out.append(contentsOf: Array("\\u00".utf8))
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 0xF)])
            default: out.append(b)  // UTF-8 passes through: a Swift String is valid UTF-8
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
