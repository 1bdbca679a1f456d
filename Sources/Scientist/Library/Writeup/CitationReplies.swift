import Foundation

/// A citation round's first answer: the citation the paper needs (Description) and a search that finds it
/// (Query), or Query null when the paper needs no more.
public struct CitationQuery: ValidatedReply, Equatable {
    public var thought: String
    public var description: String?
    public var query: String?

    enum CodingKeys: String, CodingKey { case thought = "Thought", description = "Description", query = "Query" }

    public func validationProblems() -> [String] {
        guard let query else { return [] }
        if query.trimmingCharacters(in: .whitespaces).isEmpty || query.count > 300 { return ["Query must be 1 to 300 characters, or null"] }
        if (description ?? "").isEmpty { return ["Description must say where the citation goes and why"] }
        return []
    }

    public static let replySchema: ReplySchema? = ReplySchema(name: "citation_query", json: """
        {"type": "object", "additionalProperties": false,
         "required": ["Thought", "Description", "Query"],
         "properties": {
           "Thought": {"type": "string"},
           "Description": {"type": ["string", "null"], "description": "where the citation goes and why"},
           "Query": {"type": ["string", "null"], "description": "a literature search query, or null when no more citations are needed"}}}
        """)
}

/// A citation round's second answer: the search results chosen, by their 1-based numbers.
public struct CitationChoice: ValidatedReply, Equatable {
    public var thought: String
    public var selected: [Int]
    public var description: String

    enum CodingKeys: String, CodingKey { case thought = "Thought", selected = "Selected", description = "Description" }

    public func validationProblems() -> [String] {
        if selected.contains(where: { $0 < 1 }) { return ["Selected holds the papers' numbers, from 1"] }
        if !selected.isEmpty && description.isEmpty { return ["Description must say how the paper cites them"] }
        return []
    }

    public static let replySchema: ReplySchema? = ReplySchema(name: "citation_choice", json: """
        {"type": "object", "additionalProperties": false,
         "required": ["Thought", "Selected", "Description"],
         "properties": {
           "Thought": {"type": "string"},
           "Selected": {"type": "array", "items": {"type": "integer"}, "description": "the chosen papers' numbers; empty for none"},
           "Description": {"type": "string"}}}
        """)
}
