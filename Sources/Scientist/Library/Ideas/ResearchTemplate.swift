import Foundation

/// A template in the AI Scientist's layout: `experiment.py` (takes `--out_dir`, writes `final_info.json`),
/// `plot.py`, `prompt.json` (`system`, `task_description`), `seed_ideas.json`, `latex/template.tex`, and a
/// baseline `run_0/`. The AI Scientist's own templates load unchanged.
public struct ResearchTemplate: Sendable {
    public let name: String
    public let directory: String
    public let system: String
    public let taskDescription: String
    /// The text of experiment.py, shown to the model.
    public let code: String
    public let seedIdeas: [IdeaProposal]

    /// Files of the contract the later stages need; `ideas` and `novelty` need only the first three.
    public static let contractFiles = ["experiment.py", "prompt.json", "seed_ideas.json", "plot.py", "latex/template.tex"]

    /// `reference` is a directory path, or the name of a directory under one of `searchPath`.
    public static func locate(_ reference: String, searchPath: [String]) throws(ScientistError) -> String {
        var isDirectory: ObjCBool = false
        if reference.contains("/") {
            guard FileManager.default.fileExists(atPath: reference, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw .template("\(reference): no such directory")
            }
            return reference
        }
        for base in searchPath {
            let candidate = base + "/" + reference
            if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory), isDirectory.boolValue { return candidate }
        }
        throw .template("no template called \(reference) in \(searchPath.joined(separator: ", ")) (give a path, or set --templates-dir)")
    }

    public static func load(directory: String) throws(ScientistError) -> ResearchTemplate {
        let name = URL(fileURLWithPath: directory).standardizedFileURL.lastPathComponent
        let code = try text(directory, "experiment.py")
        let prompt = try decode(Prompt.self, directory, "prompt.json")
        let seeds = try decode([IdeaProposal].self, directory, "seed_ideas.json")
        for seed in seeds {
            let problems = seed.validationProblems()
            guard problems.isEmpty else {
                throw .template("\(directory)/seed_ideas.json: seed idea \(seed.name): \(problems.joined(separator: "; "))")
            }
        }
        return ResearchTemplate(name: name, directory: directory, system: prompt.system,
                                taskDescription: prompt.task_description, code: code, seedIdeas: seeds)
    }

    /// Contract files missing from the template directory.
    public var missingFiles: [String] {
        Self.contractFiles.filter { !FileManager.default.fileExists(atPath: directory + "/" + $0) }
    }

    private struct Prompt: Decodable {
        let system: String
        let task_description: String
    }

    private static func text(_ directory: String, _ file: String) throws(ScientistError) -> String {
        let path = directory + "/" + file
        guard let data = FileManager.default.contents(atPath: path) else { throw .template("\(path): cannot read (the template contract requires it)") }
        return String(decoding: data, as: UTF8.self)
    }

    private static func decode<T: Decodable>(_ type: T.Type, _ directory: String, _ file: String) throws(ScientistError) -> T {
        let body = try text(directory, file)
        do {
            return try JSONDecoder().decode(T.self, from: Data(body.utf8))
        } catch {
            throw .template("\(directory)/\(file): \(ProviderHTTP.describe(error))")
        }
    }
}
