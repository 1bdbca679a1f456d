import Foundation

/// One search/replace edit in the format of Aider's "diff" edits: the file's path on a line of its own, then
/// (usually inside a code fence)
///
///     <<<<<<< SEARCH
///     lines the file holds now
///     =======
///     the lines that replace them
///     >>>>>>> REPLACE
///
/// An empty SEARCH part creates the file, or appends to it.
public struct EditBlock: Sendable, Equatable {
    public var path: String
    public var search: String
    public var replace: String
    /// 1-based number of the block in its reply, for messages to the model.
    public var index: Int

    public init(path: String, search: String, replace: String, index: Int) {
        self.path = path; self.search = search; self.replace = replace; self.index = index
    }
}

/// What a reply held: the blocks that parsed, and the problems of those that did not (each told to the model).
public struct ParsedEdits: Sendable, Equatable {
    public var blocks: [EditBlock] = []
    public var problems: [String] = []
}

public enum EditBlockParser {
    static func isSearch(_ line: Substring) -> Bool { marker(line, "<", "SEARCH") }
    static func isDivider(_ line: Substring) -> Bool {
        let t = line.trimmingCharacters(in: .whitespaces)
        return t.count >= 5 && t.count <= 9 && t.allSatisfy { $0 == "=" }
    }
    static func isReplace(_ line: Substring) -> Bool { marker(line, ">", "REPLACE") }

    /// Aider accepts 5 to 9 marker characters; so does this.
    private static func marker(_ line: Substring, _ character: Character, _ word: String) -> Bool {
        let t = line.trimmingCharacters(in: .whitespaces)
        guard t.hasSuffix(word) else { return false }
        let head = t.dropLast(word.count).trimmingCharacters(in: .whitespaces)
        return head.count >= 5 && head.count <= 9 && head.allSatisfy { $0 == character }
    }

    public static func parse(_ reply: String) -> ParsedEdits {
        let lines = reply.split(separator: "\n", omittingEmptySubsequences: false).map { $0.hasSuffix("\r") ? $0.dropLast() : $0 }
        var result = ParsedEdits()
        var lastPath: String?
        var i = 0
        var index = 0
        while i < lines.count {
            guard isSearch(lines[i]) else { i += 1; continue }
            index += 1
            let path = pathLine(before: i, in: lines) ?? lastPath
            var j = i + 1
            var search: [Substring] = []
            while j < lines.count, !isDivider(lines[j]), !isSearch(lines[j]), !isReplace(lines[j]) { search.append(lines[j]); j += 1 }
            guard j < lines.count, isDivider(lines[j]) else {
                result.problems.append("block \(index): a `<<<<<<< SEARCH` without its `=======` line")
                i = j
                continue
            }
            j += 1
            var replace: [Substring] = []
            while j < lines.count, !isReplace(lines[j]), !isSearch(lines[j]), !isDivider(lines[j]) { replace.append(lines[j]); j += 1 }
            guard j < lines.count, isReplace(lines[j]) else {
                result.problems.append("block \(index): a SEARCH/REPLACE block without its `>>>>>>> REPLACE` line")
                i = j
                continue
            }
            i = j + 1
            guard let path else {
                result.problems.append("block \(index): no file path before `<<<<<<< SEARCH` (put the path on the line before the block's opening fence)")
                continue
            }
            lastPath = path
            result.blocks.append(EditBlock(path: path, search: joined(search), replace: joined(replace), index: index))
        }
        return result
    }

    /// The block's lines as file text: each line ends with a newline, as in the file.
    private static func joined(_ lines: [Substring]) -> String {
        lines.isEmpty ? "" : lines.joined(separator: "\n") + "\n"
    }

    /// The path named above a block: the nearest non-blank line before it, skipping one opening fence
    /// (```python); surrounding backticks, asterisks, a trailing colon and a leading "File:" are dropped.
    static func pathLine(before index: Int, in lines: [Substring]) -> String? {
        var k = index - 1
        while k >= 0, lines[k].trimmingCharacters(in: .whitespaces).isEmpty { k -= 1 }
        if k >= 0, lines[k].trimmingCharacters(in: .whitespaces).hasPrefix("```") {
            k -= 1
            while k >= 0, lines[k].trimmingCharacters(in: .whitespaces).isEmpty { k -= 1 }
        }
        guard k >= 0 else { return nil }
        var text = lines[k].trimmingCharacters(in: .whitespaces)
        if isReplace(lines[k]) || text.hasPrefix("```") { return nil }
        for prefix in ["File:", "file:", "Filename:", "filename:"] where text.hasPrefix(prefix) {
            text = String(text.dropFirst(prefix.count)).trimmingCharacters(in: .whitespaces)
        }
        text = text.trimmingCharacters(in: CharacterSet(charactersIn: "`*#:\"' "))
        guard !text.isEmpty, !text.contains(" ") else { return nil }
        return text
    }
}
