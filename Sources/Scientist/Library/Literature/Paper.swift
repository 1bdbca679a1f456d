/// One search result, whichever engine found it.
public struct Paper: Codable, Sendable, Equatable {
    /// The engine's own id (a Semantic Scholar paperId, an OpenAlex work URL).
    public var id: String?
    public var title: String
    public var authors: [String]
    public var venue: String?
    public var year: Int?
    public var abstract: String?
    public var citationCount: Int?
    /// BibTeX where the engine gives it (Semantic Scholar's citationStyles.bibtex).
    public var bibtex: String?

    public init(id: String?, title: String, authors: [String], venue: String?, year: Int?, abstract: String?,
                citationCount: Int?, bibtex: String?) {
        self.id = id
        self.title = title
        self.authors = authors
        self.venue = venue
        self.year = year
        self.abstract = abstract
        self.citationCount = citationCount
        self.bibtex = bibtex
    }
}
