import Foundation

/// The prompts of idea generation, following the AI Scientist's generate_ideas flow: a first draft in the
/// THOUGHT + ```json format, then reflection rounds that end when the model writes "I am done".
enum IdeaPrompts {
    static func first(template: ResearchTemplate, archive: [IdeaProposal], reflections: Int) -> String {
        """
        \(template.taskDescription)
        <experiment.py>
        \(template.code)
        </experiment.py>

        These ideas exist already (do not repeat them, their names, or their titles):

        '''
        \(archiveText(archive))
        '''

        Come up with the next impactful and creative idea for research experiments and directions that you can \
        feasibly investigate with the code provided. You will have no access to additional resources or datasets. \
        Make sure the idea does not overfit the specific training dataset or model, and has wider significance.

        \(format)

        In <THOUGHT>, first briefly discuss your intuitions and motivations for the idea. Detail your high-level plan, \
        necessary design choices and ideal outcomes of the experiments. Justify how the idea differs from the existing ones.

        \(fields)

        Be cautious and realistic in your ratings. The JSON is parsed automatically, so make its format exact.
        You will have \(reflections) rounds to iterate on the idea, but do not need to use them all.
        """
    }

    static func reflection(round: Int, of total: Int) -> String {
        """
        Round \(round)/\(total).
        In your thoughts, first carefully consider the quality, novelty, and feasibility of the idea you just created. \
        Include any other factors that you think are important in evaluating the idea. Ensure the idea is clear and \
        concise, and the JSON is in the correct format. Do not make things overly complicated. In this attempt, try to \
        refine and improve your idea. Stick to the spirit of the original idea unless there are glaring issues.

        Respond in the same format as before:
        \(format)

        If there is nothing to improve, repeat the previous JSON EXACTLY after the thought and write "I am done" at \
        the end of the thought, before the JSON. ONLY WRITE "I am done" IF YOU ARE MAKING NO MORE CHANGES.
        """
    }

    static let format = """
    THOUGHT:
    <THOUGHT>

    NEW IDEA JSON:
    ```json
    <JSON>
    ```
    """

    static let fields = """
    In <JSON>, give the idea as a JSON object with exactly these fields:
    - "Name": a short descriptor of the idea: lowercase letters, digits and underscores only.
    - "Title": a title for the idea, used when writing the report.
    - "Experiment": an outline of the implementation, e.g. which functions to add or modify, how results are obtained.
    - "Interestingness": an integer rating from 1 to 10 (lowest to highest).
    - "Feasibility": an integer rating from 1 to 10 (lowest to highest).
    - "Novelty": an integer rating from 1 to 10 (lowest to highest).
    """

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
