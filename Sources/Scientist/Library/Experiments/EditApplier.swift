import Foundation

/// Applies a reply's edit blocks to the workspace, one at a time and strictly: an exact match first, unique;
/// else a match that ignores only each line's leading and trailing whitespace, if it is unique; else the block
/// is refused and the model is told which block, why, and the nearest lines of the file.
public struct EditApplier: Sendable {
    public let files: WorkspaceFiles

    public init(files: WorkspaceFiles) { self.files = files }

    public struct Outcome: Sendable, Equatable {
        /// Files changed, in the order first changed.
        public var changed: [String] = []
        public var applied: [Int] = []
        /// One message per refused block, for the model.
        public var refusals: [String] = []
    }

    public func apply(_ blocks: [EditBlock]) -> Outcome {
        var outcome = Outcome()
        for block in blocks {
            if let refusal = files.refusal(block.path) {
                outcome.refusals.append("Block \(block.index) (\(block.path)) was not applied: \(refusal).")
                continue
            }
            do throws(WorkspaceFiles.Failure) {
                let current = try files.read(block.path)
                switch Self.replace(in: current, block) {
                case .success(let text):
                    if text != current {
                        try files.write(block.path, text)
                        if !outcome.changed.contains(block.path) { outcome.changed.append(block.path) }
                    }
                    outcome.applied.append(block.index)
                case .failure(let problem):
                    outcome.refusals.append("Block \(block.index) (\(block.path)) was not applied: \(problem.message)")
                }
            } catch {
                outcome.refusals.append("Block \(block.index) (\(block.path)) was not applied: \(error).")
            }
        }
        return outcome
    }

    public struct Problem: Error, Equatable {
        public var message: String
    }

    /// The file's new text, or why the block does not apply. `current` nil: the file does not exist.
    static func replace(in current: String?, _ block: EditBlock) -> Result<String, Problem> {
        guard let current else {
            guard block.search.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                return .failure(Problem(message: "the file does not exist. To create it, leave the SEARCH part empty."))
            }
            return .success(block.replace)
        }
        // A SEARCH part of blank lines only is an empty one (models often leave a blank line there).
        if block.search.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            let separator = current.isEmpty || current.hasSuffix("\n") ? "" : "\n"
            return .success(current + separator + block.replace)
        }
        let exact = occurrences(of: block.search, in: current)
        if exact.count == 1 {
            var text = current
            text.replaceSubrange(exact[0], with: block.replace)
            return .success(text)
        }
        if exact.count > 1 {
            return .failure(Problem(message: "the SEARCH text was found \(exact.count) times. Make it unique by including more of the surrounding lines."))
        }
        let lines = current.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let wanted = trimmedLines(block.search)
        let matches = lineMatches(wanted, in: lines)
        if matches.count == 1 {
            let start = matches[0]
            var result = Array(lines[..<start])
            var replacement = block.replace.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            if replacement.last == "" { replacement.removeLast() }
            result += replacement
            result += lines[(start + wanted.count)...]
            return .success(result.joined(separator: "\n"))
        }
        if matches.count > 1 {
            return .failure(Problem(message: "the SEARCH text was not found exactly, and ignoring leading and trailing whitespace it matches \(matches.count) places (lines \(matches.map { String($0 + 1) }.joined(separator: ", "))). Quote the lines exactly, with more context."))
        }
        return .failure(Problem(message: "the SEARCH text was not found in the file. The nearest lines in \(block.path) are:\n\(nearest(wanted, in: lines))\nQuote the file's lines exactly, including whitespace and comments."))
    }

    static func occurrences(of needle: String, in haystack: String) -> [Range<String.Index>] {
        var found: [Range<String.Index>] = []
        var from = haystack.startIndex
        while from < haystack.endIndex, let range = haystack.range(of: needle, range: from..<haystack.endIndex) {
            found.append(range)
            from = haystack.index(after: range.lowerBound)
        }
        return found
    }

    /// The block's lines, each trimmed; leading and trailing blank lines dropped.
    static func trimmedLines(_ text: String) -> [String] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        while lines.first == "" { lines.removeFirst() }
        while lines.last == "" { lines.removeLast() }
        return lines
    }

    /// Start indices in `lines` where `wanted` matches line by line, ignoring each line's outer whitespace.
    static func lineMatches(_ wanted: [String], in lines: [String]) -> [Int] {
        guard wanted.count <= lines.count else { return [] }
        return (0...(lines.count - wanted.count)).filter { start in
            wanted.indices.allSatisfy { lines[start + $0].trimmingCharacters(in: .whitespaces) == wanted[$0] }
        }
    }

    /// The window of the file most like the SEARCH lines (most lines equal after trimming), numbered.
    static func nearest(_ wanted: [String], in lines: [String]) -> String {
        guard !lines.isEmpty else { return "    (the file is empty)" }
        let width = min(max(wanted.count, 1), lines.count)
        let wantedSet = Set(wanted)
        var best = 0, bestScore = -1
        for start in 0...(lines.count - width) {
            var score = 0
            for k in 0..<width where lines[start + k].trimmingCharacters(in: .whitespaces) == wanted[min(k, wanted.count - 1)] { score += 2 }
            for k in 0..<width where wantedSet.contains(lines[start + k].trimmingCharacters(in: .whitespaces)) { score += 1 }
            if score > bestScore { best = start; bestScore = score }
        }
        let from = max(0, best - 2), to = min(lines.count, best + width + 2)
        return (from..<to).map { String(format: "%5d | ", $0 + 1) + lines[$0] }.joined(separator: "\n")
    }
}
