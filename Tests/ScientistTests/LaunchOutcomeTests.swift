import Testing
@testable import Scientist

/// What a resumed launch takes up again: a write-up or review that stopped short, never one that ran to its
/// end, even when its paper did not compile (the same replies would only write it again).
struct LaunchOutcomeTests {
    static func paper(_ status: String, pdf: String? = nil) -> PaperRow {
        PaperRow(id: 1, ideaID: 1, experimentID: 1, launchID: 1, directory: "/w/latex", startedAt: 0, finishedAt: 1, status: status,
                 baseCommit: "abc", pdf: pdf, recordSHA256: nil, message: nil)
    }

    @Test(arguments: [
        ("compiled", true), ("compiled with problems", true), ("not compiled", true),
        ("writing", false), ("interrupted", false), ("failed", false), ("budget exhausted", false),
    ])
    func aWriteUpRanToItsEndOrNot(status: String, ended: Bool) {
        #expect(Self.paper(status).ranToItsEnd == ended)
    }

    @Test(arguments: [
        ("compiled", false), ("not compiled", false), ("Accept, overall 7/10", false), ("compiled before", false),
        ("failed: the model refused", true), ("interrupted", true), ("stopped: the budget of $1.00 is spent", true),
    ])
    func onlyWhatStoppedShortIsLeftForResume(outcome: String, resumed: Bool) {
        #expect(LaunchPipeline.stoppedShort(outcome) == resumed)
    }
}
