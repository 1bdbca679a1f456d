import Foundation
import XCTest
@testable import Scientist

final class JSONReplyTests: XCTestCase {
    private var server: TestHTTPServer?
    private var directory: TemporaryDirectory!

    override func setUpWithError() throws {
        ignoreSIGPIPE()
        directory = try TemporaryDirectory("scientist-json")
    }

    override func tearDown() {
        server?.stop()
        directory?.remove()
    }

    private let good: [String: Any] = ["Name": "sparse_probe", "Title": "Sparse probes", "Experiment": "Train probes.",
                                       "Interestingness": 7, "Feasibility": 8, "Novelty": 6]

    func testExtractsTheFencedBlockOrABareObject() throws {
        let fenced = Wire.fenced("I think.", good)
        XCTAssertEqual(try JSONReply.decode(IdeaProposal.self, from: fenced).get().name, "sparse_probe")
        XCTAssertEqual(try JSONReply.decode(IdeaProposal.self, from: #"Sure: {"Name":"a","Title":"T","Experiment":"E","Interestingness":1,"Feasibility":10,"Novelty":5} done"#).get().feasibility, 10)
    }

    func testStrictDecodingNamesWhatIsWrong() {
        func problem(_ text: String) -> String? {
            if case let .failure(p) = JSONReply.decode(IdeaProposal.self, from: text) { return p.message }
            return nil
        }
        var stringScore = good
        stringScore["Novelty"] = "6"
        XCTAssertEqual(problem(Wire.fenced("t", stringScore)), "the JSON could not be read: 'Novelty' is not an integer")
        var missing = good
        missing.removeValue(forKey: "Experiment")
        XCTAssertEqual(problem(Wire.fenced("t", missing)), "the JSON could not be read: missing key 'Experiment'")
        var outOfRange = good
        outOfRange["Novelty"] = 11
        outOfRange["Feasibility"] = 0
        XCTAssertEqual(problem(Wire.fenced("t", outOfRange)), "Feasibility is 0, must be 1 to 10; Novelty is 11, must be 1 to 10")
        var badName = good
        badName["Name"] = "Sparse Probe!"
        XCTAssertNil(problem(Wire.fenced("t", badName)), "a Name that is not an identifier is made one (sparse_probe)")
        XCTAssertEqual(problem("no json here"), "the reply contains no JSON object (expected one ```json fenced block)")
        XCTAssertEqual(problem("```json\n{}\n```\n```json\n{}\n```"), "the reply has 2 ```json blocks; exactly one is expected")
        XCTAssertEqual(problem("```json\n{\"Name\": \"a\",\n```"), "the JSON could not be read: not valid JSON")
    }

    func testMalformedJSONGetsOneRepairPromptQuotingTheProblem() throws {
        let server = try TestHTTPServer(script: [Wire.openAI("```json\n{\"Name\": \"sparse_probe\", \"Title\": \n```"),
                                                 Wire.openAI(Wire.fenced("fixed", good))])
        self.server = server
        let h = try ModelHarness(server: server, directory: directory)
        let answer = try h.model.ask(IdeaProposal.self, system: "s", messages: [ChatMessage(.user, "idea please")], stage: "ideas")
        XCTAssertEqual(answer.value.name, "sparse_probe")
        XCTAssertEqual(answer.callIDs.count, 2)
        XCTAssertEqual(answer.messages.count, 4, "user, bad reply, repair prompt, good reply")
        let repair = try XCTUnwrap(server.requests.last?.json?["messages"] as? [[String: String]])
        XCTAssertEqual(repair.count, 4, "system, user, assistant, repair")
        XCTAssertEqual(repair[2]["role"], "assistant")
        XCTAssertTrue(repair[3]["content"]?.contains("could not be used: the JSON could not be read: not valid JSON") ?? false,
                      repair[3]["content"] ?? "")
    }

    func testASecondUnusableReplyFailsTheStepClearly() throws {
        var bad = good
        bad["Interestingness"] = 42
        let server = try TestHTTPServer(script: [Wire.openAI(Wire.fenced("a", bad)), Wire.openAI("still not json"), Wire.openAI("unused")])
        self.server = server
        let h = try ModelHarness(server: server, directory: directory)
        let error = expectError(ScientistError.self) {
            try h.model.ask(IdeaProposal.self, system: "s", messages: [ChatMessage(.user, "idea")], stage: "ideas")
        }
        XCTAssertEqual(error?.description, "ideas: the model's reply was unusable after one repair prompt: the reply contains no JSON object (expected one ```json fenced block)")
        XCTAssertEqual(server.requests.count, 2, "exactly one repair attempt")
        let repair = try XCTUnwrap(server.requests.last?.json?["messages"] as? [[String: String]])
        XCTAssertTrue(repair.last?["content"]?.contains("Interestingness is 42, must be 1 to 10") ?? false)
    }
}
