import Foundation

/// Decides whether a new idea repeats one already in the archive. A duplicate has the same name (ignoring
/// case), the same title once case, punctuation and spacing are ignored, or a title whose content words (short
/// function words dropped) overlap those of an archived title by 80% or more (Jaccard index), when both
/// titles have at least four content words.
public enum IdeaDeduplicator {
    static let threshold = 0.8
    static let functionWords: Set<String> = ["a", "an", "the", "of", "for", "in", "on", "and", "to", "with", "via", "by",
                                             "from", "at", "as", "into", "using", "through", "towards", "toward"]

    /// Why `idea` duplicates one of `archive`, or nil.
    public static func duplicate(_ idea: IdeaProposal, among archive: [IdeaProposal]) -> String? {
        let words = contentWords(idea.title)
        for other in archive {
            if other.name.lowercased() == idea.name.lowercased() { return "the archive already has an idea named \(other.name)" }
            if normalised(other.title) == normalised(idea.title) { return "same title as archived idea \(other.name)" }
            let otherWords = contentWords(other.title)
            if words.count >= 4, otherWords.count >= 4 {
                let overlap = Double(words.intersection(otherWords).count) / Double(words.union(otherWords).count)
                if overlap >= threshold {
                    return "title nearly identical to archived idea \(other.name) (\(Int((overlap * 100).rounded()))% of words shared)"
                }
            }
        }
        return nil
    }

    /// Lowercase letters and digits only, words separated by one space.
    static func normalised(_ title: String) -> String {
        title.lowercased().split { !($0.isLetter || $0.isNumber) }.joined(separator: " ")
    }

    static func contentWords(_ title: String) -> Set<String> {
        Set(normalised(title).split(separator: " ").map(String.init).filter { !functionWords.contains($0) })
    }
}
