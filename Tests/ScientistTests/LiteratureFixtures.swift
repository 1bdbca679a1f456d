import Foundation
@testable import Scientist

/// Literature APIs' replies in their real wire formats.
enum LiteratureWire {
    static func semanticScholar(_ papers: [(id: String, title: String)], total: Int? = nil) -> TestHTTPServer.Reply {
        let data: [[String: Any]] = papers.enumerated().map { index, paper in
            [
                "paperId": paper.id, "title": paper.title, "venue": index == 0 ? "NeurIPS" : "",
                "year": 2020 + index, "abstract": "Abstract of \(paper.title).", "citationCount": 10 * (index + 1),
                "authors": [["authorId": "1", "name": "Ada Lovelace"], ["authorId": "2", "name": "Alan Turing"]],
                "citationStyles": ["bibtex": "@inproceedings{\(paper.id),\n title={\(paper.title)}\n}"],
            ]
        }
        return Wire.json(["total": total ?? papers.count, "offset": 0, "next": papers.count, "data": data])
    }

    static func openAlex(_ papers: [(id: String, title: String)]) -> TestHTTPServer.Reply {
        let results: [[String: Any]] = papers.map { paper in
            [
                "id": "https://openalex.org/\(paper.id)", "title": paper.title, "display_name": paper.title,
                "publication_year": 2023, "cited_by_count": 42,
                "authorships": [["author": ["id": "A1", "display_name": "Grace Hopper"]]],
                "primary_location": ["source": ["display_name": "ICML"]],
                "abstract_inverted_index": ["We": [0], "study": [1], paper.title: [2], "deeply": [3]],
            ]
        }
        return Wire.json(["meta": ["count": 1234, "page": 1, "per_page": 25], "results": results])
    }
}
