import Foundation

/// The scientist's prompts, every stage's (ideas, novelty, experiments, plots): text with named placeholders
/// (`{run}`), so the workflow can be changed without touching Swift. The shipped defaults are below; a template's `prompts/NAME.txt`, and then the user's
/// `~/.config/glovebox/prompts/NAME.txt`, replace them. An unknown prompt name or placeholder in a file is an
/// error that names the file.
public struct PromptLibrary: Sendable {
    /// name → (text, where it came from)
    private var texts: [String: (text: String, source: String)]

    /// Every prompt, with the placeholders each may use.
    public static let placeholders: [String: Set<String>] = [
        "ideas_first": ["task", "code", "archive", "rounds"],
        "ideas_reflection": ["round", "rounds"],
        "novelty_system": ["task", "code", "engine", "results_per_query", "rounds"],
        "novelty_round": ["round", "rounds", "idea", "results"],
        "experiment_system": ["editable_files"],
        "experiment_start": ["title", "idea", "max_runs", "baseline_results", "command", "editable_files", "files"],
        "experiment_resume": ["title", "idea", "max_runs", "baseline_results", "command", "editable_files", "files", "history", "next_run"],
        "run_results": ["run", "results", "next_run", "max_runs", "command"],
        "run_failed": ["run", "facts", "stderr", "attempt", "max_attempts", "command"],
        "edits_refused": ["problems", "applied"],
        "no_edits": ["next_run", "command"],
        "runs_exhausted": ["max_runs"],
        "plot_start": ["runs", "command", "plot_code"],
        "plot_failed": ["facts", "stderr", "attempt", "max_attempts", "command"],
        "plot_notes": ["figures"],
    ]

    public static let defaults: [String: String] = [
        "ideas_first": """
            {task}
            <experiment.py>
            {code}
            </experiment.py>

            Ideas already in the archive (propose none of them again, nor their names or titles):

            '''
            {archive}
            '''

            Propose the next research idea to test with this code: one that could change what people believe or do, \
            and that this code, with reasonable changes, can actually test. No new datasets or outside resources \
            are available. Prefer questions whose answer would hold beyond this particular model and data.

            Answer in this form:
            THOUGHT:
            <THOUGHT>

            NEW IDEA JSON:
            ```json
            <JSON>
            ```

            In <THOUGHT>, explain why the idea matters, how you would test it (the changes and the comparisons), what \
            result would support it, and how it differs from the ideas above.

            <JSON> is one object with exactly these fields:
            - "Name": a short identifier for the idea: lowercase letters, digits and underscores.
            - "Title": the idea's title, as for a paper.
            - "Experiment": the plan: which parts of the code change, and what is measured and compared.
            - "Interestingness", "Feasibility", "Novelty": integers from 1 (lowest) to 10 (highest). Rate soberly.

            The JSON is read by a program, so keep its format exact. You have {rounds} rounds to improve the idea; \
            you need not use them all.
            """,
        "ideas_reflection": """
            Round {round}/{rounds}.
            Look again at the idea you just proposed: is it important, new, feasible with this code, clear and no \
            more complicated than it must be? Improve it where it falls short, keeping its spirit unless something \
            is clearly wrong, and check that the JSON is exact.

            Answer in the same form as before (THOUGHT, then the JSON block). If nothing needs to change, repeat the \
            JSON unchanged and end your THOUGHT with "I am done". Write "I am done" only when you change nothing.
            """,
        "novelty_system": """
            You review research ideas for novelty, strictly: an idea is novel only if no published work already \
            makes its contribution or comes close enough that a new conference or workshop paper on it would add \
            little.
            You can search the literature through {engine}: each query shows you its top {results_per_query} \
            results with their abstracts. You have up to {rounds} rounds and may decide in any of them. Decide \
            "novel" when enough searching found nothing that overlaps much with the idea; decide "not novel" as \
            soon as you find a paper that does.

            The research setting:
            {task}
            <experiment.py>
            {code}
            </experiment.py>
            """,
        "novelty_round": """
            Round {round}/{rounds}.
            The idea:

            \"\"\"
            {idea}
            \"\"\"

            What your last query found (nothing yet in the first round):
            \"\"\"
            {results}
            \"\"\"

            Reason briefly, then give exactly one JSON block. To search:
            ```json
            {"Thought": "<your reasoning>", "Query": "<the search query>"}
            ```
            or, when you are sure:
            ```json
            {"Thought": "<your reasoning>", "Decision": "novel" or "not novel", "Reasons": "<why, naming the papers that decided it>"}
            ```
            Never both Query and Decision. A program reads the JSON, so keep its format exact.
            """,
        "experiment_system": """
            You carry out ML experiments by changing their code. Files change only through SEARCH/REPLACE \
            blocks: the file's path on its own line, then a fenced block:

            experiment.py
            ```python
            <<<<<<< SEARCH
            the exact lines the file holds now
            =======
            the lines that replace them
            >>>>>>> REPLACE
            ```

            The SEARCH part must match the file exactly and only once; quote enough lines to make it unique. An empty \
            SEARCH part creates a new file or appends to an existing one. You may edit only these files: {editable_files}. \
            Your code runs in a sandbox with no network, fixed time and memory limits, and no way to change them.
            """,
        "experiment_start": """
            The idea to test: {title}.
            What the experiment should do: {idea}

            You have at most {max_runs} runs for it; stop earlier when the question is answered. Begin with a short plan: \
            which change each run makes (for a sweep, the value each run tries).

            The baseline (run 0, the unchanged code) has already run. Its results:

            {baseline_results}

            After each change of yours, the experiment runs as `{command}`, with i the run's number, and you are shown \
            its results. The command line is fixed: the code must not need any other argument.

            The files you may edit ({editable_files}) hold:

            {files}
            """,
        "experiment_resume": """
            The idea to test: {title}.
            What the experiment should do: {idea}

            You have at most {max_runs} runs in all. The work was interrupted and now goes on; the runs so far:

            {history}

            The baseline (run 0) results:

            {baseline_results}

            Run {next_run} is next; it runs as `{command}`. The files you may edit ({editable_files}) hold now:

            {files}
            """,
        "run_results": """
            Run {run} finished. Its results:
            {results}

            If they change your plan, say how. Record in notes.txt what run {run} changed and what it found, in enough \
            detail for someone who will write the paper from those notes alone.

            Then make the change for run {next_run} (of at most {max_runs}), which runs as `{command}`. If the \
            experiments are done, reply with ALL_COMPLETED instead.
            """,
        "run_failed": """
            Run {run} failed (attempt {attempt} of {max_attempts} in a row). {facts}

            The last part of its standard error:
            {stderr}

            Fix the cause with SEARCH/REPLACE blocks; the run will then be retried as `{command}`.
            """,
        "edits_refused": """
            Some of your SEARCH/REPLACE blocks were not applied:

            {problems}

            {applied}
            Send corrected blocks for the ones that failed. Nothing runs until your changes apply.
            """,
        "no_edits": """
            Your reply held no SEARCH/REPLACE block, so nothing changed and nothing ran. To run the next experiment \
            (run {next_run}, as `{command}`), change the files with SEARCH/REPLACE blocks. If all experiments are done, \
            respond with 'ALL_COMPLETED'.
            """,
        "runs_exhausted": """
            All {max_runs} runs have been used; the experiments are over.
            """,
        "plot_start": """
            The experiments are over. The runs with results are: {runs}.

            Now change plot.py so that it draws the figures a paper about them needs, with a legend entry for each \
            run that belongs in it (in many templates, the `labels` dictionary names them). It runs as `{command}` \
            in the workspace and must write its figures there, as PNG, PDF or SVG files. plot.py holds:

            {plot_code}
            """,
        "plot_failed": """
            plot.py failed (attempt {attempt} of {max_attempts}). {facts}

            The last part of its standard error:
            {stderr}

            Fix plot.py with SEARCH/REPLACE blocks; it will then run again as `{command}`.
            """,
        "plot_notes": """
            plot.py ran and wrote these figures: {figures}.

            Add to notes.txt, for each figure, its file name and a description of what it shows and what it tells \
            about the experiments, in enough detail to write the paper's figure captions from.
            """,
    ]

    public init() {
        texts = Self.defaults.mapValues { ($0, "built-in") }
    }

    /// The defaults, overridden by each of `directories` in turn (later ones win): each may hold NAME.txt files.
    public static func load(overrides directories: [String]) throws(ScientistError) -> PromptLibrary {
        var library = PromptLibrary()
        for directory in directories {
            guard let entries = try? FileManager.default.contentsOfDirectory(atPath: directory) else { continue }
            for entry in entries.sorted() where entry.hasSuffix(".txt") {
                let path = directory + "/" + entry
                let name = String(entry.dropLast(4))
                guard let allowed = placeholders[name] else {
                    throw .template("\(path): no prompt is called \(name) (the prompts are \(placeholders.keys.sorted().joined(separator: ", ")))")
                }
                guard let data = FileManager.default.contents(atPath: path) else { throw .template("\(path): cannot read the file") }
                let text = String(decoding: data, as: UTF8.self)
                for used in Self.names(in: text) where !allowed.contains(used) {
                    throw .template("\(path): unknown placeholder {\(used)} (\(name) may use \(allowed.sorted().map { "{\($0)}" }.joined(separator: ", ")))")
                }
                library.texts[name] = (text, path)
            }
        }
        return library
    }

    /// The prompt `name` with its placeholders filled. `values` must cover every placeholder the text uses.
    public func render(_ name: String, _ values: [String: String]) -> String {
        guard let entry = texts[name] else { preconditionFailure("unknown prompt \(name)") }
        var output = ""
        var rest = Substring(entry.text)
        while let open = rest.firstIndex(of: "{") {
            output += rest[..<open]
            let after = rest[rest.index(after: open)...]
            if let close = after.firstIndex(of: "}"), Self.isName(after[..<close]), let value = values[String(after[..<close])] {
                output += value
                rest = after[after.index(after: close)...]
            } else {
                output += "{"
                rest = after
            }
        }
        output += rest
        return output
    }

    /// Where the prompt `name` came from: "built-in" or a file's path.
    public func source(_ name: String) -> String { texts[name]?.source ?? "built-in" }

    static func isName(_ text: Substring) -> Bool {
        !text.isEmpty && text.allSatisfy { $0 == "_" || ($0.isASCII && ($0.isLowercase || $0.isNumber)) }
    }

    /// The `{placeholder}` names a text uses (braces around anything else, as in code, are left alone).
    static func names(in text: String) -> Set<String> {
        var found: Set<String> = []
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{") {
            let after = rest[rest.index(after: open)...]
            if let close = after.firstIndex(of: "}"), isName(after[..<close]) { found.insert(String(after[..<close])) }
            rest = after
        }
        return found
    }
}
