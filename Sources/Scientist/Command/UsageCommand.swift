import ArgumentParser
import Foundation
import Scientist

struct UsageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "usage",
        abstract: "Tokens and cost of the model calls in the archive, by stage, idea, paper or launch.",
        discussion: """
        By paper: every call of an idea that has a compiled paper, from its drafting to the paper's review, which \
        is what the paper cost (the AI Scientist reports "less than $15 per paper").

        Example: scientist usage --by paper --launch 7
        """)

    @OptionGroup var common: CommonOptions

    @Option(help: "stage, idea, paper or launch (default: all four).")
    var by: [ScientistStore.UsageGrouping] = []

    @Option(help: "Only the calls of this launch.")
    var launch: Int64?

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func run() throws {
        try reporting {
            let store = try common.store()
            let groupings = by.isEmpty ? ScientistStore.UsageGrouping.allCases : by
            var tables: [String: [UsageTotal]] = [:]
            for grouping in groupings { tables[grouping.rawValue] = try store.usage(by: grouping, launchID: launch) }
            if json {
                var launches: [LaunchRecord] = []
                if groupings.contains(.launch) { launches = try store.launches() }
                return try JSONOutput.print(UsageReport(usage: tables, launches: launches))
            }
            for grouping in groupings {
                print("by \(grouping.rawValue):")
                print(IdeaText.usage(tables[grouping.rawValue] ?? []))
            }
        }
    }
}

struct UsageReport: Encodable {
    let usage: [String: [UsageTotal]]
    let launches: [LaunchRecord]
}

extension ScientistStore.UsageGrouping: ExpressibleByArgument {}
