import Foundation

/// Idea generation's prompts (the library's ideas_first and ideas_reflection), following the AI Scientist's
/// generate_ideas flow: a first draft in the THOUGHT + ```json format, then reflection rounds that end when the
/// model writes "I am done".
enum IdeaPrompts {
    static func first(_ prompts: PromptLibrary, template: ResearchTemplate, archive: [IdeaProposal], reflections: Int) -> String {
        prompts.render("ideas_first", ["task": template.taskDescription, "code": template.code,
                                       "archive": archiveText(archive), "rounds": "\(reflections)"])
    }

    static func reflection(_ prompts: PromptLibrary, round: Int, of total: Int) -> String {
        prompts.render("ideas_reflection", ["round": "\(round)", "rounds": "\(total)"])
    }

    static func archiveText(_ ideas: [IdeaProposal]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return ideas.compactMap { (try? encoder.encode($0)).map { String(decoding: $0, as: UTF8.self) } }.joined(separator: "\n\n")
    }

    /// True when the model declared itself done: "I am done" in the text before the JSON block.
    static func isDone(_ reply: String) -> Bool {
        let thought = reply.range(of: "```json").map { String(reply[..<$0.lowerBound]) } ?? reply
        return thought.contains("I am done")
    }
}
