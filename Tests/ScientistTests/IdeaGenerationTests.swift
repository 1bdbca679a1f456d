import Foundation
import XCTest
@testable import Scientist

final class IdeaGenerationTests: XCTestCase {
    private var lab: ScriptedLab!
    private var directory: TemporaryDirectory!
    private var template: ResearchTemplate!

    override func setUpWithError() throws {
        ignoreSIGPIPE()
        directory = try TemporaryDirectory("scientist-ideas")
        lab = try ScriptedLab()
        template = try writeTemplate(in: directory)
    }

    override func tearDown() {
        lab?.server.stop()
        directory?.remove()
    }

    private func generator(budget: Budget = .unlimited, reflections: Int = 3) throws -> (IdeaGenerator, ModelHarness) {
        let harness = try ModelHarness(server: lab.server, directory: directory, budget: budget)
        return (IdeaGenerator(model: harness.model, store: harness.store, template: template, reflections: reflections,
                              logger: quietLogger()), harness)
    }

    func testIdeasAreRefinedUntilIAmDoneAndArchivedWithTheirCost() throws {
        lab.say(ScriptedLab.idea("sparse_targets", title: "Sparse Targets"), input: 1000, output: 200)
        lab.say(ScriptedLab.idea("sparse_targets", title: "Sparse Targets in Toy Regression"), input: 1500, output: 200)
        lab.say(ScriptedLab.idea("sparse_targets", title: "Sparse Targets in Toy Regression", done: true), input: 2000, output: 200)
        lab.say(ScriptedLab.idea("noisy_labels", title: "Label Noise Robustness", done: true), input: 1000, output: 100)
        let (generator, harness) = try generator()
        let report = try generator.generate(count: 2)

        XCTAssertNil(report.stoppedByBudget)
        XCTAssertEqual(report.archived.map(\.proposal.name), ["sparse_targets", "noisy_labels"])
        XCTAssertEqual(report.archived.map(\.reflections), [2, 0])
        XCTAssertEqual(lab.chatRequests.count, 4, "idea 1: draft + 2 reflections; idea 2: done at once")

        let all = try harness.store.ideas(template: "toy")
        XCTAssertEqual(all.map(\.source), [.seed, .generated, .generated])
        let first = all[1]
        XCTAssertEqual(first.proposal.title, "Sparse Targets in Toy Regression")
        XCTAssertEqual(first.inputTokens, 4500)
        XCTAssertEqual(try XCTUnwrap(first.costUSD), (4500 * 2.5 + 600 * 10) / 1e6, accuracy: 1e-12)

        // The first prompt carries the template's task, code and the seed ideas; reflection continues the
        // conversation; the second idea's prompt shows the first idea as existing.
        let opening = lab.messages(0)
        XCTAssertEqual(opening.first, ["role": "system", "content": "You are a careful ML researcher."])
        let prompt = opening.last?["content"] ?? ""
        XCTAssertTrue(prompt.contains("Study a toy regression task."))
        XCTAssertTrue(prompt.contains("print('experiment')"))
        XCTAssertTrue(prompt.contains("learning_rate_warmup"))
        XCTAssertTrue(lab.messages(1).last?["content"]?.hasPrefix("Round 2/4.") ?? false)
        XCTAssertEqual(lab.messages(2).count, 6, "system + 2 × (prompt, reply) + round 3")
        XCTAssertTrue(lab.messages(3).last?["content"]?.contains("sparse_targets") ?? false)
    }

    func testDuplicatesOfArchivedIdeasAreRejected() throws {
        lab.say(ScriptedLab.idea("warmup_again", title: "Learning-rate warmup for toy regression!", done: true))
        lab.say(ScriptedLab.idea("learning_rate_warmup", title: "Something Else Entirely", done: true))
        lab.say(ScriptedLab.idea("warmup_study", title: "Warmup Learning Rate for Toy Regression Tasks", done: true))
        lab.say(ScriptedLab.idea("weight_decay", title: "Weight Decay Sweeps", done: true))
        let (generator, harness) = try generator()
        let report = try generator.generate(count: 4)
        let rejected = report.outcomes.compactMap { if case let .rejectedDuplicate(name, reason) = $0 { "\(name): \(reason)" } else { nil } }
        XCTAssertEqual(rejected, [
            "warmup_again: same title as archived idea learning_rate_warmup",
            "learning_rate_warmup: the archive already has an idea named learning_rate_warmup",
            "warmup_study: title nearly identical to archived idea learning_rate_warmup (83% of words shared)",
        ])
        XCTAssertEqual(try harness.store.ideas(template: "toy").map(\.proposal.name), ["learning_rate_warmup", "weight_decay"])
    }

    func testMalformedJSONIsRepairedOnceAndAnUnrepairableIdeaFailsWithoutStoppingTheLoop() throws {
        lab.say("THOUGHT: hmm\n```json\n{\"Name\": \"a_idea\", \"Title\": \"A\", \n```")
        lab.say(ScriptedLab.idea("a_idea", title: "A Idea", done: true))
        lab.say(ScriptedLab.idea("b_idea", title: "B", novelty: 0))
        lab.say("I refuse to write JSON.")
        lab.say(ScriptedLab.idea("c_idea", title: "C Idea", done: true))
        let (generator, harness) = try generator()
        let report = try generator.generate(count: 3)
        guard report.outcomes.count == 3, case let .failed(message) = report.outcomes[1] else { return XCTFail("\(report.outcomes)") }
        XCTAssertEqual(message, "ideas: the model's reply was unusable after one repair prompt: the reply contains no JSON object (expected one ```json fenced block)")
        XCTAssertEqual(report.archived.map(\.proposal.name), ["a_idea", "c_idea"])
        XCTAssertTrue(lab.messages(3).last?["content"]?.contains("Novelty is 0, must be 1 to 10") ?? false)
        XCTAssertEqual(try harness.store.usage(by: .stage).first?.calls, 5, "the failed idea's calls still count")
    }

    func testBudgetRunningOutBetweenIdeasStopsCleanlyKeepingEarlierIdeas() throws {
        // Each call really costs ≈ $0.0103 (1000 tokens out); the worst case of the next is ≈ $0.0103–0.0115.
        for _ in 0..<2 { lab.say(ScriptedLab.idea("first_idea", title: "First Idea", done: false), input: 100, output: 1000) }
        lab.say(ScriptedLab.idea("second_idea", title: "Second Idea", done: true), input: 100, output: 1000)
        let (generator, harness) = try generator(budget: Budget(usd: 0.025), reflections: 1)
        let report = try generator.generate(count: 3)
        XCTAssertEqual(report.archived.map(\.proposal.name), ["first_idea"])
        XCTAssertTrue(report.stoppedByBudget?.hasPrefix("budget: the next ideas call could cost up to $0.01") ?? false, "\(String(describing: report.stoppedByBudget))")
        XCTAssertEqual(lab.chatRequests.count, 2, "the third call was never sent")
        XCTAssertLessThanOrEqual(harness.model.ledger.spentUSD, 0.025)
        XCTAssertEqual(try harness.store.ideas(template: "toy").count, 2, "seed + the finished idea")
    }

    func testBudgetRunningOutMidReflectionKeepsTheValidDraft() throws {
        lab.say(ScriptedLab.idea("first_idea", title: "First Idea", done: true), input: 100, output: 1000)
        lab.say(ScriptedLab.idea("second_idea", title: "Second Idea"), input: 100, output: 1000)
        lab.say(ScriptedLab.idea("second_idea", title: "Second Idea Refined", done: true), input: 100, output: 1000)
        let (generator, harness) = try generator(budget: Budget(usd: 0.025), reflections: 3)
        let report = try generator.generate(count: 5)
        XCTAssertEqual(report.archived.map(\.proposal.title), ["First Idea", "Second Idea"])
        XCTAssertEqual(report.archived.last?.reflections, 0)
        XCTAssertNotNil(report.stoppedByBudget)
        XCTAssertEqual(lab.chatRequests.count, 2)
        XCTAssertLessThanOrEqual(harness.model.ledger.spentUSD, 0.025)
    }

    func testDeduplicatorNormalisesTitles() {
        let seed = IdeaProposal(name: "a", title: "Grokking via Weight Decay in Transformers", experiment: "e", interestingness: 1, feasibility: 1, novelty: 1)
        func dup(_ name: String, _ title: String) -> String? {
            IdeaDeduplicator.duplicate(IdeaProposal(name: name, title: title, experiment: "e", interestingness: 1, feasibility: 1, novelty: 1), among: [seed])
        }
        XCTAssertNotNil(dup("A", "x"), "names compare without case")
        XCTAssertNotNil(dup("b", "  GROKKING via weight-decay in transformers. "))
        XCTAssertNotNil(dup("b", "Grokking through Weight Decay for Transformers"), "function words do not count")
        XCTAssertNil(dup("b", "Grokking via Dropout in Transformers"))
        XCTAssertNil(dup("b", "Weight Decay"), "short titles are compared only exactly")
    }

    func testTemplatesOfTheAIScientistLoadAndBrokenOnesAreNamed() throws {
        XCTAssertEqual(template.seedIdeas.map(\.name), ["learning_rate_warmup"])
        XCTAssertEqual(template.missingFiles, ["plot.py", "latex/template.tex"])
        try "[{\"Name\": \"x\"}]".write(toFile: template.directory + "/seed_ideas.json", atomically: false, encoding: .utf8)
        let error = expectError(ScientistError.self) { try ResearchTemplate.load(directory: template.directory) }
        XCTAssertEqual(error?.description, "template: \(template.directory)/seed_ideas.json: missing key 'Title' in '[0]'")
    }

    func testATemplatesPromptFileReplacesTheDefault() throws {
        let prompts = directory.file("toy/prompts")
        try FileManager.default.createDirectory(atPath: prompts, withIntermediateDirectories: true)
        try "Custom prompt. {task} Rounds: {rounds}.".write(toFile: prompts + "/ideas_first.txt", atomically: false, encoding: .utf8)
        lab.say(ScriptedLab.idea("custom_prompt", title: "Custom Prompt", done: true))
        let harness = try ModelHarness(server: lab.server, directory: directory)
        let generator = IdeaGenerator(model: harness.model, store: harness.store, template: template, reflections: 0,
                                      prompts: try PromptLibrary.load(for: template), logger: quietLogger())
        _ = try generator.generate(count: 1)
        XCTAssertEqual(lab.messages(0).last?["content"], "Custom prompt. Study a toy regression task. Rounds: 1.")
    }
}
