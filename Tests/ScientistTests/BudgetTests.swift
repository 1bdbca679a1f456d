import Foundation
import XCTest
@testable import Scientist

final class BudgetTests: XCTestCase {
    private var server: TestHTTPServer?
    private var directory: TemporaryDirectory!

    override func setUpWithError() throws {
        ignoreSIGPIPE()
        directory = try TemporaryDirectory("scientist-budget")
    }

    override func tearDown() {
        server?.stop()
        directory?.remove()
    }

    private func harness(_ script: [TestHTTPServer.Reply], budget: Budget, maxTokens: Int = 1000,
                         price: Price? = Price(inputPerMillion: 2.5, outputPerMillion: 10)) throws -> ModelHarness {
        let server = try TestHTTPServer(script: script)
        self.server = server
        return try ModelHarness(server: server, directory: directory, budget: budget, price: price, maxTokens: maxTokens)
    }

    private let user = [ChatMessage(.user, "Propose an idea.")]

    func testCallWhoseWorstCaseExceedsTheUSDBudgetIsNeverSent() throws {
        // Worst case: ~20 tokens in at $2.5/M + 1000 out at $10/M ≈ $0.01005 > $0.01.
        let h = try harness([Wire.openAI("x")], budget: Budget(usd: 0.01))
        let error = expectError(ScientistError.self) { try h.model.chat(system: "s", messages: user, stage: "ideas") }
        guard case let .budget(.wouldExceedUSD(stage, worst, remaining, limit))? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertEqual(stage, "ideas")
        XCTAssertGreaterThan(worst, 0.01)
        XCTAssertEqual(remaining, 0.01)
        XCTAssertEqual(limit, 0.01)
        XCTAssertEqual(h.server.requests.count, 0, "refused before sending")
    }

    func testBudgetRunsOutAfterActualSpendingAccumulates() throws {
        // Each call really costs 100 in ($0.00025) + 500 out ($0.005) = $0.00525; worst case ≈ $0.01005.
        let h = try harness(Array(repeating: Wire.openAI("x", input: 100, output: 500), count: 5), budget: Budget(usd: 0.025))
        var completed = 0
        do {
            while true {
                _ = try h.model.chat(system: "s", messages: user, stage: "ideas")
                completed += 1
            }
        } catch {
            XCTAssertTrue(error.isBudgetStop, "\(error)")
        }
        // After 2 calls $0.0105 spent, $0.0145 left ≥ worst case: a 3rd; after 3, $0.00925 left < $0.01005: stop.
        XCTAssertEqual(completed, 3)
        XCTAssertEqual(h.server.requests.count, 3)
        XCTAssertEqual(h.model.ledger.spentUSD, 3 * 0.00525, accuracy: 1e-12)
        XCTAssertLessThanOrEqual(h.model.ledger.spentUSD, 0.025)
    }

    func testTokenBudgetCountsWorstCaseTokens() throws {
        let h = try harness(Array(repeating: Wire.openAI("x", input: 50, output: 200), count: 5), budget: Budget(tokens: 800), maxTokens: 300)
        // Worst case per call: 22 estimated tokens in + 300 out = 322; actual use 250 a call.
        _ = try h.model.chat(system: "s", messages: user, stage: "novelty")  // 0 + 322 <= 800
        _ = try h.model.chat(system: "s", messages: user, stage: "novelty")  // 250 + 322 <= 800
        let error = expectError(ScientistError.self) { try h.model.chat(system: "s", messages: user, stage: "novelty") }
        // 500 + 322 > 800
        guard case .budget(.wouldExceedTokens(_, 322, let remaining, 800))? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertEqual(remaining, 300)
        XCTAssertEqual(h.server.requests.count, 2)
    }

    func testUsageIsStoredAndSummedPerStageIdeaAndLaunch() throws {
        let h = try harness([Wire.openAI("a", input: 1000, output: 100), Wire.openAI("b", input: 2000, output: 300),
                             Wire.openAI("c", input: 10, output: 10)], budget: .unlimited)
        let first = try h.model.chat(system: "s", messages: user, stage: "ideas")
        _ = try h.model.chat(system: "s", messages: user, stage: "ideas")
        _ = try h.model.chat(system: "s", messages: user, stage: "novelty")
        let idea = try h.store.insertIdea(IdeaProposal(name: "x", title: "X", experiment: "e", interestingness: 1, feasibility: 1, novelty: 1),
                                          template: "t", source: .generated, launchID: h.launchID, reflections: 0)
        try h.store.assignCalls([first.callID], toIdea: idea)

        let byStage = try h.store.usage(by: .stage)
        XCTAssertEqual(byStage.map(\.key), ["ideas", "novelty"])
        XCTAssertEqual(byStage[0].inputTokens, 3000)
        XCTAssertEqual(byStage[0].outputTokens, 400)
        XCTAssertEqual(byStage[0].costUSD, (3000 * 2.5 + 400 * 10) / 1e6, accuracy: 1e-12)
        let byLaunch = try h.store.usage(by: .launch, launchID: h.launchID)
        XCTAssertEqual(byLaunch.count, 1)
        XCTAssertEqual(byLaunch[0].calls, 3)
        XCTAssertEqual(byLaunch[0].costUSD, h.model.ledger.spentUSD, accuracy: 1e-12)
        let archived = try XCTUnwrap(try h.store.idea(named: "x", template: "t"))
        XCTAssertEqual(try XCTUnwrap(archived.costUSD), (1000 * 2.5 + 100 * 10) / 1e6, accuracy: 1e-12)
        XCTAssertEqual(archived.inputTokens, 1000)
    }

    func testUnusableReplyIsChargedAtItsWorstCase() throws {
        let h = try harness([.text("<html>oops</html>")], budget: .unlimited, maxTokens: 400)
        _ = expectError(ScientistError.self) { try h.model.chat(system: "s", messages: user, stage: "ideas") }
        let total = try XCTUnwrap(try h.store.usage(by: .stage).first)
        XCTAssertEqual(total.outputTokens, 400)
        XCTAssertGreaterThan(total.inputTokens, 0)
    }

    func testUnknownModelWithAUSDBudgetIsRefusedButATokenBudgetWorks() throws {
        let store = try ScientistStore(path: directory.file("s.db"))
        XCTAssertThrowsError(try UsageLedger(budget: Budget(usd: 1), price: nil, provider: .openai, model: "my-local-llama",
                                             launchID: nil, store: store)) { error in
            XCTAssertTrue("\(error)".contains("[prices.\"my-local-llama\"]"), "\(error)")
        }
        XCTAssertNoThrow(try UsageLedger(budget: Budget(tokens: 100), price: nil, provider: .openai, model: "my-local-llama",
                                         launchID: nil, store: store))
    }

    func testPricesMatchExactlyThenByLongestPrefixAndConfigWins() {
        XCTAssertEqual(PriceTable.price(for: "gpt-4o-mini")?.inputPerMillion, 0.15)
        XCTAssertEqual(PriceTable.price(for: "gpt-4o-2024-08-06")?.inputPerMillion, 2.5)
        XCTAssertEqual(PriceTable.price(for: "gpt-4o-mini-2024-07-18")?.inputPerMillion, 0.15)
        XCTAssertEqual(PriceTable.price(for: "claude-sonnet-4-20250514")?.outputPerMillion, 15)
        XCTAssertNil(PriceTable.price(for: "gpt-4"), "no entry is a prefix without a dash boundary")
        XCTAssertNil(PriceTable.price(for: "anthropic/claude-3.5-sonnet"))
        let mine = Price(inputPerMillion: 1, outputPerMillion: 2)
        XCTAssertEqual(PriceTable.price(for: "gpt-4o", overrides: ["gpt-4o": mine]), mine)
        XCTAssertEqual(Price(inputPerMillion: 3, outputPerMillion: 15).cost(input: 1_000_000, output: 100_000), 4.5)
    }

    func testAModelCallThatTimesOutIsNotRepeatedAndIsChargedAtItsWorstCase() throws {
        let server = try TestHTTPServer(script: [.stall(limit: .seconds(10)), Wire.openAI("late")])
        self.server = server
        let h = try ModelHarness(server: server, directory: directory, budget: Budget(usd: 1), maxTokens: 500,
                                 attempts: 3, timeout: .milliseconds(300))
        let error = expectError(ScientistError.self) { try h.model.chat(system: "s", messages: user, stage: "ideas") }
        guard case .model(.noReply)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertTrue(error?.description.contains("may still have been billed") ?? false)
        XCTAssertEqual(server.requests.count, 1, "not sent again")
        let total = try XCTUnwrap(try h.store.usage(by: .stage).first)
        XCTAssertEqual(total.outputTokens, 500)
        XCTAssertEqual(h.model.ledger.spentUSD, Price(inputPerMillion: 2.5, outputPerMillion: 10).cost(input: total.inputTokens, output: 500), accuracy: 1e-12)
    }
}
