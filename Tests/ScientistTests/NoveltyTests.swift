import Foundation
import XCTest
@testable import Scientist

final class NoveltyTests: XCTestCase {
    private var lab: ScriptedLab!
    private var directory: TemporaryDirectory!
    private var template: ResearchTemplate!

    override func setUpWithError() throws {
        ignoreSIGPIPE()
        directory = try TemporaryDirectory("scientist-novelty")
        lab = try ScriptedLab()
        template = try writeTemplate(in: directory)
    }

    override func tearDown() {
        lab?.server.stop()
        directory?.remove()
    }

    private func checker(rounds: Int = 10, budget: Budget = .unlimited) throws -> (NoveltyChecker, ModelHarness, ArchivedIdea) {
        let harness = try ModelHarness(server: lab.server, directory: directory, budget: budget)
        let id = try harness.store.insertIdea(IdeaProposal(name: "sparse_targets", title: "Sparse Targets", experiment: "Try it.",
                                                           interestingness: 6, feasibility: 7, novelty: 8),
                                              template: "toy", source: .generated, launchID: harness.launchID, reflections: 0)
        let idea = try XCTUnwrap(try harness.store.idea(id: id))
        let http = HTTPClient(configuration: .init(totalTimeout: .seconds(5), retry: SleepRecorder().policy(maxAttempts: 2)), logger: quietLogger())
        let s2 = SemanticScholarSearch(baseURL: lab.server.baseURL, key: nil, http: http, pacer: RequestPacer(interval: .zero))
        let checker = NoveltyChecker(model: harness.model, literature: CachedLiteratureSearch(upstream: s2, store: harness.store),
                                     store: harness.store, template: template, rounds: rounds, resultsPerQuery: 5, logger: quietLogger())
        return (checker, harness, idea)
    }

    func testQueriesAreSearchedShownAndEveryPaperAndTheDecisionAreKept() throws {
        lab.say(ScriptedLab.query("sparse regression targets"))
        lab.find(LiteratureWire.semanticScholar([("p1", "Sparse Targets for Regression"), ("p2", "Dense Targets")]))
        lab.say(ScriptedLab.query("target sparsity toy models"))
        lab.find(LiteratureWire.semanticScholar([("p3", "Target Sparsity")]))
        lab.say(ScriptedLab.decision("not novel", "p1 does exactly this."))
        let (checker, harness, idea) = try checker()
        let outcome = try checker.check(idea)

        XCTAssertEqual(outcome.decision, .notNovel)
        XCTAssertEqual(outcome.reasons, "p1 does exactly this.")
        XCTAssertEqual(outcome.roundsUsed, 3)
        XCTAssertEqual(lab.literatureRequests.map { $0.query["query"] }, ["sparse regression targets", "target sparsity toy models"])
        XCTAssertEqual(lab.literatureRequests.first?.query["limit"], "5")

        // The model saw the first results, formatted, in round 2; the conversation accumulates.
        let round2 = lab.messages(1)
        XCTAssertEqual(round2.count, 4, "system, round 1, reply, round 2")
        let shown = round2.last?["content"] ?? ""
        XCTAssertTrue(shown.hasPrefix("Round 2/10."), shown)
        XCTAssertTrue(shown.contains("1: Sparse Targets for Regression. Ada Lovelace, Alan Turing. NeurIPS, 2020.\nNumber of citations: 10\nAbstract: Abstract of Sparse Targets for Regression."), shown)

        let check = try XCTUnwrap(try harness.store.noveltyChecks(ideaID: idea.id).first)
        XCTAssertEqual(check.decision, .notNovel)
        XCTAssertEqual(check.reasons, "p1 does exactly this.")
        XCTAssertEqual(check.rounds.map(\.query), ["sparse regression targets", "target sparsity toy models", nil])
        XCTAssertEqual(check.rounds.map { $0.papers.map(\.title) }, [["Sparse Targets for Regression", "Dense Targets"], ["Target Sparsity"], []])
        XCTAssertEqual(check.rounds[0].papers[0].bibtex, "@inproceedings{p1,\n title={Sparse Targets for Regression}\n}")
        XCTAssertEqual(try harness.store.idea(id: idea.id)?.novelty, .notNovel)
        XCTAssertEqual(try harness.store.idea(id: idea.id)?.inputTokens, 300, "the check's calls are the idea's")
    }

    func testRunningOutOfRoundsIsUndecidedAndARepeatedQueryComesFromTheCache() throws {
        lab.say(ScriptedLab.query("sparse targets"))
        lab.find(LiteratureWire.semanticScholar([("p1", "A")]))
        lab.say(ScriptedLab.query("Sparse   Targets"))
        let (checker, harness, idea) = try checker(rounds: 2)
        let outcome = try checker.check(idea)
        XCTAssertEqual(outcome.decision, .undecided)
        XCTAssertEqual(outcome.reasons, "no decision after 2 rounds")
        XCTAssertEqual(lab.literatureRequests.count, 1)
        XCTAssertEqual(try harness.store.noveltyChecks(ideaID: idea.id).first?.rounds.map { $0.papers.count }, [1, 1])
    }

    func testLiteratureFailureEndsTheCheckAsFailedWithTheReason() throws {
        lab.say(ScriptedLab.query("q"))
        lab.find(.text("boom", status: 500))
        lab.find(.text("boom", status: 500))
        let (checker, harness, idea) = try checker()
        let outcome = try checker.check(idea)
        XCTAssertEqual(outcome.decision, .failed)
        XCTAssertTrue(outcome.reasons.contains("HTTP 500 (after 2 attempts): boom"), outcome.reasons)
        XCTAssertEqual(try harness.store.idea(id: idea.id)?.novelty, .failed)
    }

    func testAReplyWithBothQueryAndDecisionIsRepairedOnce() throws {
        lab.say(Wire.fenced("t", ["Thought": "x", "Query": "q", "Decision": "novel", "Reasons": "r"]))
        lab.say(ScriptedLab.decision("novel", "Nothing close in the literature."))
        let (checker, _, idea) = try checker()
        XCTAssertEqual(try checker.check(idea).decision, .novel)
        XCTAssertTrue(lab.messages(1).last?["content"]?.contains("give Query or Decision, not both") ?? false)
    }

    func testBudgetStopDuringACheckIsRecordedAndPassedOn() throws {
        lab.say(ScriptedLab.query("q"), input: 100, output: 1000)
        lab.find(LiteratureWire.semanticScholar([("p1", "A")]))
        let (checker, harness, idea) = try checker(budget: Budget(usd: 0.015))
        let error = expectError(ScientistError.self) { try checker.check(idea) }
        XCTAssertTrue(error?.isBudgetStop ?? false)
        let check = try XCTUnwrap(try harness.store.noveltyChecks(ideaID: idea.id).first)
        XCTAssertEqual(check.decision, .failed)
        XCTAssertEqual(check.rounds.count, 1, "the completed round is kept")
        XCTAssertTrue(check.reasons?.hasPrefix("round 2: budget:") ?? false, check.reasons ?? "")
    }
}
