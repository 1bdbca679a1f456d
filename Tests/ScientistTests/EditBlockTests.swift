import Foundation
import XCTest
@testable import Scientist

final class EditBlockTests: XCTestCase {
    private var directory: TemporaryDirectory!
    private var files: WorkspaceFiles!

    override func setUpWithError() throws {
        directory = try TemporaryDirectory("scientist-edits")
        files = WorkspaceFiles(root: directory.path)
        try "import numpy as np\n\nLR = 0.01\nSTEPS = 100\n\ndef train():\n    for step in range(STEPS):\n        pass\n"
            .write(toFile: directory.file("experiment.py"), atomically: false, encoding: .utf8)
    }

    override func tearDown() { directory?.remove() }

    private func block(_ path: String, _ search: String, _ replace: String) -> String {
        "\(path)\n```python\n<<<<<<< SEARCH\n\(search)=======\n\(replace)>>>>>>> REPLACE\n```\n"
    }

    private func text(_ name: String) throws -> String { try String(contentsOfFile: directory.file(name), encoding: .utf8) }

    func testParsesBlocksWithTheirPathsAndReportsBrokenOnes() {
        let reply = """
        I will raise the learning rate.

        experiment.py
        ```python
        <<<<<<< SEARCH
        LR = 0.01
        =======
        LR = 0.1
        >>>>>>> REPLACE
        ```

        **`notes.txt`**
        ```
        <<<<<<< SEARCH
        =======
        Run 1: LR 0.1
        >>>>>>> REPLACE
        ```

        ```python
        <<<<<<< SEARCH
        STEPS = 100
        =======
        STEPS = 200
        ```
        """
        let parsed = EditBlockParser.parse(reply)
        XCTAssertEqual(parsed.blocks, [
            EditBlock(path: "experiment.py", search: "LR = 0.01\n", replace: "LR = 0.1\n", index: 1),
            EditBlock(path: "notes.txt", search: "", replace: "Run 1: LR 0.1\n", index: 2),
        ])
        XCTAssertEqual(parsed.problems, ["block 3: a SEARCH/REPLACE block without its `>>>>>>> REPLACE` line"])
        XCTAssertEqual(EditBlockParser.parse("No changes this time.\nALL_COMPLETED"), ParsedEdits())
    }

    func testAnExactUniqueMatchIsReplaced() throws {
        let outcome = EditApplier(files: files).apply(EditBlockParser.parse(block("experiment.py", "LR = 0.01\n", "LR = 0.1\n")).blocks)
        XCTAssertEqual(outcome.refusals, [])
        XCTAssertEqual(outcome.changed, ["experiment.py"])
        XCTAssertTrue(try text("experiment.py").contains("LR = 0.1\nSTEPS = 100\n"))
    }

    func testAMatchIgnoringOuterWhitespaceIsUsedOnlyWhenUnique() throws {
        // Indented differently from the file: found by the whitespace-insensitive match, and only there.
        let outcome = EditApplier(files: files).apply(EditBlockParser.parse(block("experiment.py", "  for step in range(STEPS):\n      pass\n",
                                                                                    "    for step in range(STEPS):\n        loss = step\n")).blocks)
        XCTAssertEqual(outcome.refusals, [])
        XCTAssertTrue(try text("experiment.py").contains("        loss = step\n"))

        try "x = 1\nprint(x)\nx = 1\n".write(toFile: directory.file("experiment.py"), atomically: false, encoding: .utf8)
        let twice = EditApplier(files: files).apply(EditBlockParser.parse(block("experiment.py", "   x = 1\n", "x = 2\n")).blocks)
        XCTAssertEqual(twice.changed, [])
        XCTAssertTrue(twice.refusals[0].contains("matches 2 places (lines 1, 3)"), twice.refusals[0])
        XCTAssertEqual(try text("experiment.py"), "x = 1\nprint(x)\nx = 1\n", "a refused block changes nothing")
    }

    func testAnExactMatchFoundTwiceIsRefused() throws {
        try "x = 1\nprint(x)\nx = 1\n".write(toFile: directory.file("experiment.py"), atomically: false, encoding: .utf8)
        let outcome = EditApplier(files: files).apply(EditBlockParser.parse(block("experiment.py", "x = 1\n", "x = 2\n")).blocks)
        XCTAssertEqual(outcome.refusals, ["Block 1 (experiment.py) was not applied: the SEARCH text was found 2 times. Make it unique by including more of the surrounding lines."])
    }

    func testAMissingMatchShowsTheNearestLines() throws {
        let outcome = EditApplier(files: files).apply(EditBlockParser.parse(block("experiment.py", "LR = 0.02\nSTEPS = 100\n", "LR = 1\n")).blocks)
        XCTAssertEqual(outcome.changed, [])
        let message = try XCTUnwrap(outcome.refusals.first)
        XCTAssertTrue(message.contains("the SEARCH text was not found"), message)
        XCTAssertTrue(message.contains("    4 | STEPS = 100"), message)
        XCTAssertTrue(message.contains("    3 | LR = 0.01"), message)
    }

    func testNewFilesAndAppendsNeedAnEmptySearch() throws {
        files = WorkspaceFiles(root: directory.path, editable: ["experiment.py", "notes.txt", "helpers.py"])
        let blocks = EditBlockParser.parse(block("notes.txt", "", "# Notes\n") + block("notes.txt", "", "Run 1 done.\n")
                                           + block("helpers.py", "def f():\n", "def g():\n")).blocks
        let outcome = EditApplier(files: files).apply(blocks)
        XCTAssertEqual(try text("notes.txt"), "# Notes\nRun 1 done.\n")
        XCTAssertEqual(outcome.refusals, ["Block 3 (helpers.py) was not applied: the file does not exist. To create it, leave the SEARCH part empty."])
    }

    func testOnlyEditableFilesInsideTheWorkspaceAreWritten() throws {
        let outside = directory.file("outside.txt")
        try "keep\n".write(toFile: outside, atomically: false, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: directory.file("ws"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: directory.file("ws/plot.py"), withDestinationPath: outside)
        files = WorkspaceFiles(root: directory.file("ws"))
        let blocks = EditBlockParser.parse(block("run.sh", "", "curl evil\n") + block("../outside.txt", "keep\n", "gone\n")
                                           + block("/etc/passwd", "", "x\n") + block("plot.py", "keep\n", "gone\n")
                                           + block("./experiment.py", "", "print(1)\n")).blocks
        let outcome = EditApplier(files: files).apply(blocks)
        XCTAssertEqual(outcome.changed, ["./experiment.py"])
        XCTAssertEqual(outcome.refusals.count, 4)
        XCTAssertTrue(outcome.refusals[0].contains("run.sh is not editable; the files you may edit are experiment.py, notes.txt, plot.py"), outcome.refusals[0])
        XCTAssertTrue(outcome.refusals[1].contains("goes through `..`"), outcome.refusals[1])
        XCTAssertTrue(outcome.refusals[2].contains("is an absolute path"), outcome.refusals[2])
        XCTAssertTrue(outcome.refusals[3].contains("symbolic link"), outcome.refusals[3])
        XCTAssertEqual(try text("outside.txt"), "keep\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.file("ws/run.sh")))
        XCTAssertEqual(try text("ws/experiment.py"), "print(1)\n")
    }

    func testMetricsAreTheMeansAndNonFiniteValuesAreNamed() {
        let good = #"{"sine": {"means": {"val_loss": 0.5, "acc": 1}, "stderrs": {"val_loss": 0.1}}, "abs": {"means": {"val_loss": 2e-3}}}"#
        XCTAssertEqual(try RunMetrics.parse(good, file: "run_1/final_info.json").get().json,
                       #"{"abs":{"val_loss":0.002},"sine":{"acc":1,"val_loss":0.5}}"#)
        let nan = #"{"sine": {"means": {"val_loss": NaN, "train_loss": -Infinity, "acc": 0.5}}}"#
        guard case .failure(let problem) = RunMetrics.parse(nan, file: "run_1/final_info.json") else { return XCTFail("NaN accepted") }
        XCTAssertTrue(problem.description.contains("sine.train_loss is -Infinity, sine.val_loss is NaN"), problem.description)
        for (text, expected) in [("not json", "is not valid JSON"), ("[]", "must be a JSON object"),
                                 (#"{"sine": {"stderrs": {}}}"#, #"dataset "sine" has no "means""#),
                                 (#"{"sine": {"means": {"loss": "low"}}}"#, "sine.means.loss is not a number")] {
            guard case .failure(let problem) = RunMetrics.parse(text, file: "f") else { XCTFail("\(text) accepted"); continue }
            XCTAssertTrue(problem.description.contains(expected), problem.description)
        }
    }

    func testPromptFilesOverrideTheDefaultsAndUnknownPlaceholdersNameTheFile() throws {
        let prompts = directory.file("prompts")
        try FileManager.default.createDirectory(atPath: prompts, withIntermediateDirectories: true)
        try "Run {run} is done: {results}. Next: {next_run}.".write(toFile: prompts + "/run_results.txt", atomically: false, encoding: .utf8)
        let library = try PromptLibrary.load(overrides: [prompts])
        XCTAssertEqual(library.render("run_results", ["run": "2", "results": "{\"a\":1}", "next_run": "3"]), "Run 2 is done: {\"a\":1}. Next: 3.")
        XCTAssertEqual(library.source("run_results"), prompts + "/run_results.txt")
        XCTAssertEqual(library.source("run_failed"), "built-in")

        try "Run {run} used {gpu}.".write(toFile: prompts + "/run_failed.txt", atomically: false, encoding: .utf8)
        guard case .template(let message)? = expectError(ScientistError.self, { try PromptLibrary.load(overrides: [prompts]) }) else { return XCTFail("another error than the one expected") }
        XCTAssertTrue(message.hasPrefix(prompts + "/run_failed.txt: unknown placeholder {gpu}"), message)
        try FileManager.default.removeItem(atPath: prompts + "/run_failed.txt")
        try "x".write(toFile: prompts + "/run_faild.txt", atomically: false, encoding: .utf8)
        guard case .template(let unknown)? = expectError(ScientistError.self, { try PromptLibrary.load(overrides: [prompts]) }) else { return XCTFail("another error than the one expected") }
        XCTAssertTrue(unknown.contains("run_faild.txt: no prompt is called run_faild"), unknown)
    }

    func testEveryShippedPromptUsesOnlyItsPlaceholders() {
        XCTAssertEqual(Set(PromptLibrary.defaults.keys), Set(PromptLibrary.placeholders.keys))
        for (name, text) in PromptLibrary.defaults {
            XCTAssertTrue(PromptLibrary.names(in: text).isSubset(of: PromptLibrary.placeholders[name]!), name)
        }
    }

    func testTemplateSettings() throws {
        let settings = try TemplateSettings.parse("policy = \"gpu\"\ninterpreter = \"/opt/venv/bin/python\"\neditable = [\"experiment.py\", \"model.py\"]\n", source: "t/scientist.toml")
        XCTAssertEqual(settings.policy, "gpu")
        XCTAssertEqual(settings.interpreter, "/opt/venv/bin/python")
        XCTAssertEqual(settings.editable, ["experiment.py", "model.py"])
        for (text, expected) in [("timeout = 3", "timeout: unknown key"), ("interpreter = \"python\"", "absolute path"),
                                 ("editable = [\"../x\", \"experiment.py\"]", "not a relative path"),
                                 ("editable = [\"plot.py\"]", "must include experiment.py")] {
            guard case .template(let message)? = expectError(ScientistError.self, { try TemplateSettings.parse(text, source: "t/scientist.toml") }) else { XCTFail("another error than the one expected"); continue }
            XCTAssertTrue(message.hasPrefix("t/scientist.toml"), message)
            XCTAssertTrue(message.contains(expected), message)
        }
    }

    func testTheProbeAsksAboutEveryTopLevelImport() {
        let code = """
            from __future__ import annotations
            import os, sys as system
            import numpy as np  # arrays
            from scipy.integrate import odeint
            from . import helpers
            import torch.nn.functional as F
            if True:
                import json
            """
        XCTAssertEqual(SoftwareProbe.importedModules(code), ["os", "sys", "numpy", "scipy", "torch", "json"])
    }

    /// git runs with no system or global config and no hooks: a hook in the workspace's .git never runs.
    func testTheWorkspacesGitRunsNoHooks() throws {
        let template = try writeTemplate(in: directory)
        let (workspace, created) = try IdeaWorkspace.prepare(template: template, ideaName: "hooks", prefix: "test",
                                                             results: directory.file("results"), editable: WorkspaceFiles.defaultEditable)
        XCTAssertTrue(created)
        let marker = directory.file("hook-ran")
        let hook = workspace.path + "/.git/hooks/pre-commit"
        try "#!/bin/sh\ntouch \(marker)\n".write(toFile: hook, atomically: false, encoding: .utf8)
        chmod(hook, 0o755)
        try workspace.files.write("experiment.py", "print('changed')\n")
        let before = try workspace.head()
        XCTAssertNotEqual(try workspace.commit(["experiment.py"], message: "edit"), before)
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "the planted pre-commit hook ran")
    }
}
